"""Chained rendering of a prompt schedule: one segment per prompt (and blend step), each starting on the last frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from studio.directing import DirectingError
from studio.directing.prompts import plan_segments
from studio.runtime.recipes.steering import frame_step, with_starting_noise
from studio.values import PromptSchedule


def render_schedule(model: Any, schedule: PromptSchedule, request: Any, fps: float,
                    encode: Callable[[str], Any], *, noise: Any = None,
                    on_progress: Callable[[int, int, Any], None] | None = None,
                    is_cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
    """Frames uint8 [T, H, W, 3] for ``request`` with the prompt changing as ``schedule`` says.

    Image-to-video carries each segment's last frame into the next, so the clip stays one shot; the
    text embeddings of neighbouring prompts are mixed in the blend segments. ``noise`` (whole-clip
    starting latents in the pipeline's layout, Wan-style [B, C, F, h, w]) is sliced per segment.
    """
    from studio import runtime

    if request.video is not None:
        raise DirectingError("a prompt schedule cannot follow a guide clip yet",
                             hint="use one prompt with a guide clip, or steer the camera by 'noise'")
    step = frame_step(model)
    segments = plan_segments(schedule.sections, schedule.blend, request.num_frames, fps, step)
    if len(segments) > 1 and "i2v" not in model.capabilities:
        raise DirectingError(f"a prompt schedule renders as chained segments, and the model '{model.name}' cannot "
                             "start a segment from the previous one's last frame (no image-to-video)",
                             hint="use a model that does image-to-video (the embedded one does), or one prompt")
    encoded: dict[int, Any] = {}
    for segment in segments:
        for index, _weight in segment.weights:
            if index not in encoded:
                encoded[index] = encode(schedule.sections[index][1])
    total = request.steps * len(segments)
    done = 0
    pieces: list[np.ndarray] = []
    first_image = request.image
    for k, segment in enumerate(segments):
        parts = [(encoded[i], w) for i, w in segment.weights]
        embeds = parts[0][0] if len(parts) == 1 else replace(parts[0][0], tensors=mix_embeddings(parts))
        piece_request = replace(request, num_frames=segment.num_frames, seed=request.seed + k,
                                image=first_image if k == 0 else pieces[-1][-1])
        if noise is not None:
            if model.spec.layout != "bcfhw":
                raise DirectingError("a prompt schedule with camera noise works with Wan-style models only")
            lo, hi = segment.start // step, segment.end // step + 1
            embeds = with_starting_noise(embeds, piece_request, noise[:, :, lo:hi].contiguous())

        def on_step(update, offset=done) -> None:
            if on_progress is not None:
                on_progress(offset + update.step, total, update.preview)

        latents = runtime.sample(model, embeds, piece_request, on_step=on_step, is_cancelled=is_cancelled)
        clip = runtime.decode(model, latents)
        done += request.steps
        pieces.append(clip if k == 0 else clip[1:])
    return np.concatenate(pieces, axis=0)


def mix_embeddings(parts: list[tuple[Any, float]]) -> dict:
    """The weighted sum of encoded prompts' tensors (attention masks are joined, not mixed)."""
    first = parts[0][0]
    mixed = {}
    for name, tensor in first.tensors.items():
        if "mask" in name:
            out = tensor
            for embeds, _w in parts[1:]:
                out = out.maximum(embeds.tensors[name])
        else:
            out = sum(embeds.tensors[name] * float(weight) for embeds, weight in parts)
        mixed[name] = out
    return mixed
