"""Gap filling as the add-on runs it: the user's options, the fallback when the learned predictor
is not installed, and what happened in a JSON-safe report and one sentence.

:func:`~.gap_fill.fill_motion_gaps` does the filling. Here ``method="predictor"`` falls back to
slerp when the predictor's module or weights are missing (the report says so), and gaps are named
by the frames the user sees (``first_frame`` + ``frame_step`` per motion frame), as the Fill Gaps
operator, the reconstruction operators and the command line report them.

numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.motion import Motion
from .gap_fill import DEFAULT_MAX_GAP_SECONDS, METHODS, GapFillResult, fill_motion_gaps

__all__ = ["GapFillOptions", "fill_with_fallback", "fill_reconstruction", "gap_fill_report", "gap_fill_summary"]

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


def fill_reconstruction(motion: Motion, missing, options: GapFillOptions, first_frame: int = 0,
                        frame_step: float = 1.0) -> tuple[Motion, dict]:
    """A reconstruction's motion with its gaps filled, and the report (:func:`gap_fill_report`)."""
    result, method, note = fill_with_fallback(motion, missing, options)
    return result.motion, gap_fill_report(result, method, note, options, first_frame, frame_step)


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
