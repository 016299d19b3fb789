"""Training stages after the VAE: latent cache, transformer plus text encoder (t2v and i2v), pipeline export."""

from __future__ import annotations

import argparse
import copy
import random
import time
from pathlib import Path

import numpy as np
import torch
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from studio.embedded import components as C
from studio.embedded import vae_training as V
from studio.embedded.checkpoint import exists, load_checkpoint, load_latent_parts, save_checkpoint
from studio.embedded.runs import clipped_step, cosine_factor, device_for, load_vae, log
from studio.embedded.world import render, spec_for_seed, train_seed

CAPTION_DROPOUT = 0.1  # empty prompts, so classifier-free guidance has an unconditional model to push from
IMAGE_CONDITION_RATE = 0.5  # share of samples trained as image-to-video (first latent frame given, clean)
EMA_DECAY = 0.999
PADDED_LENGTHS = (32, 64, 128, 256, 512)
ENCODE_CHUNK = 250
LATENT_MINUTES = 10.0  # default time budget for encoding; parts already encoded are kept and reused


def _render_clips(seeds: list[int]) -> np.ndarray:
    return np.stack([render(spec_for_seed(seed))[0] for seed in seeds])


def _clip_seed(index: int, base_seed: int) -> int:
    # Seeds apart from the VAE stages' so the transformer sees clips the VAE never trained on.
    return train_seed(300_000 + index, base_seed)


def cache_latents(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> None:
    """Encode training clips once with the finished VAE (posterior mean), in resumable chunks."""
    target = out / "latents.json"
    if exists(target):
        return
    parts = out / "latent_parts"
    parts.mkdir(exist_ok=True)
    device = device_for(args)
    vae, _ = load_vae(out, sizes, device)
    vae.eval()
    count = args.latent_clips
    started = time.time()
    budget = getattr(args, "latent_minutes", LATENT_MINUTES) * 60.0
    workers = getattr(args, "workers", 0)
    pool = None
    if workers > 0:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(workers)
    try:
        for first in range(0, count, ENCODE_CHUNK):
            part = parts / f"{first:07d}.json"
            if exists(part):
                continue
            if first > 0 and time.time() - started > budget:
                # On a shared CPU the transformer needs the time more; delete latents.json and rerun to encode more.
                log(out, f"latents: time budget spent, stopping at {first} clips")
                break
            indices = list(range(first, min(first + ENCODE_CHUNK, count)))
            seed_groups = [
                [_clip_seed(i, args.seed) for i in indices[k : k + 10]] for k in range(0, len(indices), 10)
            ]
            rendered = pool.imap(_render_clips, seed_groups) if pool else map(_render_clips, seed_groups)
            latents, captions = [], []
            for seeds, videos in zip(seed_groups, rendered, strict=True):
                with torch.no_grad():
                    means = V.encode_clip_means(vae, V.to_tensor(videos).to(device))
                latents.append(means.cpu())
                captions.extend(spec_for_seed(seed).caption for seed in seeds)
            save_checkpoint({"latents": torch.cat(latents), "captions": captions}, part)
            log(
                out,
                f"latents: {min(first + ENCODE_CHUNK, count)}/{count} clips, {time.time() - started:.0f} s",
            )
    finally:
        if pool is not None:
            pool.terminate()
    latents, captions = load_latent_parts(parts)
    mean = latents.mean(dim=(0, 2, 3, 4))
    std = latents.std(dim=(0, 2, 3, 4))
    save_checkpoint({"latents": latents, "captions": captions, "mean": mean, "std": std}, target)
    log(out, f"latents: {tuple(latents.shape)}, mean {mean.abs().mean():.3f}, std {std.mean():.3f}")


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
    device = next(text_encoder.parameters()).device
    ids, mask = inputs.input_ids.to(device), inputs.attention_mask.to(device)
    lengths = mask.sum(dim=1)
    batch, longest = ids.shape
    if longest > 0 and int(lengths.max()) > 0:
        hidden = text_encoder(ids, mask).last_hidden_state * mask[..., None].to(torch.float32)
    else:
        hidden = torch.zeros(batch, longest, text_encoder.config.d_model, device=device)
    embeds = torch.cat([hidden, hidden.new_zeros(batch, 1, hidden.shape[2])], dim=1)
    positions = torch.arange(longest + 1, device=device)[None]
    if padded_lengths is None:
        padded_lengths = torch.full((batch,), C.MAX_SEQUENCE_LENGTH)
    pads = (padded_lengths.to(device) - lengths).clamp(min=1).to(torch.float32)
    bias = torch.where(positions < lengths[:, None], 0.0, float("-inf"))
    bias[positions == lengths[:, None]] = torch.log(pads)
    return embeds, bias[:, None, None, :]


def _sample_sigmas(batch: int, shift: float, generator: torch.Generator) -> torch.Tensor:
    # Shifted uniform sigmas: the same warp the scheduler applies at inference, so training effort goes
    # where inference spends its steps.
    u = torch.rand(batch, generator=generator, device=generator.device)
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
    noise = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0)
    s = sigmas.view(batch, 1, 1, 1, 1)
    xt = (1.0 - s) * x0 + s * noise
    target = noise - x0
    # Image-to-video samples: frame 0 is the clean reference latent at timestep 0, and it is not scored.
    with_image = (torch.rand(batch, generator=generator, device=generator.device) < image_rate).to(x0)
    frame_mask = torch.ones(batch, 1, frames, 1, 1, dtype=x0.dtype, device=x0.device)
    frame_mask[:, :, 0] = 1.0 - with_image.view(batch, 1, 1, 1)
    xt = frame_mask * xt + (1.0 - frame_mask) * x0
    tokens_per_frame = (height // 2) * (width // 2)
    timestep = (frame_mask[:, 0, :, 0, 0] * sigmas[:, None] * 1000.0).repeat_interleave(
        tokens_per_frame, dim=1
    )
    # Random padded lengths teach the model to ignore how many zero pads follow the prompt, so a runtime
    # may pass a short max_sequence_length (much cheaper cross-attention) and get the same clip.
    choices = torch.tensor(PADDED_LENGTHS)
    padded = choices[
        torch.randint(len(choices), (batch,), generator=generator, device=generator.device).cpu()
    ]
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
    device = device_for(args)
    data = load_checkpoint(out / "latents.json")
    latents = ((data["latents"] - data["mean"].view(1, -1, 1, 1, 1)) / data["std"].view(1, -1, 1, 1, 1)).to(
        device
    )
    captions: list[str] = data["captions"]
    tokenizer = C.build_tokenizer(getattr(args, "words", None))  # the richer world passes its words
    transformer = C.build_transformer(sizes).to(device)
    text_encoder = C.build_text_encoder(sizes, len(tokenizer)).to(device)
    ema_transformer, ema_text = copy.deepcopy(transformer), copy.deepcopy(text_encoder)
    install_pad_sink(transformer)
    params = list(transformer.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=args.dit_lr, weight_decay=0.01)
    ckpt = out / "dit.json"
    step = 0
    if exists(ckpt):
        state = load_checkpoint(ckpt, device)
        transformer.load_state_dict(state["transformer"])
        text_encoder.load_state_dict(state["text_encoder"])
        ema_transformer.load_state_dict(state["ema_transformer"])
        ema_text.load_state_dict(state["ema_text_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    if step >= args.dit_steps:
        return
    log(
        out,
        f"dit: from step {step} to {args.dit_steps}, transformer {C.parameter_count(transformer)}, "
        f"text encoder {C.parameter_count(text_encoder)}, {len(captions)} clips",
    )
    def save() -> None:
        modules = {"transformer": transformer, "text_encoder": text_encoder,
                   "ema_transformer": ema_transformer, "ema_text_encoder": ema_text, "optimizer": optimizer}
        state = {name: module.state_dict() for name, module in modules.items()}
        save_checkpoint(state | {"step": step, "sizes": sizes.to_dict()}, ckpt)

    generator = torch.Generator(device=device).manual_seed(args.seed * 1_000_003 + step)
    rng = random.Random(args.seed * 31 + step)
    transformer.train()
    text_encoder.train()
    started, seen, running = time.time(), 0, 0.0
    budget = getattr(args, "dit_minutes", 0.0) * 60.0
    cosine = getattr(args, "dit_schedule", "constant") == "cosine"
    first_step = step
    while step < args.dit_steps:
        elapsed = time.time() - started
        if budget and elapsed > budget:
            log(out, f"dit: time budget spent at step {step}")
            break
        index = rng.sample(range(len(captions)), args.dit_batch)
        batch_captions = ["" if rng.random() < CAPTION_DROPOUT else captions[i] for i in index]
        # Cosine decay to a tenth of the peak over the steps or the time budget, whichever ends first.
        progress = (step - first_step) / max(1, args.dit_steps - first_step)
        if budget:
            progress = max(progress, elapsed / budget)
        factor = cosine_factor(progress) if cosine else 1.0
        for group in optimizer.param_groups:
            group["lr"] = args.dit_lr * min(1.0, (step + 1) / 200) * factor
        loss = dit_step_loss(
            transformer, text_encoder, tokenizer, latents[index], batch_captions, sizes.flow_shift, generator
        )
        clipped_step(optimizer, loss, params)
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        _ema_update(ema_transformer, transformer, decay)
        _ema_update(ema_text, text_encoder, decay)
        step += 1
        seen += 1
        running += float(loss.detach())
        if step % 50 == 0 or step == args.dit_steps:
            log(out, f"dit step {step} loss {running / 50:.4f} {(time.time() - started) / seen:.2f} s/step")
            running = 0.0
        if step % args.save_every == 0 or step == args.dit_steps:
            save()
    save()  # also where a time budget stopped it


def export(args: argparse.Namespace, out: Path, sizes: C.ModelSizes) -> Path:
    """Write the pipeline folder from the VAE and the EMA transformer/text encoder; returns the folder."""
    vae, _ = load_vae(out, sizes, torch.device("cpu"))
    data = load_checkpoint(out / "latents.json", keys=("mean", "std"))  # not the whole latent cache
    vae.register_to_config(
        latents_mean=[float(v) for v in data["mean"]], latents_std=[float(v) for v in data["std"]]
    )
    tokenizer = C.build_tokenizer(getattr(args, "words", None))  # the richer world passes its words
    transformer = C.build_transformer(sizes)
    text_encoder = C.build_text_encoder(sizes, len(tokenizer))
    state = load_checkpoint(out / "dit.json")
    transformer.load_state_dict(state["ema_transformer"])
    text_encoder.load_state_dict(state["ema_text_encoder"])
    folders = [out / "pipeline"] + ([args.export] if args.export else [])
    for folder in folders:
        C.save_pipeline(folder, vae.eval(), transformer.eval(), text_encoder.eval(), tokenizer, sizes)
        log(out, f"export: wrote {folder} (dit step {state['step']})")
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
