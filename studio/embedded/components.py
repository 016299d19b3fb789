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

    def to_dict(self) -> dict:
        return asdict(self)


def build_tokenizer() -> PreTrainedTokenizerFast:
    # WordLevel over our own words: built offline, and (unlike T5TokenizerFast) it reloads under transformers 5.
    vocab = {PAD: 0, UNK: 1}
    for word in vocabulary():
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
        temperal_downsample=[False, True, True],
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
) -> None:
    """Write a folder that DiffusionPipeline.from_pretrained loads as a WanPipeline (and from_pipe turns to I2V)."""
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
    (folder / "studio_defaults.json").write_text(json.dumps(RENDER_DEFAULTS, indent=2) + "\n")


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
