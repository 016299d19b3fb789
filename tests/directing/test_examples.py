"""The shipped example graphs: they load, validate and render, and on the embedded model each one obeys its own
prompts at full and at draft settings, the draft showing what the final will (same seed: object, colour,
position, motion). Measured with the embedded world's own evaluator (studio.embedded.analysis)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.engine import Engine, NodeWarning
from studio.engine.engine import draft_copy
from studio.graph import NodeRegistry, load_graph, loads, validate

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
TINY = {"width": 32, "height": 32, "steps": 4, "fps": 8.0, "preview": False}  # 4: a guide at 0.25 runs 1
NAMES = ("first-clip", "prompt-schedule", "camera-move", "beat-zoom")


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


def copy_example(name: str, folder: Path) -> Path:
    graph_file = folder / f"{name}.studio.json"
    shutil.copy(EXAMPLES / f"{name}.studio.json", graph_file)
    shutil.copy(EXAMPLES / "song.ogg", folder / "song.ogg")  # the song the examples ship with
    return graph_file


def without_signed_export(graph) -> None:
    if "export" in graph.nodes:
        graph.set_param("export", "sign", False)
        graph.set_param("export", "watermark", False)


@pytest.mark.parametrize("name", NAMES)
def test_examples_are_the_current_format_and_validate(registry, name):
    from studio.graph.fileformat import FORMAT_VERSION

    assert json.loads((EXAMPLES / f"{name}.studio.json").read_text())["version"] == FORMAT_VERSION
    assert validate(load_graph(EXAMPLES / f"{name}.studio.json", registry), registry) == []


@pytest.mark.parametrize("name, frames", [
    pytest.param("camera-move", 9, marks=pytest.mark.slow),  # its nodes are covered in test_render
    pytest.param("prompt-schedule", 17, marks=pytest.mark.slow),
    pytest.param("beat-zoom", 0, marks=pytest.mark.slow),  # audio, signal and camera covered in test_render
])
def test_example_renders(registry, tiny_ti2v, tmp_path, name, frames):
    graph = load_graph(copy_example(name, tmp_path), registry)
    graph.set_param("model", "source", str(tiny_ti2v))
    for key, value in {**TINY, "num_frames": frames}.items():
        graph.set_param("generate", key, value)
    without_signed_export(graph)
    if "audio" in graph.nodes:
        graph.set_param("audio", "fps", 8.0)
    result = Engine(registry).run(graph, base_dir=tmp_path)
    assert result.ok, result.failed
    video = result.outputs["generate"]["video"]
    assert video.frames.shape[1:] == (32, 32, 3)
    if name == "beat-zoom":
        assert video.num_frames == 17  # 2.1 s of song at 8 fps, as 4k+1
        assert (tmp_path / "renders" / "beat-zoom.mp4").is_file()  # in the graph's output folder


def test_a_format_1_camera_graph_renders_along_its_camera(registry, tiny_ti2v):
    from tests.graph.test_fileformat import FORMAT_1_CAMERA

    text = json.dumps(FORMAT_1_CAMERA).replace("MODEL", str(tiny_ti2v).replace("\\", "/"))
    graph = loads(text, registry)
    assert validate(graph, registry) == []
    result = Engine(registry).run(graph)
    assert result.ok, result.failed
    video = result.outputs["generate"]["video"]
    assert video.frames.shape == (9, 32, 32, 3)
    assert video.generation.camera == "pan_left" and video.generation.mode == "v2v"  # it followed the camera
    assert result.outputs["move"]["video"].num_frames == 5  # the move, shown as a clip


# ---- on the embedded model, at the examples' own settings ----------------------------------------------------

COLOURS = ("red", "green", "blue", "yellow")
MOTIONS = {"moves left": "left", "moves right": "right", "moves up": "up", "moves down": "down",
           "grows": "grows", "shrinks": "shrinks"}
FRAMES = {"first-clip": 17, "prompt-schedule": 65, "camera-move": 17, "beat-zoom": 33}  # beat-zoom: the song


@pytest.fixture(scope="module")
def embedded_renders(registry, tmp_path_factory):
    """Each example rendered at full and at draft settings on the embedded model (once for the module)."""
    from studio.runtime.loading import embedded_folder

    if not (embedded_folder() / "model_index.json").is_file():
        pytest.skip("the embedded model is not trained yet: its examples would show noise")
    import torch

    folder = tmp_path_factory.mktemp("examples")
    engine = Engine(registry)
    renders = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64x64 clip is too small to share: two threads on a busy machine ran 10x slower
    try:
        render_all(registry, engine, folder, renders)
    finally:
        torch.set_num_threads(threads)
    return renders


def render_all(registry, engine, folder, renders) -> None:
    for name in NAMES:
        graph = load_graph(copy_example(name, folder), registry)
        for nid in [n for n, node in graph.nodes.items() if node.type == "studio.Export"]:
            graph.remove_node(nid)  # export is covered elsewhere; these tests read the frames
        for draft in (False, True):
            ran = draft_copy(graph, registry)[0] if draft else graph
            warnings: list = []
            result = engine.run(ran, base_dir=folder,
                                listener=lambda ev, seen=warnings: seen.append(ev) if isinstance(ev, NodeWarning) else None)
            assert result.ok, (name, draft, result.failed)
            renders[name, draft] = {**result.outputs, "_warnings": [(ev.node_id, ev.message) for ev in warnings]}


def sections_of(video) -> list[tuple[str, np.ndarray]]:
    """(prompt, its frames) per prompt section, without the blend between sections (and a settling margin)."""
    made = video.generation
    sections = made.sections or ((0.0, made.prompt),)
    out = []
    for i, (start, text) in enumerate(sections):
        lo = round(start * video.fps)
        hi = round(sections[i + 1][0] * video.fps) if i + 1 < len(sections) else video.num_frames
        if i > 0:
            lo += round((made.blend / 2 + 0.5) * video.fps)  # the change, then the new scene settling
        if i + 1 < len(sections):
            hi -= round(made.blend / 2 * video.fps)
        out.append((text, video.frames[lo:hi]))
    return out


def fill(frames: np.ndarray) -> float:
    """The object's median bounding-box fill (square ~1, circle ~0.79, triangle ~0.5): the shape as a number, so
    that two renders of one rounded square do not differ only by falling either side of the label threshold."""
    import cv2

    from studio.embedded.analysis import object_masks

    fills = []
    for mask in object_masks(frames):
        count, _labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if count > 1:
            best = 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
            box = stats[best, cv2.CC_STAT_WIDTH] * stats[best, cv2.CC_STAT_HEIGHT]
            fills.append(stats[best, cv2.CC_STAT_AREA] / box)
    return float(np.median(fills)) if fills else 0.0


def start_position(analysis) -> np.ndarray:
    found = [c for c in analysis.centroids[:4] if c is not None]
    return np.mean(found, axis=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_example_obeys_its_prompts_and_its_draft_shows_the_final(embedded_renders, name):
    from studio.embedded.analysis import analyse

    for draft in (False, True):
        video = embedded_renders[name, draft]["generate"]["video"]
        assert video.num_frames == FRAMES[name], draft
        for text, frames in sections_of(video):
            seen = analyse(frames)
            said = [c for c in COLOURS if re.search(rf"\b{c}\b", text)]
            assert seen.colour == said[0], (name, draft, text, seen.colour)
            motion = next((m for phrase, m in MOTIONS.items() if phrase in text), None)
            if motion is not None:
                assert seen.motion == motion, (name, draft, text, seen.motion)
    final, draft = (embedded_renders[name, d]["generate"]["video"] for d in (False, True))
    for (text, a), (_, b) in zip(sections_of(final), sections_of(draft), strict=True):
        seen, look = analyse(a), analyse(b)
        assert (look.colour, look.motion) == (seen.colour, seen.motion), (name, text, look, seen)
        assert abs(fill(a) - fill(b)) < 0.1, (name, text, fill(a), fill(b))  # the same shape
        where = np.linalg.norm(start_position(seen) - start_position(look))
        assert where < 8, (name, text, where)  # the same place, in 64 pixels


@pytest.mark.slow
def test_camera_move_follows_its_camera_at_full_and_draft(embedded_renders):
    from studio.directing.motion import adherence
    from studio.embedded.analysis import analyse

    for draft in (False, True):
        outputs = embedded_renders["camera-move", draft]
        video, guide = outputs["generate"]["video"], outputs["camera_guide"]["guide"]
        result = adherence(video.frames, guide.camera.track(video.num_frames, video.fps), stride=4)
        assert result.direction_agreement > 0.5, (draft, result.as_dict())
        assert result.measured_px > 0.25 * result.requested_px, (draft, result.as_dict())
        assert analyse(video.frames).motion == "grows", draft  # a dolly in: the subject comes closer
        # and the example's own Camera Adherence node does not warn that it does not follow
        assert [w for w in outputs["_warnings"] if w[0] == "adherence"] == [], draft
