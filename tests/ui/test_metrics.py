"""The Metrics panel: built when first shown, fed live by the engine's events at most 5 times a second, and
by each finished render (frame-to-frame change) and the kept renders (time per 10 s of clip)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from studio.graph import ParamSpec, PortSpec, node
from studio.values import Generation, Video
from tests.ui.conftest import ui_registry

FRAMES = 16


@node("metrictest.Clip", title="Clip", category="Test", outputs=[PortSpec("video", "VIDEO")], is_output=True,
      params=[ParamSpec("steps", "int", 30, minimum=1, maximum=200), ParamSpec("hold", "int", 1)])
def clip_node(ctx, steps, hold):
    for k in range(1, steps + 1):
        time.sleep(0.01)
        ctx.progress(k, steps)
    frames = np.zeros((FRAMES, 32, 32, 3), np.uint8)
    for i in range(FRAMES):
        x = (i // hold) * 2
        frames[i, 8:16, x:x + 8] = 255  # a square moving right, each position held ``hold`` frames
    return Video(frames, 16.0, Generation(model="toy"))


@pytest.fixture
def registry():
    reg = ui_registry()
    reg.register(clip_node)
    return reg


def shown_metrics(window, qtbot):
    """The Metrics tab, shown (it is built when first shown)."""
    window.metrics_dock.show()
    window.metrics_dock.raise_()
    qtbot.waitUntil(lambda: window.metrics is not None, timeout=5000)
    return window.metrics


def with_node(window, qtbot, registry, spec, node_id):
    """The Metrics tab shown, and one node of ``spec`` (registered here) added as ``node_id``."""
    registry.register(spec)
    metrics = shown_metrics(window, qtbot)
    window.session.edit("Add", lambda g: g.add_node(window.registry.get(spec.type_id), node_id))
    return metrics


def test_metrics_are_built_on_first_show_and_follow_a_render(window, qtbot):
    assert window.metrics is None  # pyqtgraph is not loaded with the editor
    metrics = shown_metrics(window, qtbot)
    window.session.edit("Add", lambda g: g.add_node(window.registry.get("metrictest.Clip"), "clip"))
    window.session.set_param("clip", "hold", 4)
    before = metrics.redraws
    # Every line the summary showed: on a loaded machine one delivery can carry a step and the end of the run, so
    # the rendering line may be gone before a poll of the label would see it.
    shown: list[str] = []
    set_text = metrics.summary.setText
    metrics.summary.setText = lambda text: (shown.append(text), set_text(text))[-1]
    started = time.monotonic()
    window.render()
    # While it renders, the summary says so (not the last render's line, nor "Render to see how it runs.").
    qtbot.waitUntil(lambda: any("Rendering clip: step" in t for t in shown), timeout=10_000)
    rendering = next(t for t in shown if "Rendering clip: step" in t)
    assert " of 30, " in rendering and "s per step" in rendering
    qtbot.waitUntil(lambda: window.renderer.last.current is not None, timeout=20_000)
    qtbot.waitUntil(lambda: "held frames" in metrics.summary.text(), timeout=5000)  # measured off the main thread
    qtbot.wait(450)  # the last redraw
    took = time.monotonic() - started
    assert metrics.redraws - before <= took * 5 + 2  # at most 5 redraws a second
    xs, ys = metrics.steps_curve.getData()
    assert len(xs) >= 5 and xs[-1] == 30 and all(0 < y < 1 for y in ys)
    assert metrics.peak_ram and metrics.peak_ram > 10 and len(metrics.memory_samples) >= 2
    _, change = metrics.change_curve.getData()
    assert len(change) == FRAMES - 1
    held = int((change < 0.5).sum())
    assert held == 12  # 16 frames, each position held 4 times: 12 of 15 pairs do not move
    assert "held frames 80%" in metrics.summary.text()
    qtbot.waitUntil(lambda: len(window.history_panel.records) == 1, timeout=10_000)
    qtbot.wait(300)
    xs, ys = metrics.latency_curve.getData()
    assert list(xs) == [1] and ys[0] > 0


@node("metrictest.Guided", title="Guided", category="Test", outputs=[PortSpec("video", "VIDEO"),
      PortSpec("guide", "CAMERA_GUIDE")], is_output=True, params=[ParamSpec("follow", "bool", True)])
def guided_node(ctx, follow):
    """A clip and the camera guide it was asked to follow: a textured frame panning left (or held still)."""
    from studio.directing.camera import CameraPath, preset_keyframes
    from studio.values import CameraGuide

    keyframes, _shake = preset_keyframes("pan_left", 0.3, "linear")
    path = CameraPath(tuple(keyframes), fit_to_clip=True)
    texture = np.random.default_rng(0).integers(0, 255, (64, 256, 3), dtype=np.uint8)
    track = path.track(FRAMES, 16.0)
    shifts = np.cumsum([0.0, *[-step[0, 2] for step in track.steps(64, 64)]]) if follow else np.zeros(FRAMES)
    frames = np.stack([texture[:, 96 + round(s):160 + round(s)] for s in shifts])
    return {"video": Video(frames, 16.0, Generation(model="toy")), "guide": CameraGuide(path)}


def test_a_render_steered_by_a_camera_path_shows_how_far_it_was_from_the_path(window, qtbot, registry):
    metrics = with_node(window, qtbot, registry, guided_node, "guided")
    agreement = {}
    for follow in (True, False):
        window.session.set_param("guided", "follow", follow)
        window.render()
        qtbot.waitUntil(lambda: "camera path" in metrics.summary.text() and not window.renderer.running,
                        timeout=20_000)
        qtbot.waitUntil(lambda follow=follow: metrics.summary.text() != agreement.get(not follow), timeout=5000)
        qtbot.wait(300)
        _, off = metrics.camera_curve.getData()
        assert len(off) == FRAMES - 1
        agreement[follow] = metrics.summary.text()
        assert "direction agreement" in agreement[follow]
    followed = float(agreement[True].split("camera path: ")[1].split(" px")[0])
    stood = float(agreement[False].split("camera path: ")[1].split(" px")[0])
    assert followed < 0.5 * stood  # the clip that moved with the path is far closer to it than a still one


@node("metrictest.Dolly", title="Dolly", category="Test", outputs=[PortSpec("video", "VIDEO"),
      PortSpec("guide", "CAMERA_GUIDE")], is_output=True)
def dolly_node(ctx):
    """A textured frame that zooms in exactly as a dolly-in path asks (each frame warped by the path's step)."""
    import cv2

    from studio.directing.camera import CameraPath, preset_keyframes
    from studio.values import CameraGuide

    keyframes, _shake = preset_keyframes("dolly_in", 0.3, "linear")
    path = CameraPath(tuple(keyframes), fit_to_clip=True)
    texture = cv2.resize(np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8), (64, 64),
                         interpolation=cv2.INTER_CUBIC)
    frames, matrix = [texture], np.eye(3)
    for step in path.track(FRAMES, 16.0).steps(64, 64):
        matrix = step @ matrix
        frames.append(cv2.warpAffine(texture, matrix[:2].astype(np.float32), (64, 64), borderMode=cv2.BORDER_REFLECT))
    return {"video": Video(np.stack(frames), 16.0, Generation(model="toy")), "guide": CameraGuide(path)}


def test_the_summary_judges_a_dolly_as_the_camera_adherence_node_does(window, qtbot, registry):
    # Phase correlation sees shifts only: this dolly read "direction agreement -0.02" in the summary while the
    # Camera Adherence node, on the same frames, said it followed.
    from studio.directing.motion import judged_adherence

    metrics = with_node(window, qtbot, registry, dolly_node, "dolly")
    window.render()
    qtbot.waitUntil(lambda: "camera path" in metrics.summary.text(), timeout=20_000)
    shown = float(metrics.summary.text().split("direction agreement ")[1].split(" ")[0])
    outputs = dolly_node.run(None)
    guide = outputs["guide"]
    judged = judged_adherence(outputs["video"].frames, guide.camera.track(FRAMES, 16.0))
    assert shown == pytest.approx(judged.direction_agreement, abs=0.006) and shown > 0.5


@node("metrictest.World", title="World", category="Test", outputs=[PortSpec("video", "VIDEO")], is_output=True,
      params=[ParamSpec("prompt", "string", "")])
def world_node(ctx, prompt):
    """A clip of the embedded model's world (a red circle moving right), under the prompt given."""
    from studio.embedded.world import render as draw
    from studio.embedded.world import spec_for_seed

    spec = spec_for_seed(7, "eval")
    from dataclasses import replace

    spec = replace(spec, colour="red", shape="circle", motion="right", background="black", background_to=None,
                   x0=16.0, y0=32.0, x1=48.0, y1=32.0, size1=spec.size0)
    frames, _masks = draw(spec)
    return Video(frames, 16.0, Generation(model="studio-tiny", prompt=prompt))


def test_an_embedded_render_says_whether_it_shows_what_its_prompt_asked(window, qtbot, registry):
    metrics = with_node(window, qtbot, registry, world_node, "world")
    said = {}
    for prompt in ("a red circle moves right on a black background", "a blue circle moves left"):
        window.session.set_param("world", "prompt", prompt)
        window.render()
        qtbot.waitUntil(lambda: metrics.prompt_check is not None and not window.renderer.running
                        and "prompt:" in metrics.summary.text() and metrics.summary.text() not in said.values(),
                        timeout=20_000)
        said[prompt] = metrics.summary.text()
    assert "prompt: colour red ✓, shape circle ✓, motion right ✓" in said["a red circle moves right on a black "
                                                                          "background"]
    assert "colour blue ✗ (red)" in said["a blue circle moves left"]
    assert "motion left ✗ (right)" in said["a blue circle moves left"]


@node("metrictest.TwoPass", title="Two Pass", category="Test", outputs=[PortSpec("video", "VIDEO")],
      is_output=True)
def two_pass_node(ctx):
    for _pass in range(2):  # as a camera-guided render counts its steps twice
        for k in range(1, 21):
            time.sleep(0.01)
            ctx.progress(k, 20)
    return Video(np.zeros((4, 32, 32, 3), np.uint8), 16.0, Generation(model="toy"))


def test_a_second_pass_is_plotted_on_its_own(window, qtbot, registry):
    metrics = with_node(window, qtbot, registry, two_pass_node, "twopass")
    window.render()
    qtbot.waitUntil(lambda: "pass 2: step" in metrics.summary.text(), timeout=10_000)
    qtbot.waitUntil(lambda: window.renderer.last.current is not None, timeout=20_000)
    qtbot.wait(450)  # the last redraw
    xs, _ = metrics.steps_curve.getData()
    assert list(xs) == sorted(xs) and xs[-1] == 20  # one pass, never jumping back to step 2
