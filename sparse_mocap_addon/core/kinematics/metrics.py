"""Accuracy and smoothness metrics as reported by TransPose, PIP, FIP and friends (numpy only); the
feet's figures (skating, floating, below the floor) are in ``core/feet/metrics.py``.

Positions are (T, J, 3) in metres unless a function says otherwise; masks are (T, J) bool with
True = use this sample.  Every mean ignores non-finite samples, and a mean over nothing is NaN
(never a misleading 0).
"""

from __future__ import annotations

import numpy as np


def _nanmean_or_nan(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def mpjpe(pred: np.ndarray, true: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean per-joint position error: mean Euclidean distance over joints and frames, input units.

    ``pred`` and ``true`` are (..., J, 3); ``mask`` (..., J) bool selects the samples that count.
    """
    pred, true = np.asarray(pred, dtype=np.float64), np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"mpjpe: prediction {pred.shape} and ground truth {true.shape} differ in shape")
    error = np.linalg.norm(pred - true, axis=-1)
    if mask is not None:
        error = np.where(np.asarray(mask, dtype=bool), error, np.nan)
    return _nanmean_or_nan(error)


def jitter(positions: np.ndarray, fps: float) -> float:
    """Mean norm of the third time derivative (jerk), units/s^3, by third-order finite differences.

    ``x[t+3] - 3 x[t+2] + 3 x[t+1] - x[t]`` times ``fps**3`` per point (last axis = coordinates),
    averaged over all windows and points; windows touching a non-finite sample are skipped.  Exact
    for cubic motion, so a point moving with constant jerk j gives exactly |j|.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if len(positions) < 4:
        return float("nan")
    third = positions[3:] - 3.0 * positions[2:-1] + 3.0 * positions[1:-2] - positions[:-3]
    return _nanmean_or_nan(np.linalg.norm(third, axis=-1) * float(fps) ** 3)


def jitter_km_s3(positions: np.ndarray, fps: float) -> float:
    """``jitter`` of positions in metres, in km/s^3 (the unit TransPose, PIP and FIP tables use)."""
    return jitter(positions, fps) / 1000.0


def geodesic_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation taking ``Ra`` to ``Rb`` (rotation matrices (..., 3, 3)).

    Uses ``atan2(|axis part|, cos part)`` of ``Ra^T Rb`` instead of ``arccos`` of the trace, so small
    angles keep full precision and values just outside [-1, 1] cannot produce NaN.
    """
    Ra, Rb = np.asarray(Ra, dtype=np.float64), np.asarray(Rb, dtype=np.float64)
    rel = np.swapaxes(Ra, -1, -2) @ Rb
    cos_part = 0.5 * (np.trace(rel, axis1=-2, axis2=-1) - 1.0)
    skew = np.stack((rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0],
                     rel[..., 1, 0] - rel[..., 0, 1]), axis=-1)
    sin_part = 0.5 * np.linalg.norm(skew, axis=-1)
    return np.degrees(np.arctan2(sin_part, cos_part))


def quat_geodesic_deg(qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
    """Angle in degrees between (w, x, y, z) quaternions (..., 4); q and -q are the same rotation."""
    qa, qb = np.asarray(qa, dtype=np.float64), np.asarray(qb, dtype=np.float64)
    w1, v1 = qa[..., :1], qa[..., 1:]
    w2, v2 = qb[..., :1], qb[..., 1:]
    # conj(qa) * qb
    w = (w1 * w2 + np.sum(v1 * v2, axis=-1, keepdims=True))[..., 0]
    v = w1 * v2 - w2 * v1 - np.cross(v1, v2)
    return np.degrees(2.0 * np.arctan2(np.linalg.norm(v, axis=-1), np.abs(w)))


def bone_lengths(points: np.ndarray, pairs) -> np.ndarray:
    """Distances (T, B) between joint pairs ``[(a, b), ...]`` of points (T, J, 3)."""
    points = np.asarray(points, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return np.linalg.norm(points[:, pairs[:, 1]] - points[:, pairs[:, 0]], axis=-1)


def bone_length_cv(points: np.ndarray, pairs, mask: np.ndarray | None = None) -> np.ndarray:
    """Coefficient of variation (std / mean over frames, population std) of each bone's length, (B,).

    A rigid skeleton gives 0; landmark tracks that stretch bones give more.  Only frames where both
    ends are valid (``mask`` (T, J)) and finite count; a bone with fewer than 2 such frames is NaN.
    """
    lengths = bone_lengths(points, pairs)
    usable = np.isfinite(lengths)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        usable &= mask[:, pairs[:, 0]] & mask[:, pairs[:, 1]]
    count = usable.sum(axis=0)
    safe = np.where(usable, lengths, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = safe.sum(axis=0) / count
        var = (np.where(usable, lengths - mean, 0.0) ** 2).sum(axis=0) / count
        cv = np.sqrt(var) / mean
    return np.where(count >= 2, cv, np.nan)


def mean_bone_length_cv(points: np.ndarray, pairs, mask: np.ndarray | None = None) -> float:
    """Mean over bones of ``bone_length_cv`` (bones without enough valid frames are left out)."""
    return _nanmean_or_nan(bone_length_cv(points, pairs, mask))
