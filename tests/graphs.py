"""Graphs the tests build again and again, made in one place."""

from __future__ import annotations

from pathlib import Path

from studio.graph import Graph, NodeRegistry


def text_to_video(registry: NodeRegistry, model_dir: Path | str, *, frames: int = 9, size: int = 32,
                  steps: int = 3, seed: int = 1, fps: float = 8.0, prompt: str = "a red circle moves left",
                  preview: bool = True) -> Graph:
    """Load Model -> Text -> Generate Video -> Preview, with ids model, text, generate, preview."""
    g = Graph()
    g.add_node(registry.get("studio.LoadModel"), "model", params={"source": str(model_dir)})
    g.add_node(registry.get("studio.Text"), "text", params={"prompt": prompt})
    g.add_node(registry.get("studio.GenerateVideo"), "generate",
               params={"num_frames": frames, "width": size, "height": size, "steps": steps, "seed": seed,
                       "fps": fps, "preview": preview})
    g.add_node(registry.get("studio.Preview"), "preview")
    g.connect("model", "model", "generate", "model")
    g.connect("text", "prompt", "generate", "prompt")
    g.connect("generate", "video", "preview", "video")
    return g


def sequence_graph(registry: NodeRegistry, model_dir: Path | str, rows: list[dict], *, preview: bool = False,
                   character: Path | None = None) -> Graph:
    """Load Model -> Shot List (``rows``) -> Generate Sequence (32x32, 8 fps, 2 steps) -> Preview, with ids
    model, shots, sequence, preview; ``character``: a picture on the Shot List's character a."""
    g = Graph()
    g.add_node(registry.get("studio.LoadModel"), "model", params={"source": str(model_dir)})
    g.add_node(registry.get("studio.ShotList"), "shots", params={"shots": rows})
    g.add_node(registry.get("studio.GenerateSequence"), "sequence",
               params={"width": 32, "height": 32, "fps": 8.0, "steps": 2, "preview": preview})
    g.add_node(registry.get("studio.Preview"), "preview")
    g.connect("model", "model", "sequence", "model")
    g.connect("shots", "shots", "sequence", "shots")
    g.connect("sequence", "video", "preview", "video")
    if character is not None:
        g.add_node(registry.get("studio.ReferenceImage"), "picture", params={"path": str(character)})
        g.connect("picture", "image", "shots", "character_a")
    return g
