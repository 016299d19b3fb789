"""Prompt schedules: different prompts over time with blends, planned as chained segments a model can render."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.directing import DirectingError


def cue_times(values: Any, fps: float, level: float = 0.5) -> list[float]:
    """Seconds at which a signal rises through ``level``: the cues a schedule entry can wait for."""
    above = np.asarray(values, dtype=np.float64) >= level
    rises = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above.size and above[0]:
        rises = np.concatenate([[0], rises])
    return [float(f) / fps for f in rises]


def parse_schedule(data: Any, first_prompt: str, cues: list[float] | None = None) -> tuple[tuple[float, str], ...]:
    """Sections from JSON data like [{"time": 2.0, "prompt": "..."}]; the node's own prompt plays from 0.

    An entry may give {"cue": n} instead of a time: it takes over when the cue signal rises for the
    n-th time (a drop in the music, say); ``cues`` are those moments in seconds.
    """
    if not isinstance(data, list):
        raise DirectingError('a prompt schedule must be a list like [{"time": 2.0, "prompt": "at sunset"}]')
    sections: list[tuple[float, str]] = [(0.0, first_prompt)] if first_prompt else []
    for index, item in enumerate(data):
        where = f"schedule entry {index + 1}"
        if not isinstance(item, dict) or set(item) - {"time", "prompt", "cue"}:
            raise DirectingError(f"{where} must be an object with 'time' (seconds) or 'cue', and 'prompt'")
        time, prompt = item.get("time"), item.get("prompt")
        if "cue" in item:
            cue = item["cue"]
            if isinstance(cue, bool) or not isinstance(cue, int) or cue < 1:
                raise DirectingError(f"{where}: 'cue' must be 1 for the first rise of the cue signal, 2 for the "
                                     f"second, ... (got {cue!r})")
            if cues is None:
                raise DirectingError(f"{where} waits for cue {cue}, but no cue signal is connected",
                                     hint="connect a signal to the Text node's 'cue' input, or give a time")
            if cue > len(cues):
                raise DirectingError(f"{where} waits for cue {cue}, but the cue signal rises only {len(cues)} "
                                     "time(s)", hint="lower the cue number or the Signal Math threshold")
            time = cues[cue - 1]
        if isinstance(time, bool) or not isinstance(time, int | float) or not math.isfinite(time) or time < 0:
            raise DirectingError(f"{where} needs a 'time' in seconds, 0 or more (got {time!r})")
        if not isinstance(prompt, str) or not prompt.strip():
            raise DirectingError(f"{where} needs a non-empty 'prompt'")
        if sections and time <= sections[-1][0]:
            if time == 0 and index == 0 and sections[0][0] == 0:
                sections[0] = (0.0, prompt.strip())  # an entry at 0 replaces the node's prompt
                continue
            raise DirectingError(f"schedule entries are out of order: {where} at {time:g} s does not come after "
                                 f"{sections[-1][0]:g} s", hint="sort the entries by time")
        sections.append((float(time), prompt.strip()))
    if not sections:
        raise DirectingError("the prompt schedule is empty", hint="write a prompt or add schedule entries")
    if sections[0][0] > 0:
        sections.insert(0, (0.0, sections[0][1]))
    return tuple(sections)


@dataclass(frozen=True)
class Segment:
    """One piece of a chained render: frames [start, end] (inclusive), with prompt weights {section: weight}."""

    start: int
    end: int
    weights: tuple[tuple[int, float], ...]

    @property
    def num_frames(self) -> int:
        return self.end - self.start + 1


def plan_segments(sections: tuple[tuple[float, str], ...], blend: float, num_frames: int, fps: float,
                  step: int) -> list[Segment]:
    """Split a clip into chained segments of valid length (step*k + 1) that share their boundary frame.

    Each prompt change becomes a boundary at the nearest multiple of ``step``; a blend of ``blend``
    seconds becomes short transition segments whose prompt weights ramp from the old prompt to the new.
    """
    if (num_frames - 1) % step:
        raise DirectingError(f"a chained render needs {step}k+1 frames (got {num_frames})")
    last = num_frames - 1
    bounds: list[tuple[int, int]] = []  # (frame, section index that starts there)
    for index, (time, _prompt) in enumerate(sections):
        frame = int(round(time * fps / step)) * step
        if index == 0:
            frame = 0
        elif frame <= (bounds[-1][0] if bounds else 0) or frame >= last:
            continue  # too close to the previous change (or past the end): merged away
        bounds.append((frame, index))
    ramp = max(0, int(round(blend * fps / step)))  # transition segments per change, each `step` frames
    segments: list[Segment] = []
    for position, (frame, index) in enumerate(bounds):
        end = bounds[position + 1][0] if position + 1 < len(bounds) else last
        start = frame
        if position > 0 and ramp:
            previous = bounds[position - 1][1]
            room = (end - start) // step - 1  # keep at least one plain step of the new prompt
            for k in range(min(ramp, max(room, 0))):
                share = (k + 1) / (min(ramp, room) + 1)
                segments.append(Segment(start, start + step, ((previous, 1.0 - share), (index, share))))
                start += step
        if end > start:
            segments.append(Segment(start, end, ((index, 1.0),)))
    if not segments:
        segments.append(Segment(0, last, ((0, 1.0),)))
    return segments


def section_weights(sections: tuple[tuple[float, str], ...], blend: float, num_frames: int,
                    fps: float) -> np.ndarray:
    """Weights [K, num_frames], summing to 1 per frame: each prompt fades in over ``blend`` seconds around its time.

    What a one-pass schedule (``studio.runtime.recipes.timed_text``) mixes the prompts by.
    """
    times = np.arange(num_frames) / fps
    k = len(sections)
    weights = np.zeros((k, num_frames))
    # share of the clip each prompt "owns" from its start on: a ramp from 0 to 1 around the start
    owns = np.ones((k, num_frames))
    for i in range(1, k):
        start = sections[i][0]
        if blend > 0:
            owns[i] = np.clip((times - (start - blend / 2)) / blend, 0.0, 1.0)
        else:
            owns[i] = (times >= start).astype(float)
    # each later prompt takes over its share from everything before it
    remaining = np.ones(num_frames)
    for i in range(k - 1, -1, -1):
        weights[i] = remaining * owns[i]
        remaining = remaining - weights[i]
    return weights


def latent_weights(weights: np.ndarray, temporal: int, latent_frames: int) -> np.ndarray:
    """Per-latent-frame weights: the first latent frame is frame 0, each later one the mean of its group."""
    k, n = weights.shape
    out = np.zeros((k, latent_frames))
    out[:, 0] = weights[:, 0]
    for j in range(1, latent_frames):
        lo, hi = (j - 1) * temporal + 1, min(j * temporal + 1, n)
        out[:, j] = weights[:, lo:hi].mean(axis=1) if hi > lo else weights[:, min(lo, n - 1)]
    return out


@dataclass(frozen=True, eq=False)
class SectionDecode:
    """One scene's stretch of a one-pass schedule, decoded on its own: the latent frames ``latents`` (an edge
    one repeated where the stretch must reach past the frames its prompts own) decode to the clip's frames from
    ``first_frame`` on, and frame f of the clip takes ``weights[f]`` of it (0: not this scene's)."""

    sections: tuple[int, ...]  # the schedule's prompts whose frames it holds
    latents: tuple[int, ...]
    first_frame: int
    weights: np.ndarray  # [num_frames of the clip]
    temporal: int  # clip frames per latent frame

    @property
    def num_frames(self) -> int:
        """Frames the decode gives: the first latent frame one, every later one ``temporal``."""
        return 1 + (len(self.latents) - 1) * self.temporal


# A prompt change whose latent step is this many times the clip's median step drew a new scene, not the old one
# moving on. The prompt-schedule example's change (red circle on gray -> green square on white): 6.5; changes of
# motion, size or background alone on the embedded model: 0.5-1.05, as any other step.
CUT_RATIO = 3.0


def plan_section_decodes(weights: np.ndarray, temporal: int, latent_frames: int,
                         steps: np.ndarray | None = None) -> list[SectionDecode]:
    """How to decode a one-pass schedule so that a prompt change to another scene plays as a cross-dissolve.

    The sampler draws each latent frame as one prompt's scene or the other's, not a mix (the embedded model:
    a red circle on gray in one latent frame, a green square on white in the next, at weights 0.19 and 0.94
    of the new prompt). Decoded as one clip, a video VAE's time layers then morph the two unrelated scenes
    into each other over the frames of the later latent frame: blobs of both colours, the old object's specks
    lingering a few frames more. Decoded apart, each scene's stretch is clean; a stretch is held on its edge
    latent frame past where its prompts end, and ``weights`` [K, num_frames] (``section_weights``) mix the
    stretches frame by frame. ``steps`` [latent_frames - 1]: how far each latent frame is from the one before;
    a change no bigger than the clip's other steps (the same scene moving on) stays in one stretch, decoded as
    one clip as before. Without ``steps`` every change is a cut. A prompt too short to own a latent frame gives
    its share to the one that owns it.
    """
    k, n = weights.shape
    dominant = latent_weights(weights, temporal, latent_frames).argmax(axis=0)
    # the latent frame each clip frame decodes from: frame 0 from latent 0, then ``temporal`` frames each
    of_frame = np.minimum(np.concatenate([[0], (np.arange(1, n) - 1) // temporal + 1]), latent_frames - 1)
    shares = np.array(weights, dtype=np.float64)
    owners = sorted({int(i) for i in dominant})
    for i in range(k):
        if i not in owners:
            np.add.at(shares, (dominant[of_frame], np.arange(n)), shares[i])
            shares[i] = 0.0
    # scenes: runs of latent frames between the cuts, each with the prompts that own its frames
    changes = np.flatnonzero(dominant[1:] != dominant[:-1]) + 1  # the first latent frame of a new owner
    if steps is not None and len(changes):
        steps = np.asarray(steps, dtype=np.float64)
        typical = float(np.median(np.delete(steps, changes - 1))) if len(steps) > len(changes) else 0.0
        changes = np.array([c for c in changes if steps[c - 1] > CUT_RATIO * typical], dtype=int)
    bounds = [0, *changes.tolist(), latent_frames]
    plans = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        prompts = sorted({int(i) for i in dominant[lo:hi]})
        share = shares[prompts].sum(axis=0)
        seen = np.flatnonzero(share > 0)
        start, end = int(of_frame[seen.min()]), int(of_frame[seen.max()])
        picks = [min(max(j, lo), hi - 1) for j in range(start, end + 1)]
        first = 0
        if start > 0:  # a decode opens on one frame: one more latent frame before it makes ``start`` decode whole
            picks.insert(0, picks[0])
            first = temporal * (start - 1)
        plans.append(SectionDecode(tuple(prompts), tuple(picks), first, share, temporal))
    return plans
