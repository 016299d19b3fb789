"""Builds the embedded model's diffusers components from config and saves them as a Wan pipeline folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

from studio.embedded.world import vocabulary

PAD, UNK = "<pad>", "<unk>"
# The pipelines pad every prompt to this many tokens; training pads the same way so it sees what inference does.
MAX_SEQUENCE_LENGTH = 512


# Settings the model was trained and measured at. max_sequence_length 32 gives the same clip as 512 (training
# randomised the padding) with much cheaper cross-attention.
RENDER_DEFAULTS = {
    "height": 64,
    "width": 64,
    "num_frames": 17,
    "fps": 8,
    "num_inference_steps": 20,
    "draft_num_inference_steps": 6,
    "guidance_scale": 5.0,
    "max_sequence_length": 32,
    "video_to_video_strength": 0.7,
}


@dataclass
class ModelSizes:
    """Every size that decides the architecture; recorded in checkpoints and the model card."""

    # Narrow at full resolution (the costly level on CPU), wider below: 8/16/32/32 channels.
    vae_base_dim: int = 8
    z_dim: int = 16
    vae_dim_mult: list[int] = field(default_factory=lambda: [1, 2, 4, 4])
    text_dim: int = 64
    text_layers: int = 2
    text_heads: int = 4
    # 4.1M parameters: renders 20 steps in about 2.5 s on one CPU thread, and on an H200 trains at about
    # 0.09 s per batch of 256. The first model (4 heads, 6 layers, FFN 256) trained to a higher loss and a
    # flickering background in the same GPU time.
    dit_heads: int = 6
    dit_head_dim: int = 32
    dit_layers: int = 8
    dit_ffn: int = 512
    flow_shift: float = 3.0
    # One more level ([1, 2, 4, 4, 4], [False, False, True, True], 16) keeps 8x8 latents at 128x128: the same
    # 80 tokens per clip, so the transformer costs what it did at 64x64 (a CPU renders 20 steps in seconds).
    vae_temporal_downsample: list[bool] = field(default_factory=lambda: [False, True, True])
    vae_scale_spatial: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


def build_tokenizer(words: list[str] | None = None) -> PreTrainedTokenizerFast:
    """WordLevel over ``words`` (default: the first world's): built offline, and (unlike T5TokenizerFast) it
    reloads under transformers 5. The richer world's words extend the first's, so old token ids stay put."""
    vocab = {PAD: 0, UNK: 1}
    for word in words or vocabulary():
        vocab[word] = len(vocab)
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, unk_token=UNK, model_max_length=MAX_SEQUENCE_LENGTH
    )


def build_text_encoder(sizes: ModelSizes, vocab_size: int) -> UMT5EncoderModel:
    config = UMT5Config(
        vocab_size=vocab_size,
        d_model=sizes.text_dim,
        d_kv=sizes.text_dim // sizes.text_heads,
        d_ff=sizes.text_dim * 2,
        num_layers=sizes.text_layers,
        num_heads=sizes.text_heads,
        relative_attention_num_buckets=16,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        pad_token_id=0,
        decoder_start_token_id=0,
    )
    return UMT5EncoderModel(config)


def build_vae(sizes: ModelSizes) -> AutoencoderKLWan:
    return AutoencoderKLWan(
        base_dim=sizes.vae_base_dim,
        z_dim=sizes.z_dim,
        dim_mult=sizes.vae_dim_mult,
        num_res_blocks=2,
        attn_scales=[],
        temperal_downsample=list(sizes.vae_temporal_downsample),
        scale_factor_spatial=sizes.vae_scale_spatial,
        dropout=0.0,
        latents_mean=[0.0] * sizes.z_dim,
        latents_std=[1.0] * sizes.z_dim,
    )


def build_transformer(sizes: ModelSizes) -> WanTransformer3DModel:
    # in_channels == z_dim: image-to-video works the Wan 2.2 way (first latent frame replaced), no extra channels.
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=sizes.dit_heads,
        attention_head_dim=sizes.dit_head_dim,
        in_channels=sizes.z_dim,
        out_channels=sizes.z_dim,
        text_dim=sizes.text_dim,
        freq_dim=64,
        ffn_dim=sizes.dit_ffn,
        num_layers=sizes.dit_layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
        image_dim=None,
        added_kv_proj_dim=None,
        rope_max_seq_len=256,
    )


def build_scheduler(sizes: ModelSizes) -> UniPCMultistepScheduler:
    # The scheduler Wan ships: UniPC on flow-matching sigmas, good at few steps (the draft setting).
    return UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=sizes.flow_shift,
    )


def encode_prompts(
    tokenizer: PreTrainedTokenizerFast, text_encoder: UMT5EncoderModel, prompts: list[str]
) -> torch.Tensor:
    """Prompt embeddings exactly as WanPipeline makes them: real tokens, then zeros up to the max length."""
    inputs = tokenizer(
        prompts,
        padding="max_length",
        max_length=MAX_SEQUENCE_LENGTH,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    ids, mask = inputs.input_ids, inputs.attention_mask
    longest = max(int(mask.sum(dim=1).max()), 1)
    # Running the encoder on the real tokens only is equivalent (padding is masked) and far cheaper.
    hidden = text_encoder(ids[:, :longest], mask[:, :longest]).last_hidden_state
    hidden = hidden * mask[:, :longest, None].to(hidden.dtype)
    pad = hidden.new_zeros(hidden.shape[0], MAX_SEQUENCE_LENGTH - longest, hidden.shape[2])
    return torch.cat([hidden, pad], dim=1)


def save_pipeline(
    folder: Path,
    vae: AutoencoderKLWan,
    transformer: WanTransformer3DModel,
    text_encoder: UMT5EncoderModel,
    tokenizer: PreTrainedTokenizerFast,
    sizes: ModelSizes,
    defaults: dict | None = None,
    projection_clips: int = 96,
) -> None:
    """Write a folder that DiffusionPipeline.from_pretrained loads as a WanPipeline (and from_pipe turns to I2V);
    ``defaults`` replaces RENDER_DEFAULTS' entries (a model trained at 128x128 says so)."""
    defaults = RENDER_DEFAULTS | (defaults or {})
    pipe = WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=build_scheduler(sizes),
        expand_timesteps=True,
    )
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    # transformers 5 records its new class name (TokenizersBackend); the long-standing alias loads under
    # transformers 4 and 5 alike.
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text())
    index["tokenizer"] = ["transformers", "PreTrainedTokenizerFast"]
    index_file.write_text(json.dumps(index, indent=2) + "\n")
    config_file = folder / "tokenizer" / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    # Keep the sizes beside the weights so the model card and a later training session agree on them.
    (folder / "studio_sizes.json").write_text(json.dumps(sizes.to_dict(), indent=2) + "\n")
    # The pipelines' own defaults (480x832, 81 frames) are far from what this model knows: the runtime reads these.
    (folder / "studio_defaults.json").write_text(json.dumps(defaults, indent=2) + "\n")
    write_preview_projection(folder, vae, count=projection_clips, size=int(defaults["height"]))


def write_preview_projection(
    folder: Path, vae: AutoencoderKLWan, count: int = 96, hidden: int = 32, size: int = 64
) -> dict:
    """The per-step preview's latent-to-colour map, fitted on the world's own clips (studio_preview.json).

    This VAE only ever saw the world's colours and codes them far from linearly: the runtime's generic linear
    fit (on synthetic colour fields) previews wrong colours (mean error 60 on 0-255 against the decoded
    clip), a linear fit on world clips 33, and one hidden layer of 32 (what is written) 16."""
    from studio.embedded.world import render, spec_for_seed, train_seed
    from studio.runtime.preview import pool_to_latent_grid

    xs, ys = [], []
    with torch.no_grad():
        for i in range(count):
            video, _ = render(spec_for_seed(train_seed(900_000 + i, 0)), size=size)
            x = torch.from_numpy(video).permute(3, 0, 1, 2)[None].float().div(127.5).sub(1.0)
            z = vae.encode(x).latent_dist.mode()
            spatial = int(vae.config.scale_factor_spatial or 8)
            target = pool_to_latent_grid(vae.decode(z).sample, 4, spatial, z.shape[2])
            xs.append(z[0].permute(1, 2, 3, 0).reshape(-1, z.shape[1]))
            ys.append(((target[0].permute(1, 2, 3, 0).reshape(-1, 3) + 1.0) / 2.0).clamp(0.0, 1.0))
    inputs, targets = torch.cat(xs), torch.cat(ys)
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(inputs.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(1500):
        index = torch.randint(0, len(inputs), (1024,), generator=generator)
        loss = (net(inputs[index]) - targets[index]).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        error = float((net(inputs).clamp(0, 1) - targets).abs().mean() * 255)
    first, last = net[0], net[2]
    data = {
        "hidden": {"weight": first.weight.detach().T.tolist(), "bias": first.bias.detach().tolist()},
        "matrix": last.weight.detach().T.tolist(),
        "bias": last.bias.detach().tolist(),
        "fitted_on": f"{count} world clips encoded and decoded by this VAE; mean abs error {error:.1f} (0-255)",
    }
    (folder / "studio_preview.json").write_text(json.dumps(data) + "\n")
    return data


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
