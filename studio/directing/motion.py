"""Global motion of a rendered clip (phase correlation, tracked features) and its adherence to a camera track."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.directing import DirectingError
from studio.directing.camera import CameraTrack

HELD_CHANGE = 0.5  # mean abs change (0-255) under which two frames show the same picture


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """Mean absolute change (0-255) between each frame and the next: [T - 1] for uint8 [T, H, W, 3]. Flicker shows
    as spikes, a held picture as zeros (the sequence seams, the embedded VAE's held frames, the Metrics panel)."""
    clip = np.asarray(frames, dtype=np.float32)
    if len(clip) < 2:
        return np.zeros(0, np.float32)
    return np.abs(np.diff(clip, axis=0)).reshape(len(clip) - 1, -1).mean(axis=1)


def _gray(frames: np.ndarray) -> np.ndarray:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 2:
        raise DirectingError(f"motion needs a clip of at least 2 frames [T, H, W, 3]; got shape {frames.shape}")
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    return (frames.astype(np.float32) @ weights) / 255.0


def phase_shifts(frames: np.ndarray) -> np.ndarray:
    """Translation of the content from each frame to the next, [T-1, 2] (dx, dy) in pixels (subpixel)."""
    import cv2

    gray = _gray(frames)
    window = cv2.createHanningWindow(gray.shape[1:][::-1], cv2.CV_32F)
    out = np.zeros((gray.shape[0] - 1, 2))
    for t in range(1, gray.shape[0]):
        (dx, dy), _response = cv2.phaseCorrelate(gray[t - 1], gray[t], window)
        out[t - 1] = (dx, dy)
    return out


ESTIMATE_SIZE = 320  # larger frames are measured at this longer side: subpixel methods lose little


def similarity_steps(frames: np.ndarray, min_points: int = 12) -> np.ndarray:
    """Frame-to-frame similarity transforms [T-1, 3, 3] (shift, zoom, roll) from tracked corners.

    Corners are tracked with pyramidal Lucas-Kanade both ways (a point that does not come back is
    dropped), and a similarity is fitted with RANSAC; it competes with intensity-based estimates
    (phase correlation, ECC) and the one that best explains the next frame wins.
    """
    import cv2

    gray = (_gray(frames) * 255).astype(np.uint8)
    height, width = gray.shape[1:]
    k = min(1.0, ESTIMATE_SIZE / max(height, width))
    if k < 1.0:
        size = (max(8, round(width * k)), max(8, round(height * k)))
        gray = np.stack([cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in gray])
        small = similarity_steps_at(gray, min_points)
        # a step measured on frames scaled by k, in full-size pixels: S^-1 M S
        scale = np.diag([size[0] / width, size[1] / height, 1.0])
        return np.linalg.inv(scale) @ small @ scale
    return similarity_steps_at(gray, min_points)


def similarity_steps_at(gray: np.ndarray, min_points: int = 12) -> np.ndarray:
    """similarity_steps on uint8 grey frames [T, H, W] at their own size."""
    import cv2

    height, width = gray.shape[1:]
    out = np.tile(np.eye(3), (gray.shape[0] - 1, 1, 1))
    spacing = max(3, min(height, width) // 40)
    for t in range(1, gray.shape[0]):
        prev, cur = gray[t - 1], gray[t]
        points = cv2.goodFeaturesToTrack(prev, maxCorners=400, qualityLevel=0.01, minDistance=spacing, blockSize=5)
        fitted: list[np.ndarray] = []
        if points is not None and len(points) >= min_points:
            params = dict(winSize=(21, 21), maxLevel=3,
                          criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.001))
            moved, ok, _ = cv2.calcOpticalFlowPyrLK(prev, cur, points, None, **params)
            back, ok_back, _ = cv2.calcOpticalFlowPyrLK(cur, prev, moved, None, **params)
            good = (ok.ravel() == 1) & (ok_back.ravel() == 1) & (np.linalg.norm(back - points, axis=2).ravel() < 0.3)
            if good.sum() >= min_points:
                matrix, _inliers = cv2.estimateAffinePartial2D(points[good], moved[good], method=cv2.RANSAC,
                                                               ransacReprojThreshold=0.5, refineIters=20)
                if matrix is not None:
                    fitted.append(np.vstack([matrix, [0, 0, 1]]))
                # an orbit turns the picture in depth: only a homography describes that
                homography, _mask = cv2.findHomography(points[good], moved[good], cv2.RANSAC, 0.5)
                if homography is not None and abs(homography[2, 2]) > 1e-9:
                    fitted.append(homography / homography[2, 2])
        out[t - 1] = _aligned(prev, cur, fitted)
    return out


def _residual(prev: np.ndarray, cur: np.ndarray, step: np.ndarray) -> float:
    """Mean absolute difference between the current frame and the previous one moved by ``step``, inside the frame."""
    import cv2

    height, width = prev.shape
    inner = (slice(height // 10, height - height // 10), slice(width // 10, width - width // 10))
    moved = cv2.warpPerspective(prev.astype(np.float32), step, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
    return float(np.abs(moved[inner] - cur.astype(np.float32)[inner]).mean())


def _aligned(prev: np.ndarray, cur: np.ndarray, corners: list[np.ndarray] = ()) -> np.ndarray:
    """The step that best explains ``cur`` from ``prev`` among a few estimates, by photometric residual.

    Flat frames (a shape on a plain background) have few corners, and corners on a smooth edge slide
    along it; so phase correlation gives a shift, ECC refines a translation from it and then a full
    affine step (which also catches a zoom or roll from the shape's edges), and the corner fit, when
    there is one, competes too. ECC alone can stall on nearly uniform frames, hence the contest.
    """
    import cv2

    height, width = prev.shape
    a, b = prev.astype(np.float32) / 255.0, cur.astype(np.float32) / 255.0
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(a - a.mean(), b - b.mean(), window)
    candidates = [np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float64)]
    candidates.extend(corners)
    if float(a.std()) > 1e-3:
        # ECC finds W with cur(W x) = prev(x): W carries a point of the previous frame to the current one.
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
        warp = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        for motion_type in (cv2.MOTION_TRANSLATION, cv2.MOTION_AFFINE):
            try:
                _, warp = cv2.findTransformECC(a, b, warp.copy(), motion_type, criteria, None, 5)
            except cv2.error:
                break
            step = np.vstack([warp.astype(np.float64), [0, 0, 1]])
            if np.all(np.isfinite(step)) and abs(np.linalg.det(step[:2, :2]) - 1.0) < 0.5:
                candidates.append(step)
        candidates.append(_zoom_search(prev, cur, a, b, window))
    return min(candidates, key=lambda step: _residual(prev, cur, step))


def _zoom_search(prev: np.ndarray, cur: np.ndarray, a: np.ndarray, b: np.ndarray, window: np.ndarray,
                 low: float = 0.8, high: float = 1.25) -> np.ndarray:
    """Scale about the centre plus a phase-correlated shift, searched coarse to fine by residual.

    For flat frames, where neither corners nor ECC see a zoom reliably: a shape's edges still do.
    """
    import cv2

    height, width = a.shape
    cx, cy = width / 2.0, height / 2.0

    b_centred = b - b.mean()

    def step_for(scale: float) -> np.ndarray:
        zoom = np.array([[scale, 0, cx * (1 - scale)], [0, scale, cy * (1 - scale)], [0, 0, 1]])
        zoomed = cv2.warpAffine(a, zoom[:2], (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
        (dx, dy), _ = cv2.phaseCorrelate(zoomed - zoomed.mean(), b_centred, window)
        shifted = np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]]) @ zoom
        # a nearly uniform frame can fool the correlation: the pure zoom competes with it
        return min((shifted, zoom), key=lambda step: _residual(prev, cur, step))

    logs = np.linspace(np.log(low), np.log(high), 15)
    best = min(logs, key=lambda v: _residual(prev, cur, step_for(float(np.exp(v)))))
    spacing = logs[1] - logs[0]
    for _ in range(3):
        spacing /= 4
        best = min(best + spacing * np.arange(-3, 4),
                   key=lambda v: _residual(prev, cur, step_for(float(np.exp(v)))))
    return step_for(float(np.exp(best)))


def _apply(matrices: np.ndarray, points: np.ndarray) -> np.ndarray:
    homog = np.concatenate([points, np.ones((len(points), 1))], axis=1)
    moved = homog @ np.swapaxes(matrices, -1, -2)
    return moved[..., :2] / moved[..., 2:3]


def grid_points(width: int, height: int, n: int = 9) -> np.ndarray:
    """A grid over the middle 80% of the frame, where the error is measured."""
    xs = np.linspace(0.1 * width, 0.9 * width, n)
    ys = np.linspace(0.1 * height, 0.9 * height, n)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


@dataclass
class Adherence:
    """How closely a clip's motion follows the requested camera: errors in pixels per frame."""

    mean_error_px: float  # mean over frame steps of the mean point displacement error
    max_error_px: float
    requested_px: float  # mean requested motion per frame (how much there was to follow)
    measured_px: float  # mean measured motion per frame
    direction_agreement: float  # cosine between the requested and measured motion of the grid, summed (-1..1)
    per_step: np.ndarray  # [T-1] error per frame step

    def as_dict(self) -> dict:
        return {k: (round(float(v), 3) if not isinstance(v, np.ndarray) else v.round(3).tolist())
                for k, v in self.__dict__.items()}


def adherence(frames: np.ndarray, track: CameraTrack, method: str = "similarity", stride: int = 1) -> Adherence:
    """Compare the clip's measured frame-to-frame motion with the track's, at a grid of points.

    ``stride`` > 1 compares every stride-th frame (figures stay per frame): for a model whose clip
    changes only once per latent frame (a VAE that repeats each latent frame), or a slow camera whose
    frame-to-frame motion is a fraction of a pixel, stride 4 measures what it can follow rather than noise.
    """
    if frames.shape[0] != track.num_frames:
        raise DirectingError(f"the clip has {frames.shape[0]} frames but the camera track {track.num_frames}")
    if stride > 1:
        coarse = adherence(frames[::stride], CameraTrack(track.values[::stride], track.fps / stride,
                                                         track.parallax), method)
        return Adherence(coarse.mean_error_px / stride, coarse.max_error_px / stride, coarse.requested_px / stride,
                         coarse.measured_px / stride, coarse.direction_agreement, coarse.per_step / stride)
    height, width = frames.shape[1:3]
    expected = track.steps(width, height)
    if method == "phase":
        shifts = phase_shifts(frames)
        measured = np.tile(np.eye(3), (len(shifts), 1, 1))
        measured[:, 0, 2], measured[:, 1, 2] = shifts[:, 0], shifts[:, 1]
    elif method == "similarity":
        measured = similarity_steps(frames)
    else:
        raise DirectingError(f"unknown motion method '{method}'", hint="use 'similarity' or 'phase'")
    points = grid_points(width, height)
    exp_pts = _apply(expected, points)  # [T-1, P, 2]
    got_pts = _apply(measured, points)
    errors = np.linalg.norm(exp_pts - got_pts, axis=-1).mean(axis=1)
    requested = np.linalg.norm(exp_pts - points[None], axis=-1).mean(axis=1)
    observed = np.linalg.norm(got_pts - points[None], axis=-1).mean(axis=1)
    # The whole grid's summed motion, not only the centre's: a zoom or a dolly leaves the centre where it is and
    # moves every other point outward, so a centre-only cosine read a faithful dolly as noise (often negative).
    want = (exp_pts - points[None]).sum(axis=0).ravel()
    got = (got_pts - points[None]).sum(axis=0).ravel()
    norm = np.linalg.norm(want) * np.linalg.norm(got)
    agreement = float(want @ got / norm) if norm > 1e-9 else 0.0
    return Adherence(float(errors.mean()), float(errors.max()), float(requested.mean()), float(observed.mean()),
                     agreement, errors)


# Frames per measured span when judging whether a clip follows its camera (the Camera Adherence node and the
# Metrics panel judge alike): a slow camera moves a fraction of a pixel from one frame to the next, where the
# measured direction is mostly noise (a faithful dolly on the embedded model read +0.45 frame by frame and
# +0.63 to +0.94 over spans, seeds 7, 1, 2, 3).
JUDGE_SPAN = 4


def judged_adherence(frames: np.ndarray, track: CameraTrack, method: str = "similarity") -> Adherence:
    """The figures a clip is judged by: over JUDGE_SPAN-frame spans where the clip is long enough (figures
    still per frame), frame by frame otherwise."""
    stride = JUDGE_SPAN if frames.shape[0] > 2 * JUDGE_SPAN else 1
    return adherence(frames, track, method=method, stride=stride)
