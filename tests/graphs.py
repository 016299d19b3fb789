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
