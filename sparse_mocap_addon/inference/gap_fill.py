"""Fill the holes of a motion with the learned motion predictor (or, as a fallback, slerp).

Public entry: ``fill_motion_gaps(motion, missing)``. ``missing`` flags the frames whose pose is not
known (their values in ``motion`` are ignored). Gaps up to ``max_gap_seconds`` are filled; longer ones
are left as they are and reported, because guessing seconds of motion is worse than admitting it.

numpy only (no bpy, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.gaps import fillable_gaps, interpolate_gaps
from ..core.motion import Motion

__all__ = ["GapFillResult", "fill_motion_gaps", "METHODS", "DEFAULT_MAX_GAP_SECONDS"]

METHODS = ("predictor", "slerp")
DEFAULT_MAX_GAP_SECONDS = 1.0


@dataclass
class GapFillResult:
    motion: Motion                          # the whole take, holes filled (known frames untouched)
    filled: np.ndarray                      # (T,) bool: frames whose pose was filled
    unfilled: np.ndarray                    # (T,) bool: missing frames left alone (gap too long)
    gaps: list = field(default_factory=list)          # (start, stop) of the gaps filled
    skipped: list = field(default_factory=list)       # (start, stop) of the gaps left alone

    @property
    def num_filled(self) -> int:
        return int(self.filled.sum())


def _check_mask(motion: Motion, missing) -> np.ndarray:
    missing = np.asarray(missing)
    if missing.shape != (motion.num_frames,):
        raise ValueError(f"the missing-frame mask has shape {missing.shape}; expected one flag per frame "
                         f"({motion.num_frames},)")
    return missing.astype(bool)


def fill_motion_gaps(motion: Motion, missing, *, max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS,
                     method: str = "predictor", predictor=None) -> GapFillResult:
    """Fill every gap of up to ``max_gap_seconds``; known frames come back unchanged (to rounding).

    ``method``: "predictor" (the learned fill, ``motion_predictor.predict_gaps``: a window around
    each gap, the frames before it and, when known, after it; a velocity-matched bridge between the
    two sides, or carried on from the one known side, refined by the network) or "slerp" (the
    interpolation baseline). ``predictor`` overrides the shipped model.
    """
    if method not in METHODS:
        raise ValueError(f"unknown gap-fill method {method!r}; expected one of {', '.join(METHODS)}")
    if not (np.isfinite(max_gap_seconds) and max_gap_seconds > 0):
        raise ValueError(f"max_gap_seconds must be a positive number, got {max_gap_seconds!r}")
    missing = _check_mask(motion, missing)
    max_frames = int(np.floor(max_gap_seconds * motion.fps + 1e-9))
    gaps, skipped = fillable_gaps(missing, max_frames)
    filled = np.zeros(motion.num_frames, dtype=bool)
    for start, stop in gaps:
        filled[start:stop] = True
    unfilled = missing & ~filled
    if not gaps:
        return GapFillResult(motion, filled, unfilled, gaps, skipped)
    if method == "slerp":
        result = interpolate_gaps(motion, gaps)
    else:
        from .motion_predictor import predict_gaps   # the learned fill (imports its weights lazily)
        result = predict_gaps(motion, gaps, predictor=predictor, missing=missing)
    # Known frames keep their values (Motion re-normalises the quaternions: ~1e-16).
    rotations = np.where(filled[:, None, None], result.rotations, motion.rotations)
    translation = np.where(filled[:, None], result.translation, motion.translation)
    metadata = dict(motion.metadata, gaps_filled=[list(g) for g in gaps], gap_fill_method=method)
    out = Motion(motion.fps, rotations, translation, motion.skeleton, metadata)
    return GapFillResult(out, filled, unfilled, gaps, skipped)
