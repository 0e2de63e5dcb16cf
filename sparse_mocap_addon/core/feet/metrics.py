"""Feet metrics (numpy only): how far planted feet slide, float above and sink below the floor.

Positions in metres; a mean over nothing is NaN (never a misleading 0).
"""

from __future__ import annotations

import numpy as np

from .contact import contact_runs


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
