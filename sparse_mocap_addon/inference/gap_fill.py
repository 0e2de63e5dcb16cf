"""Fill the holes of a motion with the learned motion predictor (or, as a fallback, slerp).

Public entry: ``fill_motion_gaps(motion, missing)``. ``missing`` flags the frames whose pose is not
known (their values in ``motion`` are ignored). Gaps up to ``max_gap_seconds`` are filled; longer ones
are left as they are and reported, because guessing seconds of motion is worse than admitting it.

A predicted pose knows nothing of the floor: :func:`feet_on_filled_frames` runs the filled frames
through the feet stage (the known ones kept exactly).

The second half is gap filling as the add-on runs it: the user's options (``GapFillOptions``),
the fallback to slerp when the predictor's weights are missing (``fill_with_fallback``, the report
says so), and what happened as a JSON-safe report and one sentence, with gaps named by the frames
the user sees (``first_frame`` + ``frame_step`` per motion frame), as the Fill Gaps operator, the
reconstruction operators and the command line report them.

numpy only (no bpy, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.feet.stage import FeetOptions, feet_on_floor
from ..core.gaps import fillable_gaps, interpolate_gaps
from ..core.kinematics.motion import Motion

__all__ = ["GapFillResult", "fill_motion_gaps", "METHODS", "DEFAULT_MAX_GAP_SECONDS", "GapFillOptions",
           "fill_with_fallback", "feet_on_filled_frames", "fill_reconstruction", "gap_fill_report",
           "gap_fill_summary"]

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


# ------------------------------------------------------------------------------------------------
# As the add-on runs it: options, fallback, report

METHOD_NAMES = {"predictor": "the motion predictor", "slerp": "slerp"}


@dataclass
class GapFillOptions:
    """``max_gap_seconds``: longer gaps are left alone; ``method``: "predictor" (falls back to
    slerp when the predictor is not available) or "slerp"."""

    max_gap_seconds: float = DEFAULT_MAX_GAP_SECONDS
    method: str = "predictor"

    def validate(self) -> "GapFillOptions":
        if self.method not in METHODS:
            raise ValueError(f"unknown gap-fill method {self.method!r}; expected one of {', '.join(METHODS)}")
        if not (np.isfinite(self.max_gap_seconds) and self.max_gap_seconds > 0):
            raise ValueError(f"the longest gap to fill must be a positive number of seconds, got "
                             f"{self.max_gap_seconds!r}")
        return self


def fill_with_fallback(motion: Motion, missing, options: GapFillOptions) -> tuple[GapFillResult, str, str]:
    """:func:`~.gap_fill.fill_motion_gaps` with ``options``; returns (result, the method used, a
    note: empty, or why the predictor gave way to slerp)."""
    options = options.validate()
    try:
        result = fill_motion_gaps(motion, missing, max_gap_seconds=options.max_gap_seconds, method=options.method)
        return result, options.method, ""
    except ImportError:
        if options.method != "predictor":
            raise
        note = "the motion predictor is not installed, so slerp filled the gaps"
    except FileNotFoundError as exc:
        if options.method != "predictor":
            raise
        weights = Path(exc.filename).name if exc.filename else str(exc)
        note = f"the motion predictor's weights ({weights}) were not found, so slerp filled the gaps"
    result = fill_motion_gaps(motion, missing, max_gap_seconds=options.max_gap_seconds, method="slerp")
    return result, "slerp", note


def _frame_ranges(gaps, first_frame: int, frame_step: float) -> list[list[int]]:
    """Half-open motion-frame gaps as inclusive [first, last] frames the user sees."""
    if not gaps:
        return []
    bounds = np.asarray(gaps, dtype=np.float64) - [0.0, 1.0]
    return np.rint(first_frame + bounds * frame_step).astype(int).tolist()


def gap_fill_report(result: GapFillResult, method: str, note: str, options: GapFillOptions,
                    first_frame: int = 0, frame_step: float = 1.0) -> dict:
    """JSON-safe: the method used (and ``note``), the filled gaps and those left alone as inclusive
    frame ranges the user sees, and frame counts."""
    return {
        "method": method, "requested_method": options.method, "note": note,
        "max_gap_seconds": float(options.max_gap_seconds),
        "filled_gaps": _frame_ranges(result.gaps, first_frame, frame_step),
        "filled_frames": result.num_filled,
        "skipped_gaps": _frame_ranges(result.skipped, first_frame, frame_step),
        "skipped_frames": int(result.unfilled.sum()),
    }


def feet_on_filled_frames(result: GapFillResult, feet: FeetOptions | None) -> tuple[GapFillResult, dict | None]:
    """The filled frames through the feet stage (``core/feet/stage``, with ``feet``; the known frames
    kept exactly, the correction eased in from the gaps' edges): a predicted pose knows nothing of
    the floor. Returns the result with its motion replaced, and the stage's report (None when off
    or nothing was filled)."""
    if feet is None or not feet.enabled or not result.gaps:
        return result, None
    motion, report = feet_on_floor(result.motion, options=feet, editable=result.filled)
    return GapFillResult(motion, result.filled, result.unfilled, result.gaps, result.skipped), report


def fill_reconstruction(motion: Motion, missing, options: GapFillOptions, first_frame: int = 0,
                        frame_step: float = 1.0, feet: FeetOptions | None = None) -> tuple[Motion, dict]:
    """A reconstruction's motion with its gaps filled, and the report (:func:`gap_fill_report`; with
    ``feet``, the filled frames also go through the feet stage, its report under ``"feet"``)."""
    result, method, note = fill_with_fallback(motion, missing, options)
    result, feet_report = feet_on_filled_frames(result, feet)
    report = gap_fill_report(result, method, note, options, first_frame, frame_step)
    if feet_report is not None:
        report["feet"] = feet_report
    return result.motion, report


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _seconds(value: float) -> str:
    """1.0 -> "1.0", 0.25 -> "0.25"."""
    return f"{value:.1f}" if abs(value - round(value, 1)) < 1e-9 else f"{value:g}"


def _ranges_text(ranges) -> str:
    return ", ".join(f"{a}-{b}" if b != a else f"{a}" for a, b in ranges)


def gap_fill_summary(report: dict | None) -> str:
    """One clause: "filled 3 gaps (45 frames) by slerp; 1 gap longer than 1.0 s left alone
    (frames 300-420)", or "" when there was nothing to fill (or no report)."""
    if not report or not (report["filled_gaps"] or report["skipped_gaps"]):
        return ""
    parts = []
    if report["filled_gaps"]:
        parts.append(f"filled {_plural(len(report['filled_gaps']), 'gap')} "
                     f"({_plural(report['filled_frames'], 'frame')}) by {METHOD_NAMES[report['method']]}")
    skipped = report["skipped_gaps"]
    if skipped:
        parts.append(f"{_plural(len(skipped), 'gap')} longer than {_seconds(report['max_gap_seconds'])} s left "
                     f"alone (frames {_ranges_text(skipped)})")
    if report.get("note"):
        parts.append(report["note"])
    return "; ".join(parts)
