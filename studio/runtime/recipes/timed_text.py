"""Prompt schedules in one pass on Wan models: each latent frame attends to its own blend of the prompts.

Wan's transformer reads the text only through the cross-attention in each block. The encoded prompts
go in side by side (K prompts x 512 tokens); a processor wrapped around each cross-attention attends
to every prompt separately and mixes the results frame by frame with the schedule's weights, so a
prompt change is a smooth blend over time inside a single clip. The weights are planned by
``studio.directing.prompts.section_weights``; torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from studio.directing import DirectingError


def supports(model: Any) -> bool:
    """One-pass schedules need a Wan transformer whose cross-attention sees text alone (no image tokens)."""
    spec = getattr(model, "spec", None)
    if spec is None or not spec.supports_timed_text or getattr(model, "pipe", None) is None:
        return False
    blocks = getattr(model.pipe.transformer, "blocks", None)
    return bool(blocks) and all(getattr(block.attn2, "add_k_proj", None) is None for block in blocks)


class _TimedCrossAttention:
    """Wraps a cross-attention processor: K prompts side by side in, per-frame weighted mix out."""

    def __init__(self, inner: Any, weights: Any, text_len: int) -> None:
        self.inner = inner
        self.weights = weights  # torch [K, F] on the model's device
        self.text_len = text_len

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None,
                 **kwargs):
        k, frames = self.weights.shape
        if encoder_hidden_states is None or encoder_hidden_states.shape[1] != k * self.text_len:
            # the negative prompt (one prompt's worth of tokens) and anything else pass through untouched
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb, **kwargs)
        tokens = hidden_states.shape[1]
        per_frame = tokens // frames
        out = None
        for i in range(k):
            weight = self.weights[i]
            if float(weight.abs().max()) == 0.0:
                continue
            part = self.inner(attn, hidden_states,
                              encoder_hidden_states[:, i * self.text_len:(i + 1) * self.text_len],
                              attention_mask, rotary_emb, **kwargs)
            # tokens are laid out frame by frame (patch size 1 in time): weight each frame's tokens
            scale = weight.repeat_interleave(per_frame).to(part.dtype).view(1, tokens, 1)
            out = part * scale if out is None else out + part * scale
        return out


class _WindowedSelfAttention:
    """Wraps a self-attention processor so that each latent frame attends only to frames within ``radius``.

    A model sees, during training, clips of a certain length; in a longer clip every frame otherwise attends to
    every other one, and the whole clip is pulled towards one scene: after a prompt change the background
    follows the new prompt but the new object never forms (the embedded model, 65 frames, seeds 7, 1, 2, 3).
    Within a window of the trained length each frame sees what it saw in training, so the new prompt takes
    over where the schedule says and the old scene still leads into it through the overlapping windows.
    """

    def __init__(self, inner: Any, frames: int, radius: int) -> None:
        self.inner, self.frames, self.radius = inner, frames, radius
        self._mask: Any = None

    def _mask_for(self, tokens: int, device: Any) -> Any:
        import torch

        if self._mask is None or self._mask.shape[-1] != tokens or self._mask.device != device:
            frame = torch.arange(tokens, device=device) // (tokens // self.frames)
            self._mask = ((frame[:, None] - frame[None, :]).abs() <= self.radius)[None, None]
        return self._mask

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None,
                 **kwargs):
        tokens = hidden_states.shape[1]
        if (encoder_hidden_states is None and attention_mask is None and tokens % self.frames == 0
                and tokens * tokens <= MAX_MASK_ELEMENTS):
            attention_mask = self._mask_for(tokens, hidden_states.device)
        return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb, **kwargs)


# The largest window mask (tokens x tokens, one byte each) worth building; past it the clip renders with full
# attention as before. The embedded model's 65-frame schedule needs 272 x 272; a large model's clip far more.
MAX_MASK_ELEMENTS = 64 * 1024 * 1024


def window_radius(model: Any, latent_frames: int) -> int | None:
    """How many latent frames either side each frame may see, for a clip of ``latent_frames`` on ``model``:
    None (everything) unless the clip is longer than the length the model recommends, which is the length it
    was trained on (the embedded model: 17 frames, 5 latent frames, so 2 either side)."""
    from studio.runtime import families

    trained = model.defaults.get("num_frames") if isinstance(getattr(model, "defaults", None), dict) else None
    if not trained:
        return None
    span = families.geometry(model.spec, model.pipe).latent_frames(int(trained))
    if latent_frames <= span:
        return None
    return max(1, span // 2)


@contextmanager
def timed_text(model: Any, weights: np.ndarray, text_len: int, window: int | None = None) -> Iterator[None]:
    """Install the timed cross-attention on every block while a clip samples; always put the old one back.

    ``window``: each latent frame's self-attention sees only the frames this many either side (None: all).
    """
    import torch

    transformer = model.pipe.transformer
    if int(transformer.config.patch_size[0]) != 1:
        raise DirectingError("one-pass prompt schedules need a transformer with temporal patch size 1")
    tensor = torch.as_tensor(weights, dtype=torch.float32, device=model.execution_device)
    frames = int(weights.shape[1])
    saved = []
    try:
        for block in transformer.blocks:
            saved.append((block.attn2, block.attn2.processor))
            block.attn2.processor = _TimedCrossAttention(block.attn2.processor, tensor, text_len)
            if window is not None:
                saved.append((block.attn1, block.attn1.processor))
                block.attn1.processor = _WindowedSelfAttention(block.attn1.processor, frames, window)
        yield
    finally:
        for module, processor in saved:
            module.processor = processor


def side_by_side(embeds: list[Any]) -> tuple[Any, int]:
    """One PromptEmbeds holding every prompt's tokens in a row (the first prompt's negative stays as it is)."""
    import torch

    first = embeds[0]
    lengths = {e.tensors["prompt_embeds"].shape[1] for e in embeds}
    if len(lengths) != 1:
        raise DirectingError("the prompts were encoded to different lengths and cannot be scheduled in one pass")
    tensors = dict(first.tensors)
    tensors["prompt_embeds"] = torch.cat([e.tensors["prompt_embeds"] for e in embeds], dim=1)
    return replace(first, tensors=tensors), lengths.pop()
