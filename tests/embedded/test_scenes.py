"""The richer world (camera moves, two objects, textures) and its evaluator: truth in the captions, the evaluator
reads the world's own clips right and mismatched captions wrong, and the install gate refuses what it should."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.embedded import scenes as S
from studio.embedded import world as W
from studio.embedded.install_gate import BASELINE, decide
from studio.embedded.scene_analysis import analyse_scene
from studio.embedded.scene_evaluate import FLOOR, floor_check, summarise, truth_report


def test_base_scenes_are_the_first_worlds_clips() -> None:
    # The shipped model's figures stay comparable: same seeds, same captions, same pixels.
    for spec in W.eval_specs(6):
        scene = S.from_world(spec)
        assert scene.caption == spec.caption
        assert np.array_equal(S.render_scene(scene)[0], W.render(spec)[0])
    assert [s.caption for s in S.eval_scenes("base", 4)] == [s.caption for s in W.eval_specs(4)]


def test_same_seed_same_scene_and_every_condition_is_drawn() -> None:
    for condition in S.CONDITIONS:
        a, b = S.eval_scenes(condition, 3), S.eval_scenes(condition, 3)
        assert a == b
        assert np.array_equal(S.render_scene(a[0], 17, 64)[0], S.render_scene(b[0], 17, 64)[0])
    drawn = {S.scene_for_seed(W.train_seed(i)).condition for i in range(200)}
    assert drawn == set(S.CONDITIONS)


def test_captions_state_the_ground_truth() -> None:
    for condition in S.CONDITIONS:
        for spec in S.eval_scenes(condition, 20):
            text = spec.caption
            for obj in spec.objects:
                assert f"a {obj.colour} {obj.shape} {W.MOTION_PHRASES[obj.motion]}" in text
            if spec.texture:
                assert f"on a {spec.background} {spec.texture} background" in text
            if spec.camera != S.STATIC:
                assert text.endswith(f"while the camera {spec.camera}")
                assert spec.texture in S.CAMERA_TEXTURES  # a pan over a plain background cannot be seen
            else:
                assert "pans" not in text and "tilts" not in text and "zooms" not in text
    two = S.eval_scenes("two_objects", 20)
    assert all(len(s.objects) == 2 and s.objects[0].colour != s.objects[1].colour for s in two)


def test_training_scenes_keep_held_out_combinations_and_seeds_apart() -> None:
    for index in range(1500):
        spec = S.scene_for_seed(W.train_seed(index))
        assert spec.seed < W.EVAL_SEED_BASE
        assert all((o.colour, o.shape, o.motion) not in W.HELD_OUT_COMBOS for o in spec.objects)


def test_two_objects_never_touch_and_stay_whole_in_the_frame() -> None:
    for spec in S.eval_scenes("two_objects", 10) + S.eval_scenes("camera", 10):
        for t in range(17):
            image, _ = S.render_scene_frame(spec, t)
            for obj in spec.objects:
                x, y, half = S.object_in_frame(spec, obj, t)
                assert half * 1.15 < x < 64 - half * 1.15 and half * 1.15 < y < 64 - half * 1.15
        if len(spec.objects) == 2:
            seen = analyse_scene(S.render_scene(spec)[0])
            assert len(seen.objects) == 2


def test_the_tokenizer_knows_every_caption_word_and_keeps_the_old_ids() -> None:
    from studio.embedded import components as C
    from studio.runtime.vocabulary import vocabulary_record

    old, new = C.build_tokenizer(), C.build_tokenizer(S.vocabulary())
    assert all(new.convert_tokens_to_ids(w) == old.convert_tokens_to_ids(w) for w in W.vocabulary())
    unk = new.convert_tokens_to_ids(C.UNK)
    for condition in S.CONDITIONS:
        for spec in S.eval_scenes(condition, 10):
            assert unk not in new(spec.caption).input_ids, spec.caption
    record = vocabulary_record(S.vocabulary(), S.vocabulary_groups())  # raises on a group word not known
    assert {"pans", "tilts", "zooms", "striped", "checkered", "noise", "while"} <= set(record["words"])


def test_the_evaluator_scores_the_worlds_own_clips_near_100_percent() -> None:
    report = truth_report(count=12)
    for condition, figures in report.items():
        for key, value in figures.items():
            if key != "clips":
                assert value >= 0.9, (condition, key, value)
    assert report["camera"]["camera"] == 1.0 and report["two_objects"]["two_objects"] == 1.0


def test_the_evaluator_reads_128_pixel_camera_clips_too() -> None:
    specs = S.eval_scenes("camera", 8)
    figures = summarise(specs, [S.render_scene(s, 17, 128)[0] for s in specs])
    assert figures["camera"] == 1.0 and figures["motion"] >= 0.85


def test_the_evaluator_scores_mismatched_captions_low() -> None:
    report = truth_report(count=12, scrambled=True)
    assert report["camera"]["camera"] <= 0.5
    assert report["two_objects"]["two_objects"] <= 0.3
    for condition in S.CONDITIONS:
        assert report[condition]["colour"] <= 0.5 and report[condition]["motion"] <= 0.5, condition


def test_a_held_camera_or_a_frozen_clip_is_seen() -> None:
    spec = S.eval_scenes("camera", 1)[0]
    video = S.render_scene(spec)[0]
    frozen = np.repeat(video[:1], 17, axis=0)
    seen = analyse_scene(frozen)
    assert seen.camera == "static" and all(o.motion is None for o in seen.objects)
    assert analyse_scene(video).camera == spec.camera


def _report(**overrides: float) -> dict:
    """A scene_evaluate report whose floor figures are the given ones (else just passing)."""
    f = {"colour": 1.0, "motion": 1.0, "shape": 0.9, "first_frame_mad": 2.0, "held_frames": 0.0,
         "draft_agreement": 1.0, "camera": 0.9, "two_objects": 0.9} | overrides
    return {"conditions": {"base": {"colour": f["colour"], "motion": f["motion"], "shape": f["shape"]},
                           "camera": {"camera": f["camera"]}, "two_objects": {"two_objects": f["two_objects"]}},
            "image_to_video": {"first_frame_mad": f["first_frame_mad"]},
            "held_frames": f["held_frames"], "draft_agreement": f["draft_agreement"]}


def test_the_install_gate_wants_the_floor_and_nothing_worse(tmp_path) -> None:
    (tmp_path / "w.safetensors").write_bytes(b"0" * 1000)
    shipped = json.loads(BASELINE.read_text())
    assert not floor_check(shipped)["passed"]  # the shipped model knows no camera moves or two objects
    assert decide(_report(), shipped, tmp_path)["install"]
    for bad in ({"held_frames": 0.2}, {"camera": 0.5}, {"shape": 0.7}, {"first_frame_mad": 4.5}):
        decision = decide(_report(**bad), shipped, tmp_path)
        assert not decision["install"] and any("floor" in r for r in decision["reasons"]), bad
    # At the floor but under the shipped model's own colour (100%): refused.
    decision = decide(_report(colour=0.95), shipped, tmp_path)
    assert not decision["install"] and "worse than the shipped model" in decision["reasons"][0]
    (tmp_path / "big.safetensors").write_bytes(b"0" * (31 * 1024 * 1024))
    assert any("budget" in r for r in decide(_report(), shipped, tmp_path)["reasons"])
    assert set(FLOOR) == set(decide(_report(), shipped, tmp_path)["figures"])


@pytest.mark.parametrize("texture", S.TEXTURES)
def test_textures_never_look_like_an_object(texture) -> None:  # type: ignore[no-untyped-def]
    from studio.embedded.scene_analysis import colour_masks

    for background in W.BACKGROUND_COLOURS:
        spec = S.SceneSpec(5, "textured", (), background, texture=texture)
        video = S.render_scene(spec, 3, 64)[0]
        assert all(not m.any() for m in colour_masks(video).values()), (texture, background)


def test_texture_edges_weigh_textures_not_plain_or_gradient_backgrounds() -> None:
    """The VAE's loss weighs texture edges (so it learns to draw what a camera move is seen by) and nothing of a
    plain or gradient background, away from the objects' rims."""
    import cv2
    import torch

    from studio.embedded import vae_training as V

    def edges(spec: S.SceneSpec) -> tuple[np.ndarray, np.ndarray]:
        image, cover = S.render_scene_frame(spec, 8)
        found = V.texture_edges(V.to_tensor(image[None, None]), torch.from_numpy(cover)[None, None, None])
        rim = cv2.dilate((cover > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        return found[0, 0, 0].numpy(), rim

    gradients = 0
    for seed in range(40):  # the first world: plain and gradient backgrounds
        spec = S.scene_for_condition(seed, "base")
        gradients += spec.background_to is not None
        found, rim = edges(spec)
        assert not found[~rim].any(), spec.caption
    assert gradients >= 5
    for texture in S.TEXTURES:
        for background in W.BACKGROUND_COLOURS:
            found, rim = edges(S.SceneSpec(5, "textured", (), background, texture=texture))
            assert found.mean() > 0.1, (texture, background)  # textures the VAE can be taught to draw


@pytest.mark.slow
def test_camera_moves_stay_readable_through_the_shipped_vae_on_the_world_textures() -> None:
    """Textures at a scale the shipped VAE carries (its first ones, 10-px checks at amplitude 30, came out plain:
    0 camera moves read through it). Checked on a few held-out camera clips."""
    import torch
    from diffusers import AutoencoderKLWan

    vae = AutoencoderKLWan.from_pretrained(Path(__file__).resolve().parents[2] / "resources" / "models" /
                                           "studio-tiny" / "vae").eval()
    read = 0
    specs = [s for s in S.eval_scenes("camera", 12) if s.camera.startswith(("pans", "tilts"))][:4]
    for spec in specs:
        video = S.render_scene(spec)[0]
        x = torch.from_numpy(video).float().permute(3, 0, 1, 2)[None] / 127.5 - 1.0
        with torch.no_grad():
            y = vae.decode(vae.encode(x).latent_dist.mean).sample
        out = ((y[0].permute(1, 2, 3, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
        read += analyse_scene(out).camera == spec.camera
    assert len(specs) == 4 and read >= 3, read
