"""Training stages after the VAE: latent cache, transformer plus text encoder (t2v and i2v), pipeline export."""

from __future__ import annotations

import argparse
import copy
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from studio.embedded import components as C
from studio.embedded import vae_training as V
from studio.embedded.world import render, spec_for_seed, train_seed

CAPTION_DROPOUT = 0.1  # empty prompts, so classifier-free guidance has an unconditional model to push from
IMAGE_CONDITION_RATE = 0.5  # share of samples trained as image-to-video (first latent frame given, clean)
EMA_DECAY = 0.999
PADDED_LENGTHS = (32, 64, 128, 256, 512)
ENCODE_CHUNK = 250
LATENT_MINUTES = 10.0  # default time budget for encoding; parts already encoded are kept and reused


def _log(out: Path, message: str) -> None:
    from studio.embedded.train import log

    log(out, message)


def _save(obj: object, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def cache_latents(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    """Encode training clips once with the finished VAE (posterior mean), in resumable chunks."""
    from studio.embedded.train import load_vae

    target = out / "latents.pt"
    if target.exists():
        return
    parts = out / "latent_parts"
    parts.mkdir(exist_ok=True)
    vae, _ = load_vae(out, sizes, torch.device("cpu"))
    vae.eval()
    count = args.latent_clips
    started = time.time()
    budget = getattr(args, "latent_minutes", LATENT_MINUTES) * 60.0
    for first in range(0, count, ENCODE_CHUNK):
        part = parts / f"{first:07d}.pt"
        if part.exists():
            continue
        if first > 0 and time.time() - started > budget:
            # On a shared CPU the transformer needs the time more; delete latents.pt and rerun to encode more.
            _log(out, f"latents: time budget spent, stopping at {first} clips")
            break
        latents, captions = [], []
        indices = list(range(first, min(first + ENCODE_CHUNK, count)))
        for start in range(0, len(indices), 10):
            # Seeds apart from the VAE stages' so the transformer sees clips the VAE never trained on.
            specs = [spec_for_seed(train_seed(300_000 + i, args.seed)) for i in indices[start : start + 10]]
            videos = np.stack([render(spec)[0] for spec in specs])
            with torch.no_grad():
                means = V.encode_clip_means(vae, V.to_tensor(videos))
            latents.extend(means)
            captions.extend(spec.caption for spec in specs)
        _save({"latents": torch.stack(latents), "captions": captions}, part)
        _log(out, f"latents: {min(first + ENCODE_CHUNK, count)}/{count} clips, {time.time() - started:.0f} s")
    chunks = [torch.load(p, weights_only=False) for p in sorted(parts.glob("*.pt"))]
    latents = torch.cat([c["latents"] for c in chunks])
    captions = [caption for c in chunks for caption in c["captions"]]
    mean = latents.mean(dim=(0, 2, 3, 4))
    std = latents.std(dim=(0, 2, 3, 4))
    _save({"latents": latents, "captions": captions, "mean": mean, "std": std}, target)
    _log(out, f"latents: {tuple(latents.shape)}, mean {mean.abs().mean():.3f}, std {std.mean():.3f}")


class PadSinkCrossAttention(WanAttnProcessor):
    """Cross-attention that stands one zero token, with a log(count) logit bias, for the hundreds of identical
    zero padding tokens the pipelines append. Softmax over m equal keys equals one key with log(m) added, so
    training sees exactly what inference computes at a fraction of the cost."""

    def __init__(self) -> None:
        super().__init__()
        self.bias: torch.Tensor | None = None

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):  # type: ignore[no-untyped-def]
        return super().__call__(attn, hidden_states, encoder_hidden_states, self.bias, rotary_emb)


def install_pad_sink(transformer: torch.nn.Module) -> PadSinkCrossAttention:
    processor = PadSinkCrossAttention()
    for block in transformer.blocks:
        block.attn2.set_processor(processor)
    return processor


def compact_prompt_embeds(
    tokenizer,  # type: ignore[no-untyped-def]
    text_encoder: torch.nn.Module,
    prompts: list[str],
    padded_lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings for the real tokens plus one zero pad token, and the attention bias that makes them
    equivalent to WanPipeline's zero padding to padded_lengths (default MAX_SEQUENCE_LENGTH) tokens."""
    inputs = tokenizer(
        prompts,
        padding="longest",
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
        truncation=True,
        max_length=C.MAX_SEQUENCE_LENGTH,
    )
    ids, mask = inputs.input_ids, inputs.attention_mask
    lengths = mask.sum(dim=1)
    batch, longest = ids.shape
    if longest > 0 and int(lengths.max()) > 0:
        hidden = text_encoder(ids, mask).last_hidden_state * mask[..., None].to(torch.float32)
    else:
        hidden = torch.zeros(batch, longest, text_encoder.config.d_model)
    embeds = torch.cat([hidden, hidden.new_zeros(batch, 1, hidden.shape[2])], dim=1)
    positions = torch.arange(longest + 1)[None]
    if padded_lengths is None:
        padded_lengths = torch.full((batch,), C.MAX_SEQUENCE_LENGTH)
    pads = (padded_lengths - lengths).clamp(min=1).to(torch.float32)
    bias = torch.where(positions < lengths[:, None], 0.0, float("-inf"))
    bias[positions == lengths[:, None]] = torch.log(pads)
    return embeds, bias[:, None, None, :]


def _sample_sigmas(batch: int, shift: float, generator: torch.Generator) -> torch.Tensor:
    # Shifted uniform sigmas: the same warp the scheduler applies at inference, so training effort goes
    # where inference spends its steps.
    u = torch.rand(batch, generator=generator)
    return shift * u / (1.0 + (shift - 1.0) * u)


def dit_step_loss(
    transformer: torch.nn.Module,
    text_encoder: torch.nn.Module,
    tokenizer,  # type: ignore[no-untyped-def]
    x0: torch.Tensor,
    captions: list[str],
    shift: float,
    generator: torch.Generator,
    image_rate: float = IMAGE_CONDITION_RATE,
) -> torch.Tensor:
    """Rectified-flow loss on normalised latents x0 [B, C, F, H, W]; per-token timesteps as Wan 2.2 TI2V."""
    batch, _, frames, height, width = x0.shape
    sigmas = _sample_sigmas(batch, shift, generator).to(x0)
    noise = torch.randn(x0.shape, generator=generator).to(x0)
    s = sigmas.view(batch, 1, 1, 1, 1)
    xt = (1.0 - s) * x0 + s * noise
    target = noise - x0
    # Image-to-video samples: frame 0 is the clean reference latent at timestep 0, and it is not scored.
    with_image = (torch.rand(batch, generator=generator) < image_rate).to(x0)
    frame_mask = torch.ones(batch, 1, frames, 1, 1, dtype=x0.dtype)
    frame_mask[:, :, 0] = 1.0 - with_image.view(batch, 1, 1, 1)
    xt = frame_mask * xt + (1.0 - frame_mask) * x0
    tokens_per_frame = (height // 2) * (width // 2)
    timestep = (frame_mask[:, 0, :, 0, 0] * sigmas[:, None] * 1000.0).repeat_interleave(
        tokens_per_frame, dim=1
    )
    # Random padded lengths teach the model to ignore how many zero pads follow the prompt, so a runtime
    # may pass a short max_sequence_length (much cheaper cross-attention) and get the same clip.
    choices = torch.tensor(PADDED_LENGTHS)
    padded = choices[torch.randint(len(choices), (batch,), generator=generator)]
    embeds, bias = compact_prompt_embeds(tokenizer, text_encoder, captions, padded)
    sink = transformer.blocks[0].attn2.processor
    if isinstance(sink, PadSinkCrossAttention):
        sink.bias = bias.to(x0)
    else:
        embeds = C.encode_prompts(tokenizer, text_encoder, captions)
    pred = transformer(hidden_states=xt, timestep=timestep, encoder_hidden_states=embeds, return_dict=False)[
        0
    ]
    weight = frame_mask.expand_as(x0)
    return ((pred - target).pow(2) * weight).sum() / weight.sum()


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p, 1.0 - decay)


def train_dit(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    device = (
        torch.device(args.device)
        if args.device
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    data = torch.load(out / "latents.pt", weights_only=False)
    latents = ((data["latents"] - data["mean"].view(1, -1, 1, 1, 1)) / data["std"].view(1, -1, 1, 1, 1)).to(
        device
    )
    captions: list[str] = data["captions"]
    tokenizer = C.build_tokenizer()
    transformer = C.build_transformer(sizes).to(device)
    text_encoder = C.build_text_encoder(sizes, len(tokenizer)).to(device)
    ema_transformer, ema_text = copy.deepcopy(transformer), copy.deepcopy(text_encoder)
    install_pad_sink(transformer)
    params = list(transformer.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.dit_lr, weight_decay=0.01)
    ckpt = out / "dit.pt"
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        transformer.load_state_dict(state["transformer"])
        text_encoder.load_state_dict(state["text_encoder"])
        ema_transformer.load_state_dict(state["ema_transformer"])
        ema_text.load_state_dict(state["ema_text_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    if step >= args.dit_steps:
        return
    _log(
        out,
        f"dit: from step {step} to {args.dit_steps}, transformer {C.parameter_count(transformer)}, "
        f"text encoder {C.parameter_count(text_encoder)}, {len(captions)} clips",
    )
    generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
    rng = random.Random(args.seed * 31 + step)
    transformer.train()
    text_encoder.train()
    started, seen, running = time.time(), 0, 0.0
    while step < args.dit_steps:
        index = rng.sample(range(len(captions)), args.dit_batch)
        batch_captions = ["" if rng.random() < CAPTION_DROPOUT else captions[i] for i in index]
        for group in optimizer.param_groups:
            group["lr"] = args.dit_lr * min(1.0, (step + 1) / 200)
        loss = dit_step_loss(
            transformer, text_encoder, tokenizer, latents[index], batch_captions, sizes.flow_shift, generator
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        _ema_update(ema_transformer, transformer, decay)
        _ema_update(ema_text, text_encoder, decay)
        step += 1
        seen += 1
        running += float(loss.detach())
        if step % 50 == 0 or step == args.dit_steps:
            _log(out, f"dit step {step} loss {running / 50:.4f} {(time.time() - started) / seen:.2f} s/step")
            running = 0.0
        if step % args.save_every == 0 or step == args.dit_steps:
            _save(
                {
                    "transformer": transformer.state_dict(),
                    "text_encoder": text_encoder.state_dict(),
                    "ema_transformer": ema_transformer.state_dict(),
                    "ema_text_encoder": ema_text.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": step,
                    "sizes": sizes.to_dict(),
                },
                ckpt,
            )


def export(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> Path:
    """Write the pipeline folder from the VAE and the EMA transformer/text encoder; returns the folder."""
    from studio.embedded.train import load_vae

    vae, _ = load_vae(out, sizes, torch.device("cpu"))
    data = torch.load(out / "latents.pt", weights_only=False)
    vae.register_to_config(
        latents_mean=[float(v) for v in data["mean"]], latents_std=[float(v) for v in data["std"]]
    )
    tokenizer = C.build_tokenizer()
    transformer = C.build_transformer(sizes)
    text_encoder = C.build_text_encoder(sizes, len(tokenizer))
    state = torch.load(out / "dit.pt", map_location="cpu", weights_only=False)
    transformer.load_state_dict(state["ema_transformer"])
    text_encoder.load_state_dict(state["ema_text_encoder"])
    folders = [out / "pipeline"] + ([args.export] if args.export else [])
    for folder in folders:
        C.save_pipeline(folder, vae.eval(), transformer.eval(), text_encoder.eval(), tokenizer, sizes)
        _log(out, f"export: wrote {folder} (dit step {state['step']})")
    return folders[-1]


def run_stage(stage: str, args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    if stage == "latents":
        cache_latents(args, out, sizes)
    elif stage == "dit":
        train_dit(args, out, sizes)
    elif stage == "export":
        export(args, out, sizes)
    else:
        raise ValueError(f"unknown stage {stage!r}")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
