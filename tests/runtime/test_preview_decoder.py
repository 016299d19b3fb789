"""The preview decoder a model folder ships: loaded through the runtime, the whole clip at pixel size, closer
to the VAE than the colour map on the embedded model's own latents, and the colour map where there is none."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from studio.runtime import VideoRequest, decode, encode_prompt, load_model, sample
from studio.runtime import preview as P
from studio.runtime.loading import embedded_folder

LAYERS = [{"conv": [4, 8, 3]}, "relu", {"conv": [8, 12, 3]}, {"shuffle": 2}]


def _fake_model_folder(tmp_path, layers=LAYERS, vae_bytes=b"vae weights"):
    """A folder with a 'VAE' file and a random preview decoder trained (so to speak) for it."""
    (tmp_path / "vae").mkdir(parents=True)
    (tmp_path / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(vae_bytes)
    torch.manual_seed(0)
    net = P.PreviewDecoder(layers, channels=4)
    net.input_mean.copy_(torch.tensor([0.1, -0.2, 0.0, 0.3]))
    net.input_std.copy_(torch.tensor([0.5, 2.0, 1.0, 0.8]))
    folder = tmp_path / P.DECODER_FOLDER
    folder.mkdir()
    save_file({k: v.half() for k, v in net.state_dict().items()}, str(folder / P.DECODER_WEIGHTS))
    config = {"format": 1, "latent_channels": 4, "layers": layers, "vae_sha256": P.vae_fingerprint(tmp_path)}
    (folder / P.DECODER_CONFIG).write_text(json.dumps(config))
    return tmp_path, net


def test_the_renderer_draws_what_the_decoder_computes_on_vae_latents(tmp_path):
    folder, net = _fake_model_folder(tmp_path)
    previewer = P.shipped_decoder(folder, channels=4, device=torch.device("cpu"), temporal=4)
    assert isinstance(previewer, P.DecoderPreviewer)
    scale, shift = torch.tensor([2.0, 1.0, 0.5, 1.5]), torch.tensor([0.1, 0.0, -0.2, 0.3])
    latents = torch.randn(4, 3, 5, 6)  # pipeline space [C, F, h, w]
    frames = previewer.for_clip(scale, shift, num_frames=9, latent_frames=3)(latents)
    assert frames.shape == (9, 10, 12, 3) and frames.dtype == np.uint8
    with torch.no_grad():  # the training-side forward, on VAE-space latents, with the shipped float16 weights
        net.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
        vae = latents * scale[:, None, None, None] + shift[:, None, None, None]
        expected = net(vae.transpose(0, 1)).permute(0, 2, 3, 1).clamp(-1, 1).add(1).mul(127.5).numpy()
    assert np.abs(frames[0].astype(float) - expected[0]).max() <= 1  # frame 0: latent frame 0
    assert np.abs(frames[1].astype(float) - expected[1]).max() <= 1  # frames 1-4: latent frame 1
    assert np.abs(frames[8].astype(float) - expected[2]).max() <= 1  # frames 5-8: latent frame 2
    assert np.array_equal(frames[1], frames[4]) and not np.array_equal(frames[4], frames[5])


def test_a_decoder_for_another_vae_or_a_broken_one_is_not_used(tmp_path):
    folder, _ = _fake_model_folder(tmp_path / "a")
    cpu = torch.device("cpu")
    (folder / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"retrained vae")
    assert P.shipped_decoder(folder, 4, cpu, 4) is None  # trained for the VAE before: it would preview lies
    for broken in ([{"conv": [4, 8, 3]}, "eval"], [{"conv": [4, 8, 3]}, {"shuffle": 3}], [{"conv": [5, 3, 3]}]):
        folder, _ = _fake_model_folder(tmp_path / str(len(list(tmp_path.iterdir()))))
        config_file = folder / P.DECODER_FOLDER / P.DECODER_CONFIG
        config_file.write_text(json.dumps(json.loads(config_file.read_text()) | {"layers": broken}))
        assert P.shipped_decoder(folder, 4, cpu, 4) is None, broken
    folder, _ = _fake_model_folder(tmp_path / "weights")
    save_file({"layers.0.weight": torch.zeros(1)}, str(folder / P.DECODER_FOLDER / P.DECODER_WEIGHTS))
    assert P.shipped_decoder(folder, 4, cpu, 4) is None
    folder, _ = _fake_model_folder(tmp_path / "channels")
    assert P.shipped_decoder(folder, 16, cpu, 4) is None
    assert P.shipped_decoder(tmp_path / "nothing", 4, cpu, 4) is None


def test_a_decoder_drawing_every_frame_maps_them_in_order():
    # 4 pictures per latent frame (a VAE that interpolates): frame 0 is latent 0's last, then 1:0..3, 2:0..3.
    index = P.decoded_frame_index(num_frames=9, latent_frames=3, temporal=4, per_latent=4)
    assert index.tolist() == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert P.decoded_frame_index(9, 3, 4, 1).tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_the_embedded_model_ships_a_small_safetensors_decoder_for_its_vae():
    folder = embedded_folder()
    config = json.loads((folder / P.DECODER_FOLDER / P.DECODER_CONFIG).read_text())
    assert (folder / P.DECODER_FOLDER / P.DECODER_WEIGHTS).stat().st_size < 500_000
    assert config["vae_sha256"] == P.vae_fingerprint(folder)
    assert P.shipped_decoder(folder, 16, torch.device("cpu"), 4) is not None


@pytest.mark.slow
def test_embedded_previews_are_the_whole_clip_at_64x64_and_closer_to_the_vae_than_the_colour_map():
    model = load_model("embedded")
    embeds = encode_prompt(model, "a blue square moves right on a white background", "", 5.0)
    request = VideoRequest(num_frames=17, height=64, width=64, steps=6, guidance=5.0, seed=3)
    previews: list[np.ndarray] = []
    latents = sample(model, embeds, request, on_step=lambda u: previews.append(u.preview))
    assert isinstance(model._previewer, P.DecoderPreviewer)
    assert len(previews) == 6 and all(p.shape == (17, 64, 64, 3) and p.dtype == np.uint8 for p in previews)
    final = decode(model, latents).astype(float)
    # The colour map on the same latents (what previewed before, and still does for models without a decoder).
    projection = P.shipped_projection(model.source, 16)
    mean, std = (torch.tensor(model.pipe.vae.config.latents_mean), torch.tensor(model.pipe.vae.config.latents_std))
    colour_map = P.ClipPreviewer(projection, torch.device("cpu"), 4, 8).for_clip(std, mean, 17, 5)(latents.tensor[0])
    colour_map = colour_map.repeat(8, axis=1).repeat(8, axis=2).astype(float)
    decoder_error = np.abs(previews[-1] - final).mean()
    map_error = np.abs(colour_map - final).mean()
    assert decoder_error < 0.6 * map_error, (decoder_error, map_error)


def test_a_model_folder_without_a_decoder_previews_with_the_colour_map(tiny_model, tiny_embeds, tmp_path):
    model = tiny_model("wan")
    assert not (model.source / P.DECODER_FOLDER).exists()
    model._previewer = None
    previews: list[np.ndarray] = []
    request = VideoRequest(num_frames=9, height=32, width=32, steps=2, guidance=3.0, seed=0)
    sample(model, tiny_embeds(model), request, on_step=lambda u: previews.append(u.preview))
    assert isinstance(model._previewer, P.ClipPreviewer)
    assert previews[-1].shape == (9, 4, 4, 3)  # latent resolution: the viewer blows it up
    # A decoder left behind by a VAE that has since been retrained is ignored the same way.
    folder = shutil.copytree(model.source, tmp_path / "copy")
    _fake_model_folder(tmp_path / "other")
    shutil.copytree(tmp_path / "other" / P.DECODER_FOLDER, folder / P.DECODER_FOLDER)
    assert P.shipped_decoder(folder, 4, torch.device("cpu"), 4) is None


def test_an_image_to_video_preview_opens_on_the_given_picture_from_the_first_step():
    from PIL import Image

    from studio.paths import RESOURCES

    model = load_model("embedded")
    picture = Image.open(RESOURCES / "examples" / "character-red-circle.png").convert("RGB").resize((64, 64))
    image = np.asarray(picture)
    embeds = encode_prompt(model, "a red circle moves right on a black background", "", 5.0)
    request = VideoRequest(num_frames=17, height=64, width=64, steps=4, guidance=5.0, seed=1, image=image)
    previews: list[np.ndarray] = []
    latents = sample(model, embeds, request, on_step=lambda u: previews.append(u.preview))
    final = decode(model, latents)
    assert np.abs(final[0].astype(int) - image).mean() < 4  # the decoded clip opens on the picture...
    for preview in previews:  # ...and so does every step's preview (the sampler's estimate there was noise)
        assert np.abs(preview[0].astype(int) - image).mean() < 4
    assert np.abs(previews[0][1].astype(int) - final[1]).mean() > 4  # the rest is still the estimate
