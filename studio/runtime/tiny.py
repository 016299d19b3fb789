"""Builders of tiny random-weight diffusers video pipelines, for tests, examples and the placeholder model."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

FAMILIES = ("wan", "wan-vace", "ltx", "cogvideox")
TASKS = ("t2v", "i2v", "ti2v")

# A small fixed vocabulary: real tokenizers would need a download, and the weights are random anyway.
_WORDS = (
    "a an the of and in on with at to from by is are red green blue yellow white black orange purple "
    "cat dog bird fish car tree house sky sea river mountain city street forest field flower sun moon "
    "star cloud rain snow fire light dark night day morning evening big small fast slow walking running "
    "flying swimming jumping camera pan zoom left right up down over under close wide shot video scene "
    "square circle ball box person man woman child boat train road bridge water grass stone sand"
).split()

# Small enough that 2 denoising steps at 9 frames x 32x32 take well under a second on a CPU.
_TEXT_DIM = 32
_TINY_DEFAULTS = {"num_frames": 9, "height": 32, "width": 32, "fps": 8, "steps": 4, "guidance": 3.0}


def build_tokenizer():
    """A word-level tokenizer built offline; PreTrainedTokenizerFast because T5TokenizerFast fails to reload."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _WORDS:
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def _vocab_size(tokenizer) -> int:
    # Rounded up so a few added tokens never index past the embedding table.
    return (len(tokenizer) + 15) // 16 * 16


def _t5_kwargs(vocab_size: int) -> dict:
    return dict(
        vocab_size=vocab_size,
        d_model=_TEXT_DIM,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )


_WAN_TRANSFORMER = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=8,
    out_channels=16,
    text_dim=_TEXT_DIM,
    freq_dim=32,
    ffn_dim=32,
    rope_max_seq_len=32,
)


def _wan_components(task: str) -> tuple[type, dict, dict]:
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = build_tokenizer()
    text_encoder = UMT5EncoderModel(UMT5Config(**_t5_kwargs(_vocab_size(tokenizer))))
    vae = AutoencoderKLWan(
        base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    # Wan 2.1/2.2 A14B image-to-video: the transformer also takes the mask (4) and the encoded first frame (16).
    in_channels = 36 if task == "i2v" else 16
    transformer = WanTransformer3DModel(**_WAN_TRANSFORMER, in_channels=in_channels, num_layers=1)
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
        "transformer": transformer,
        "transformer_2": None,
    }
    if task == "i2v":
        components.update(image_encoder=None, image_processor=None)
        return WanImageToVideoPipeline, components, {}
    # "ti2v" is the Wan 2.2 5B style: one transformer does text- and image-to-video via per-token timesteps.
    return WanPipeline, components, {"expand_timesteps": task == "ti2v"}


def _ltx_components(task: str) -> tuple[type, dict, dict]:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = build_tokenizer()
    text_encoder = T5EncoderModel(T5Config(**_t5_kwargs(_vocab_size(tokenizer))))
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=1,
        caption_channels=_TEXT_DIM,
    )
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "transformer": transformer,
    }
    # LTX does image-to-video with the same transformer (per-token timesteps), so one class serves every task.
    return LTXPipeline, components, {}


def _cogvideox_components(task: str) -> tuple[type, dict, dict]:
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = build_tokenizer()
    text_encoder = T5EncoderModel(T5Config(**_t5_kwargs(_vocab_size(tokenizer))))
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    i2v = task == "i2v"
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        # Rotary embeddings split the head over time, height and width: 16 keeps every part even.
        attention_head_dim=16 if i2v else 8,
        # Image-to-video concatenates the encoded first frame on the channel axis.
        in_channels=8 if i2v else 4,
        out_channels=4,
        time_embed_dim=4,
        text_embed_dim=_TEXT_DIM,
        num_layers=1,
        # 4x4 latents = 32x32 pixels: the size CogVideoX i2v's learned position embeddings are trained for.
        sample_width=4,
        sample_height=4,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        # CogVideoX-5b-I2V's layout: rotary and learned position embeddings together.
        use_rotary_positional_embeddings=i2v,
        use_learned_positional_embeddings=i2v,
    )
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": CogVideoXDDIMScheduler(),
        "transformer": transformer,
    }
    return (CogVideoXImageToVideoPipeline if i2v else CogVideoXPipeline), components, {}


def _wan_vace_components(task: str) -> tuple[type, dict, dict]:
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    _, components, _ = _wan_components("t2v")
    # VACE's control input: inactive and reactive latents (2 x 16) plus the 8x8 mask packed to 64 channels.
    components["transformer"] = WanVACETransformer3DModel(
        **_WAN_TRANSFORMER, in_channels=16, num_layers=2, vace_layers=[0, 1], vace_in_channels=96
    )
    return WanVACEPipeline, components, {}


_BUILDERS = {
    "wan": _wan_components,
    "wan-vace": _wan_vace_components,
    "ltx": _ltx_components,
    "cogvideox": _cogvideox_components,
}


def build_tiny_pipeline(family: str, folder: Path, task: str = "t2v", seed: int = 0) -> Path:
    """Build a tiny random-weight pipeline of ``family`` for ``task`` and save it (safetensors) into ``folder``.

    ``task`` is "t2v" (text-to-video, also video-to-video), "i2v" (a dedicated image-to-video model) or,
    for Wan only, "ti2v" (one model doing both, Wan 2.2 5B style). Returns the folder.
    """
    if family not in _BUILDERS:
        raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
    if task not in TASKS or (task == "ti2v" and family != "wan"):
        raise ValueError(
            f"unknown task {task!r} for {family}; choose t2v, i2v" + (", ti2v" if family == "wan" else "")
        )
    folder = Path(folder)
    # Weights depend only on the seed; keep the caller's global RNG state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        pipeline_class, components, config = _BUILDERS[family](task)
        pipe = pipeline_class(**components, **config)
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    # Recommended settings for Studio, read by load_model: the tiny model's natural size, not the family's.
    (folder / "studio.json").write_text(json.dumps({"defaults": _TINY_DEFAULTS, "tiny": True}, indent=2))
    return folder


def build_tiny_pipeline_once(family: str, folder: Path, task: str = "t2v", seed: int = 0) -> Path:
    """Build into ``folder`` unless a finished build is already there; safe against a half-written folder."""
    folder = Path(folder)
    if (folder / "model_index.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        build_tiny_pipeline(family, staging, task=task, seed=seed)
        try:
            os.replace(staging, folder)
        except OSError:
            # Another process finished first (the folder now exists and is not empty): keep theirs.
            if not (folder / "model_index.json").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.runtime.tiny", description=__doc__)
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--task", default="t2v", choices=TASKS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = build_tiny_pipeline(args.family, args.folder, task=args.task, seed=args.seed)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
