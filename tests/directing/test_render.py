"""Directing nodes through the engine on a tiny Wan pipeline: camera guide and noise, audio length, signals, errors."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engine import Engine, NodeProgress
from studio.graph import Graph, NodeRegistry
from studio.runtime.recipes.steering import GUIDE_PASS, pass_message

SIZE = {"num_frames": 9, "width": 32, "height": 32, "steps": 2, "fps": 8.0, "seed": 3, "preview": False}


@pytest.fixture(scope="module")
def registry():
    return NodeRegistry.default()


def clip_graph(registry, model_dir, camera: dict | None = None, generate: dict | None = None,
               steer: str = "guide") -> Graph:
    g = Graph()
    g.add_node(registry.get("studio.LoadModel"), "model", params={"source": str(model_dir)})
    g.add_node(registry.get("studio.Text"), "text", params={"prompt": "a red circle on a blue sky"})
    g.add_node(registry.get("studio.GenerateVideo"), "generate", params={**SIZE, **(generate or {})})
    g.add_node(registry.get("studio.Preview"), "preview")
    g.connect("model", "model", "generate", "model")
    g.connect("text", "prompt", "generate", "prompt")
    g.connect("generate", "video", "preview", "video")
    if camera is not None:
        g.add_node(registry.get("studio.CameraPath"), "camera", params=camera)
        g.add_node(registry.get("studio.CameraGuide"), "camera_guide", params={"steer": steer})
        g.connect("camera", "camera", "camera_guide", "camera")
        g.connect("camera_guide", "guide", "generate", "camera_guide")
    return g


def write_clicks(path, seconds=2.0, rate=22_050):
    import soundfile as sf

    x = np.zeros(int(seconds * rate), np.float32)
    for beat in np.arange(0.25, seconds, 0.5):
        i = int(beat * rate)
        x[i:i + 400] = 0.8 * np.sin(np.arange(400) * 0.3)
    sf.write(str(path), x, rate)


def test_camera_guide_and_noise_modes_render_and_differ_from_plain(registry, tiny_ti2v):
    engine = Engine(registry)
    plain = engine.run(clip_graph(registry, tiny_ti2v))
    assert plain.ok, plain.failed
    base = plain.outputs["preview"]["video"].frames
    results = {}
    for mode in ("guide", "noise"):
        g = clip_graph(registry, tiny_ti2v, camera={"preset": "pan_left", "amount": 0.4}, steer=mode)
        said = []
        result = engine.run(g, listener=lambda e, said=said: isinstance(e, NodeProgress)
                            and e.node_id == "generate" and said.append(e.message))
        assert result.ok, result.failed
        if mode == "guide":  # two passes, the first named (the editor shows "pass 1 of 2: camera guide")
            first = pass_message(1, 2, GUIDE_PASS)
            assert said[0] == first and said[-1] != first
        video = result.outputs["preview"]["video"]
        assert video.frames.shape == (9, 32, 32, 3)
        assert video.generation.camera == "pan_left" and video.generation.camera_mode == mode
        assert video.generation.mode == ("v2v" if mode == "guide" else "t2v")
        assert not np.array_equal(video.frames, base)
        results[mode] = video.frames
    assert engine.memo_stats["camera_keyframe"][1] == 1  # the first frame was drawn from the text once
    # a camera change re-renders, and only the camera-dependent work repeats
    g = clip_graph(registry, tiny_ti2v, camera={"preset": "pan_right", "amount": 0.4})
    again = engine.run(g)
    assert again.ok and engine.memo_stats["camera_keyframe"] == [1, 1]


def test_camera_guide_starts_from_the_reference_image(registry, tiny_ti2v, tmp_path):
    from PIL import Image

    image = tmp_path / "red.png"
    Image.new("RGB", (48, 32), (230, 20, 20)).save(image)
    g = clip_graph(registry, tiny_ti2v, camera={"preset": "zoom_in"}, generate={"strength": 0.5, "steps": 4})
    g.add_node(registry.get("studio.ReferenceImage"), "image", params={"path": str(image)})
    g.connect("image", "image", "camera_guide", "image")
    engine = Engine(registry)
    result = engine.run(g)
    assert result.ok, result.failed
    video = result.outputs["preview"]["video"]
    assert video.generation.mode == "v2v" and video.generation.reference_image == str(image)
    assert "camera_keyframe" not in engine.memo_stats
    preview = result.outputs["camera_guide"]["preview"]
    assert preview.frames.shape == (33, 32, 48, 3) and preview.frames[0, 16, 24, 0] > 200
    # steering by noise keeps the picture as the first frame: image-to-video from the red picture
    g.set_param("camera_guide", "steer", "noise")
    noise = engine.run(g)
    assert noise.ok, noise.failed
    assert noise.outputs["preview"]["video"].generation.mode == "i2v"


def test_camera_guide_node_previews_the_warp(registry, tmp_path):
    from PIL import Image

    image = tmp_path / "ramp.png"
    Image.fromarray(np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (48, 1, 3))).save(image)
    g = Graph()
    g.add_node(registry.get("studio.ReferenceImage"), "image", params={"path": str(image)})
    g.add_node(registry.get("studio.CameraPath"), "camera", params={"preset": "pan_left", "amount": 0.25})
    g.add_node(registry.get("studio.CameraGuide"), "guide", params={"num_frames": 5, "fps": 8.0})
    g.add_node(registry.get("studio.Preview"), "preview")
    g.connect("image", "image", "guide", "image")
    g.connect("camera", "camera", "guide", "camera")
    g.connect("guide", "preview", "preview", "video")
    result = Engine(registry).run(g)
    assert result.ok, result.failed
    frames = result.outputs["preview"]["video"].frames
    assert frames.shape == (5, 48, 64, 3)
    assert frames[-1, 24, 32, 0] < frames[0, 24, 32, 0] - 40  # darker (left) content slid to the centre


def test_camera_adherence_node_measures_a_render(registry, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    image = tmp_path / "texture.png"
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((64, 48), Image.BICUBIC).save(image)
    g = Graph()
    g.add_node(registry.get("studio.ReferenceImage"), "image", params={"path": str(image)})
    g.add_node(registry.get("studio.CameraPath"), "camera", params={"preset": "pan_right", "amount": 0.2})
    g.add_node(registry.get("studio.CameraGuide"), "guide", params={"num_frames": 9, "fps": 8.0})
    g.add_node(registry.get("studio.CameraAdherence"), "adherence")
    g.connect("image", "image", "guide", "image")
    g.connect("camera", "camera", "guide", "camera")
    g.connect("guide", "preview", "adherence", "video")  # the guide itself follows the path exactly
    g.connect("guide", "guide", "adherence", "guide")
    events = []

    def heard(event):
        if getattr(event, "node_id", "") == "adherence" and getattr(event, "message", ""):
            events.append((type(event).__name__, event.message))

    engine = Engine(registry)
    result = engine.run(g, listener=heard)
    assert result.ok, result.failed
    assert result.outputs["adherence"]["error"] < 0.5
    assert result.outputs["adherence"]["signal"].num_frames == 9
    # a clip that follows its path is reported, not warned about
    assert "NodeWarning" not in [kind for kind, _ in events] and "px/frame" in events[-1][1]
    # measured against the opposite move, the same clip is warned about
    g.set_param("camera", "preset", "pan_left")
    g.add_node(registry.get("studio.CameraGuide"), "shown", params={"num_frames": 9, "fps": 8.0})
    g.add_node(registry.get("studio.CameraPath"), "right", params={"preset": "pan_right", "amount": 0.2})
    g.connect("image", "image", "shown", "image")
    g.connect("right", "camera", "shown", "camera")
    g.connect("shown", "preview", "adherence", "video")
    events.clear()
    assert engine.run(g, listener=heard).ok
    warned = [message for kind, message in events if kind == "NodeWarning"]
    assert len(warned) == 1 and "does not follow" in warned[0]


def test_render_length_follows_the_audio_and_beats_drive_the_zoom(registry, tiny_ti2v, tmp_path):
    wav = tmp_path / "clicks.wav"
    write_clicks(wav, seconds=2.0)
    g = clip_graph(registry, tiny_ti2v, camera={"preset": "static", "zoom_pulse": 0.3},
                   generate={"num_frames": 0}, steer="none")  # 'none': the guide only carries the length
    g.add_node(registry.get("studio.Audio"), "audio", params={"path": str(wav), "signal": "beats", "fps": 8.0})
    g.add_node(registry.get("studio.SignalMath"), "math", params={"smooth": 0.0, "scale": 1.0})
    g.connect("audio", "audio", "camera_guide", "audio")
    g.connect("audio", "signal", "math", "signal")
    g.connect("math", "signal", "camera", "zoom_signal")
    result = Engine(registry).run(g)
    assert result.ok, result.failed
    video = result.outputs["preview"]["video"]
    assert video.num_frames == 17 and video.generation.mode == "t2v"  # 2 s at 8 fps = 16 -> nearest 4k+1
    signal = result.outputs["math"]["signal"]
    assert signal.events == (2, 6, 10, 14) and signal.values[2] == pytest.approx(1.0)
    camera = result.outputs["camera"]["camera"]
    zoom = camera.track(17, 8.0).channel("zoom")
    assert [int(f) for f in np.flatnonzero(zoom >= 1.3 - 1e-6)] == [2, 6, 10, 14]


def schedule_graph(registry, model_dir, first: str, second: str, frames: int = 9) -> Graph:
    g = clip_graph(registry, model_dir, generate={"num_frames": frames, "steps": 2})
    g.set_param("text", "prompt", first)
    g.set_param("text", "schedule", [{"time": 0.5, "prompt": second}])
    g.set_param("text", "blend", 0.5)
    return g


def test_prompt_schedule_on_wan_renders_in_one_pass(registry, tiny_ti2v):
    from studio.runtime.recipes import timed_text

    engine = Engine(registry)
    plain = engine.run(clip_graph(registry, tiny_ti2v, generate={"num_frames": 9, "steps": 2}))
    same = engine.run(schedule_graph(registry, tiny_ti2v, "a red circle on a blue sky", "a red circle on a blue sky"))
    assert plain.ok and same.ok, (plain.failed, same.failed)
    # the same prompt twice mixes to exactly the plain render: the timed attention is a true blend
    np.testing.assert_allclose(same.outputs["preview"]["video"].frames.astype(int),
                               plain.outputs["preview"]["video"].frames.astype(int), atol=2)
    steps = []
    changed = engine.run(schedule_graph(registry, tiny_ti2v, "a red circle on a blue sky", "a green square"),
                         listener=lambda e: getattr(e, "node_id", "") == "generate" and hasattr(e, "step")
                         and steps.append(e.total))
    assert changed.ok, changed.failed
    video = changed.outputs["preview"]["video"]
    assert video.num_frames == 9 and set(steps) == {2}  # one pass
    assert video.generation.sections == ((0.0, "a red circle on a blue sky"), (0.5, "a green square"))
    assert not np.array_equal(video.frames, plain.outputs["preview"]["video"].frames)
    # the model is left as it was: no timed processors behind
    model = changed.outputs["model"]["model"]
    assert all(not isinstance(b.attn2.processor, timed_text._TimedCrossAttention) for b in model.pipe.transformer.blocks)


def test_prompt_schedule_elsewhere_renders_chained_segments(registry, tiny_ti2v, monkeypatch):
    from studio.runtime.recipes import timed_text

    monkeypatch.setattr(timed_text, "supports", lambda model: False)  # as for LTX or CogVideoX
    engine = Engine(registry)
    steps = []
    result = engine.run(schedule_graph(registry, tiny_ti2v, "a red circle on a blue sky", "a green square"),
                        listener=lambda e: getattr(e, "node_id", "") == "generate" and hasattr(e, "step")
                        and steps.append((e.step, e.total)))
    assert result.ok, result.failed
    assert result.outputs["preview"]["video"].num_frames == 9
    # 8 fps: the change at frame 4; a ramp segment would leave the new prompt no segment of its own,
    # so the blend is skipped: 2 segments
    assert steps[-1] == (4, 4)
    assert engine.memo_stats["encode_prompt"][1] == 2  # each prompt encoded once


def test_a_beat_cues_a_prompt_change(registry, tmp_path):
    wav = tmp_path / "clicks.wav"
    write_clicks(wav, seconds=2.0)  # clicks at 0.25, 0.75, 1.25, 1.75 s
    g = Graph()
    g.add_node(registry.get("studio.Audio"), "audio", params={"path": str(wav), "signal": "beats", "fps": 8.0})
    g.add_node(registry.get("studio.Text"), "text", params={
        "prompt": "calm sea", "schedule": [{"cue": 3, "prompt": "storm"}], "blend": 0.0})
    g.connect("audio", "signal", "text", "cue")
    result = Engine(registry).run(g, targets=["text"])
    assert result.ok, result.failed
    assert result.outputs["text"]["prompt"].sections == ((0.0, "calm sea"), (1.25, "storm"))


def test_bad_inputs_name_the_node_and_the_file(registry, tiny_ti2v, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 10)
    g = Graph()
    g.add_node(registry.get("studio.Audio"), "soundtrack", params={"path": str(text)})
    g.add_node(registry.get("studio.SignalMath"), "math")
    g.connect("soundtrack", "signal", "math", "signal")
    result = Engine(registry).run(g, targets=["math"])
    assert not result.ok and "soundtrack" in result.failed
    assert str(text) in result.failed["soundtrack"] and "not a readable audio file" in result.failed["soundtrack"]

    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    g = clip_graph(registry, tiny_ti2v, camera={"preset": "keyframes", "keyframes": []})
    result = Engine(registry).run(g)
    assert result.failed.get("camera", "").startswith("the camera path is empty")

    g = clip_graph(registry, tiny_ti2v, camera={"preset": "keyframes",
                                               "keyframes": [{"time": 1}, {"time": 0.5, "pan_x": 1}]})
    result = Engine(registry).run(g)
    assert "out of order" in result.failed.get("camera", "")

    g = clip_graph(registry, tiny_ti2v)
    g.add_node(registry.get("studio.ReferenceImage"), "picture", params={"path": str(empty)})
    g.connect("picture", "image", "generate", "image")
    result = Engine(registry).run(g)
    assert "picture" in result.failed and str(empty) in result.failed["picture"]
