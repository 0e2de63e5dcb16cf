"""Accuracy and smoothness metrics as reported by TransPose, PIP, FIP and friends (numpy only).

Positions are (T, J, 3) in metres unless a function says otherwise; masks are (T, J) bool with
True = use this sample.  Every mean ignores non-finite samples, and a mean over nothing is NaN
(never a misleading 0).
"""

from __future__ import annotations

import numpy as np

from .feet.contact import contact_runs


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


def foot_skating_cm(foot_positions: np.ndarray, contact: np.ndarray, up_axis: int = 1) -> dict:
    """How far feet slide while they should be planted, in centimetres.

    ``foot_positions`` (T, F, 3) metres, ``contact`` (T, F) bool.  For every pair of consecutive
    frames where a foot is in contact in *both*, the horizontal displacement (the two axes other
    than ``up_axis``; vertical motion is lift-off/settling, not skating) is one sample; pairs with a
    non-finite position are skipped.  Returns a dict:

    - ``mean_cm_per_frame``: mean slide per counted frame pair over all feet (NaN when none),
    - ``total_cm``: summed slide over all feet,
    - ``contact_frames``: number of counted frame pairs,
    - ``per_foot_mean_cm``, ``per_foot_total_cm``, ``per_foot_contact_frames``: the same per foot, (F,).
    """
    positions = np.asarray(foot_positions, dtype=np.float64)
    contact = np.asarray(contact, dtype=bool)
    if positions.ndim != 3 or contact.shape != positions.shape[:2]:
        raise ValueError(f"foot_skating_cm: positions {positions.shape} need (T, F, 3) and contact (T, F), got {contact.shape}")
    horizontal = [axis for axis in range(3) if axis != up_axis]
    step = np.linalg.norm(np.diff(positions[..., horizontal], axis=0), axis=-1) * 100.0  # (T-1, F)
    counted = contact[1:] & contact[:-1] & np.isfinite(step)
    slide = np.where(counted, step, 0.0)
    per_foot_total = slide.sum(axis=0)
    per_foot_count = counted.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_foot_mean = np.where(per_foot_count > 0, per_foot_total / per_foot_count, np.nan)
    count = int(per_foot_count.sum())
    total = float(per_foot_total.sum())
    return {
        "mean_cm_per_frame": total / count if count else float("nan"),
        "total_cm": total,
        "contact_frames": count,
        "per_foot_mean_cm": per_foot_mean,
        "per_foot_total_cm": per_foot_total,
        "per_foot_contact_frames": per_foot_count,
    }


# --- feet on the floor (issue 15) ------------------------------------------------------------------
# ``soles`` are sole points (T, F feet, P points, 3) in metres with y up and the floor at y = 0
# (``feet.foot_floor_points``: heel, ball, toe tip of each foot); ``contact`` (T, F, P) flags each
# point while it is in contact (from the source or the ground truth, e.g.
# ``feet_stage.motion_contacts``); a foot is in contact while any of its points is.

# Frames at each end of a contact run that the float figure leaves out, in seconds: the foot is
# landing or taking off there, and when the contacts come from another motion (a ground truth) its
# onset and release differ from this motion's by a frame or two.
CONTACT_EDGE_S = 0.05


def _check_soles(soles, contact=None):
    soles = np.asarray(soles, dtype=np.float64)
    if soles.ndim != 4 or soles.shape[-1] != 3:
        raise ValueError(f"sole points must be shaped (T, feet, points, 3), got {soles.shape}")
    if contact is None:
        return soles, None
    contact = np.asarray(contact, dtype=bool)
    if contact.shape != soles.shape[:3]:
        raise ValueError(f"the contact mask must be (T, feet, points) = {soles.shape[:3]}, got {contact.shape}")
    return soles, contact


def foot_below_floor_max_cm(soles) -> float:
    """Deepest sole point under the floor (y = 0) over all frames, in cm (0 when none is under)."""
    soles, _ = _check_soles(soles)
    heights = soles[..., 1][np.isfinite(soles[..., 1])]
    return float(max(0.0, -heights.min()) * 100.0) if heights.size else float("nan")


def foot_float_in_contact_max_cm(soles, contact, fps: float, edge_s: float = CONTACT_EDGE_S) -> float:
    """Highest a foot in contact floats above the floor, in cm: the foot's lowest sole point (it
    may stand on its heel, its ball or its toes), over the frames in which the foot is in contact,
    the largest value. Robust to where a contact starts and ends: the first and last ``edge_s``
    seconds of every contact run are left out (the middle frame of a run too short for that stays).
    Negative when every contact foot is under the floor; NaN when no foot is in contact."""
    soles, contact = _check_soles(soles, contact)
    lowest = soles[..., 1].min(axis=2)                       # (T, F)
    feet = contact.any(axis=2)
    edge = int(round(edge_s * fps))
    worst = -np.inf
    for foot, start, stop in contact_runs(feet):
        lo, hi = start + edge, stop - edge
        if hi <= lo:
            lo = (start + stop - 1) // 2
            hi = lo + 1
        values = lowest[lo:hi, foot]
        values = values[np.isfinite(values)]
        if values.size:
            worst = max(worst, float(values.max()))
    return float(worst * 100.0) if np.isfinite(worst) else float("nan")


def foot_skate_cm_per_s(soles, contact, fps: float) -> float:
    """Mean horizontal speed (cm/s) of sole points while that point is in contact: each pair of
    consecutive frames in which a point is in contact in both is one sample
    (:func:`foot_skating_cm` over all points). NaN when no point is in contact."""
    soles, contact = _check_soles(soles, contact)
    T = len(soles)
    if T < 2:
        return float("nan")
    result = foot_skating_cm(soles.reshape(T, -1, 3), contact.reshape(T, -1))
    return float(result["mean_cm_per_frame"] * fps)
