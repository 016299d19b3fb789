"""Global motion of a rendered clip (phase correlation, tracked features) and its adherence to a camera track."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studio.directing import DirectingError
from studio.directing.camera import CameraTrack


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


def similarity_steps(frames: np.ndarray, min_points: int = 12) -> np.ndarray:
    """Frame-to-frame similarity transforms [T-1, 3, 3] (shift, zoom, roll) from tracked corners.

    Corners are tracked with pyramidal Lucas-Kanade both ways (a point that does not come back is
    dropped), and a similarity is fitted with RANSAC. Where too few corners survive (flat frames),
    the step falls back to phase correlation's translation.
    """
    import cv2

    gray = (_gray(frames) * 255).astype(np.uint8)
    height, width = gray.shape[1:]
    out = np.tile(np.eye(3), (gray.shape[0] - 1, 1, 1))
    spacing = max(3, min(height, width) // 40)
    for t in range(1, gray.shape[0]):
        prev, cur = gray[t - 1], gray[t]
        points = cv2.goodFeaturesToTrack(prev, maxCorners=400, qualityLevel=0.01, minDistance=spacing, blockSize=5)
        fitted = None
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
                    fitted = np.vstack([matrix, [0, 0, 1]])
        if fitted is None:
            window = cv2.createHanningWindow((width, height), cv2.CV_32F)
            (dx, dy), _ = cv2.phaseCorrelate(prev.astype(np.float32), cur.astype(np.float32), window)
            fitted = np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float64)
        out[t - 1] = fitted
    return out


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
    direction_agreement: float  # cosine between summed requested and measured centre motion (-1..1)
    per_step: np.ndarray  # [T-1] error per frame step

    def as_dict(self) -> dict:
        return {k: (round(float(v), 3) if not isinstance(v, np.ndarray) else v.round(3).tolist())
                for k, v in self.__dict__.items()}


def adherence(frames: np.ndarray, track: CameraTrack, method: str = "similarity") -> Adherence:
    """Compare the clip's measured frame-to-frame motion with the track's, at a grid of points."""
    if frames.shape[0] != track.num_frames:
        raise DirectingError(f"the clip has {frames.shape[0]} frames but the camera track {track.num_frames}")
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
    centre = np.array([[width / 2.0, height / 2.0]])
    want = (_apply(expected, centre) - centre).sum(axis=0).ravel()
    got = (_apply(measured, centre) - centre).sum(axis=0).ravel()
    norm = np.linalg.norm(want) * np.linalg.norm(got)
    agreement = float(want @ got / norm) if norm > 1e-9 else 0.0
    return Adherence(float(errors.mean()), float(errors.max()), float(requested.mean()), float(observed.mean()),
                     agreement, errors)
