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
RECIPE_VERSION = 3  # 2: the redraw's offset faded out (seam_fade); 3: the continued frame carried and dissolved (seam_blend)

# Frames over which the frame a segment continues, carried along the segment's motion, dissolves into the
# segment's own frames (see ``seam_blend``).
SEAM_BLEND_FRAMES = 8
# Optical flow is estimated on frames at most this size (longer side): the carried frame moves by a few pixels
# a frame, which a smaller picture measures as well (an 832x480 seam blends in under half a second on one core).
FLOW_SIZE = 320


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
            clip = seam_blend(clip, image)
        kept = clip[segment.keep_from:segment.keep_from + segment.keep]
        if len(kept) < segment.keep:
            raise DirectingError(f"{shot.label}: the model returned {len(clip)} frames where {segment.frames} "
                                 "were asked for")
        out.append(kept)
        appended += len(kept)
        image = np.array(kept[-1])  # the next segment re-renders this frame and drops it: no frame shown twice
        del clip, kept
    return appended


def seam_blend(clip: np.ndarray, image: np.ndarray, frames: int = SEAM_BLEND_FRAMES) -> np.ndarray:
    """``clip`` (whose frame 0 redraws ``image``, the frame it continues) opening on ``image`` carried along the
    clip's own motion, dissolved into the clip's frames over its first ``frames`` frames.

    Shown after ``image``, the model's frame 1 differs from it by more than a step of motion: the redraw's
    error (the VAE's round trip and the sampler: 2-3 of 255 on the embedded model), and the fresh grain and
    edge colours of a frame the VAE decodes in a video where frame 0 was decoded as a still (on the embedded
    model the background alone changed 1.1 across a seam against 0.64 inside shots, the object 1.35 against
    1.31). Fading the redraw's offset out (recipe 2) left that grain step in place: 19 of 25 seams within the
    in-shot p95 of a 50-shot run. Here frame t is ``image`` moved by the clip's optical flow from frame 0 to
    t (chained frame to frame, each a step of a pixel or two, where flow is reliable), weighted 1 - t/frames,
    plus the clip's own frame t for the rest: the seam is one step of the model's motion, and the grain and
    redraw error come in a share per frame. The motion, and the rest of the segment, are the model's."""
    if len(clip) < 2 or image.shape != clip.shape[1:] or image.ndim != 3 or frames < 2:
        return clip
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, FLOW_SIZE / max(height, width))
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    count = min(frames, len(clip))
    greys = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in clip[:count]]
    if scale < 1.0:
        greys = [cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in greys]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    out = clip.copy()
    out[0] = image
    carried = image.astype(np.float32)
    for t in range(1, count):
        # where each pixel of frame t was in frame t-1: ``carried`` sampled there is moved into frame t
        flow = cv2.calcOpticalFlowFarneback(greys[t], greys[t - 1], None, 0.5, 3, 15, 3, 5, 1.1, 0)
        if scale < 1.0:
            flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) * np.float32(
                [width / size[0], height / size[1]])
        carried = cv2.remap(carried, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        weight = 1.0 - t / frames
        mixed = weight * carried + (1.0 - weight) * clip[t].astype(np.float32)
        out[t] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out
