"""Rendering one shot of a sequence: its chained segments, each starting on the previous segment's last frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from studio.directing import DirectingError
from studio.directing.shots import Shot, ShotSegment

# Part of every shot's key in the shot store (which outlives the process, and Studio's upgrades): raise it when
# a change here makes the same shot render other frames, so shots kept from before render again.
RECIPE_VERSION = 2  # 2: a continued segment's offset from the frame it continues fades out (seam_fade)

# Frames over which a continued segment's offset from the frame it continues fades out (see ``seam_fade``).
SEAM_FADE_FRAMES = 8


class FrameSink(Protocol):
    """Where a shot's frames go as they are made (``studio.media.framestore_spool.FrameSpool``)."""

    def append(self, frames: np.ndarray) -> None: ...


def render_shot(model: Any, shot: Shot, embeds: Any, request: Any, segments: list[ShotSegment],
                start: np.ndarray | None, out: FrameSink, *, on_step: Callable[[Any, int], None] | None = None,
                is_cancelled: Callable[[], bool] = lambda: False) -> int:
    """Render ``shot``: ``segments`` in turn with ``request``'s settings, each segment's frames (uint8
    [T, H, W, 3]) handed to ``out.append`` as soon as it is decoded; returns how many frames it appended.

    ``start`` is the first segment's first frame (image-to-video): the previous shot's last frame when the
    shot continues, or its character's picture; None draws the first frame from the text. Each later
    segment starts on the frame before it. Latents and frames are dropped segment by segment (``out`` is a
    ``FrameSpool`` on disk in the sequence node), so a two-minute shot holds one window in memory, never the
    shot. ``on_step(update, steps_done_before_this_segment)``.
    """
    from studio import runtime

    needs_i2v = start is not None or len(segments) > 1
    if needs_i2v and "i2v" not in model.capabilities:
        why = ("continues from the previous shot" if shot.continues
               else "starts from its character's picture" if start is not None
               else f"is longer than the model's window ({segments[0].frames} frames)")
        raise DirectingError(f"{shot.label} {why}, which needs image-to-video, and the model '{model.name}' "
                             "cannot do it", hint="use a model that does image-to-video (the embedded one "
                             "does), or make the shot a cut of at most one window without a character")
    appended = 0
    image = start
    for k, segment in enumerate(segments):
        piece_request = replace(request, num_frames=segment.frames, seed=shot.seed + k, image=image)

        def step(update, offset=k * request.steps) -> None:
            if on_step is not None:
                on_step(update, offset)

        latents = runtime.sample(model, embeds, piece_request, on_step=step, is_cancelled=is_cancelled)
        clip = runtime.decode(model, latents)
        del latents  # the next segment needs only the last frame
        if segment.keep_from == 1 and image is not None:
            clip = seam_fade(clip, image)
        kept = clip[segment.keep_from:segment.keep_from + segment.keep]
        if len(kept) < segment.keep:
            raise DirectingError(f"{shot.label}: the model returned {len(clip)} frames where {segment.frames} "
                                 "were asked for")
        out.append(kept)
        appended += len(kept)
        image = np.array(kept[-1])  # the next segment re-renders this frame and drops it: no frame shown twice
        del clip, kept
    return appended


def seam_fade(clip: np.ndarray, image: np.ndarray, frames: int = SEAM_FADE_FRAMES) -> np.ndarray:
    """``clip`` with its offset from ``image`` (the frame it continues, which its frame 0 redraws) faded out
    over its first ``frames`` frames.

    A model redraws the given frame with a small error (the VAE's round trip and the sampler: 2-3 of 255 on
    the embedded model), and the frames after it follow the redrawn frame, not the given one. Shown after the
    given frame, that error is a step at the seam on top of the motion. Adding the difference back, in full
    at frame 0 and fading to nothing by ``frames``, makes the seam one step of motion like the steps inside the
    shot, and leaves the rest of the segment as the model drew it."""
    if len(clip) < 2 or image.shape != clip.shape[1:]:
        return clip
    offset = image.astype(np.float32) - clip[0].astype(np.float32)
    out = clip.copy()
    for t in range(min(frames, len(clip))):
        weight = 1.0 - t / frames
        out[t] = np.clip(np.rint(clip[t].astype(np.float32) + weight * offset), 0, 255).astype(np.uint8)
    return out
