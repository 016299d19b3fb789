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


@contextmanager
def timed_text(model: Any, weights: np.ndarray, text_len: int) -> Iterator[None]:
    """Install the timed cross-attention on every block while a clip samples; always put the old one back."""
    import torch

    transformer = model.pipe.transformer
    if int(transformer.config.patch_size[0]) != 1:
        raise DirectingError("one-pass prompt schedules need a transformer with temporal patch size 1")
    tensor = torch.as_tensor(weights, dtype=torch.float32, device=model.execution_device)
    saved = []
    try:
        for block in transformer.blocks:
            saved.append((block.attn2, block.attn2.processor))
            block.attn2.processor = _TimedCrossAttention(block.attn2.processor, tensor, text_len)
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
