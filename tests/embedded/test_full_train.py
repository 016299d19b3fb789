"""The whole-model training on the richer world: its data, the latent cache's shortcut at 16x, a tiny run."""

from __future__ import annotations

import json

import numpy as np
import torch

from studio.embedded import components as C
from studio.embedded import full_train as F
from studio.embedded import scenes as S
from studio.embedded import vae_training as V


def test_batches_come_from_the_seed_and_step_alone() -> None:
    a = F.frame_arrays((3, 4, 0, 128, 64, 16))
    b = F.frame_arrays((3, 4, 0, 128, 64, 16))
    assert a[0].shape == (4, 1, 64, 64, 3) and a[1].shape == (4, 1, 64, 64)
    assert np.array_equal(a[0], b[0])
    assert not np.array_equal(a[0], F.frame_arrays((4, 4, 0, 128, 64, 16))[0])
    clips, covers = F.clip_arrays((0, 2, 0, 64))
    assert clips.shape == (2, 17, 64, 64, 3) and covers.shape == (2, 17, 64, 64)
    frames, captions = F.key_frames(([11, 12], 64))
    assert frames.shape == (2, 5, 64, 64, 3)
    assert captions == [S.scene_for_seed(11).caption, S.scene_for_seed(12).caption]


def test_the_128_pixel_vae_keeps_8x8_latents_and_encodes_key_frames_alone() -> None:
    # The latent cache draws and encodes only frames 0, 4, 8, ...: right only while the encoder is per-frame.
    torch.manual_seed(0)
    sizes = C.ModelSizes(**F.SIZES_128)
    vae = C.build_vae(sizes).eval()
    V.init_temporal_layers(vae)
    clip = S.render_scene(S.eval_scenes("camera", 1)[0], 17, 64)[0]
    x = V.to_tensor(clip[None])
    with torch.no_grad():
        full = V.encode_mean(vae, x)[0]
        keys = x[:, :, ::4].transpose(1, 2).reshape(5, 3, 1, 64, 64)
        cheap = V.encode_mean(vae, keys)[0].reshape(1, 5, 16, 4, 4).transpose(1, 2)
    assert full.shape == (1, 16, 5, 4, 4)  # 64 / 16: at 128x128 the same VAE gives 8x8
    assert torch.allclose(full, cheap, atol=1e-4)
    assert vae.config.scale_factor_spatial == 16


def test_a_tiny_run_exports_a_pipeline_with_the_new_words(tmp_path) -> None:
    from diffusers import DiffusionPipeline

    from studio.runtime.vocabulary import read_vocabulary

    out = tmp_path / "run"
    sizes = json.dumps({"dit_layers": 1, "dit_heads": 2, "dit_ffn": 64, "text_layers": 1})
    F.main(["--out", str(out), "--size", "64", "--sizes", sizes, "--device", "cpu", "--vae-steps", "2",
            "--vae-batch", "2", "--vae-crop", "32", "--vae-full-batch", "1", "--time-steps", "1",
            "--time-batch", "1", "--latent-clips", "6", "--dit-steps", "2", "--dit-batch", "2",
            "--projection-clips", "1", "--log-every", "1", "--save-every", "1"])
    folder = out / "pipeline"
    vocabulary = read_vocabulary(folder)
    assert vocabulary is not None and vocabulary.knows("pans") and vocabulary.knows("checkered")
    assert dict(vocabulary.groups)["camera"][:3] == ("camera", "pans", "tilts")
    pipe = DiffusionPipeline.from_pretrained(str(folder), use_safetensors=True)
    unk = pipe.tokenizer.convert_tokens_to_ids("<unk>")
    assert unk not in pipe.tokenizer(S.eval_scenes("camera", 1)[0].caption).input_ids
    assert json.loads((folder / "studio_defaults.json").read_text())["height"] == 64
    # A second call continues the finished run instead of starting over (each stage sees its checkpoint).
    log_lines = (out / "train.log").read_text().count("\n")
    F.main(["--out", str(out), "--resume", "--size", "64", "--stages", "vae,vae_time,latents"])
    assert "vae: steps" not in "".join((out / "train.log").read_text().splitlines(True)[log_lines:])
