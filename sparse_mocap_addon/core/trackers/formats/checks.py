"""Catching an obviously wrong convention or unit early: a person's trackers, read right, have the
head above the feet and the pelvis, the head 1.0-2.3 m above the lowest tracker (when feet are
tracked), and span a few centimetres to a few metres.
"""

from __future__ import annotations

import warnings

import numpy as np

from .conventions import CONVENTIONS, UNITS, positions_to_core

HEAD_ABOVE_LOWEST_M = (1.0, 2.3)     # head tracker over the lowest (foot) tracker: children to very tall adults
SPAN_M = (0.05, 4.0)                 # median largest distance between two trackers in a frame
_MAX_FRAMES = 2000                   # frames looked at (evenly spread) on long recordings


def _length(v: float) -> str:
    v = float(v)
    if abs(v) >= 10:
        return f"{v:.0f} m"
    if abs(v) < 0.1:
        return f"{100 * v:.1f} cm"
    return f"{v:.2f} m"


def problem(names, positions: np.ndarray, valid: np.ndarray) -> str | None:
    """The first obvious problem with core-frame tracker positions (T, K, 3), as a clause, or None."""
    T = positions.shape[0]
    if T > _MAX_FRAMES:
        pick = np.linspace(0, T - 1, _MAX_FRAMES).astype(int)
        positions, valid = positions[pick], valid[pick]
    p = np.where(valid[..., None], positions, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                  # all-NaN columns: no height
        heights = np.nanmedian(p[..., 1], axis=0)                        # (K,)
    y = {n: float(h) for n, h in zip(names, heights) if np.isfinite(h)}
    head = y.get("head")
    feet = [y[n] for n in ("left_foot", "right_foot") if n in y]
    if head is not None and feet and head < min(feet):
        return f"the head tracker is {_length(min(feet) - head)} below the feet (median heights)"
    if head is not None and "pelvis" in y and head < y["pelvis"]:
        return f"the head tracker is {_length(y['pelvis'] - head)} below the pelvis tracker (median heights)"
    if head is not None and feet:
        above = head - min(y.values())
        lo, hi = HEAD_ABOVE_LOWEST_M
        if not lo <= above <= hi:
            return (f"the head tracker is a median {_length(above)} above the lowest tracker, where a person's is "
                    f"{lo:g}-{hi:g} m")
    hands = [y[n] for n in ("left_hand", "right_hand") if n in y]
    if head is not None and len(hands) == 2 and head < min(hands):
        return "the head tracker is below both hand trackers (median heights)"
    if p.shape[1] >= 2:
        d = np.linalg.norm(p[:, :, None] - p[:, None], axis=-1)         # (T, K, K), NaN where missing
        span = np.nanmax(np.where(np.isfinite(d), d, -np.inf), axis=(1, 2))
        span = span[np.isfinite(span) & (span > -np.inf)]
        if len(span):
            median = float(np.median(span))
            lo, hi = SPAN_M
            if not lo <= median <= hi:
                return (f"the trackers are a median {_length(median)} apart, where one person's are "
                        f"{_length(lo)} to {_length(hi)}")
    return None


def suggestion(names, raw_positions: np.ndarray, valid: np.ndarray, chosen: str, units: str) -> str | None:
    """The first other (convention, units) under which the raw file positions pass :func:`problem`,
    as "the convention 'blender'" / "the units 'cm'" / "the convention 'blender' in cm" text, or None
    (words, not argument names: the CLI and the add-on show them with their own option names)."""
    # The checks see only heights and distances, so conventions sharing an up axis and a unit are one
    # candidate (unity, openxr, steamvr and core differ only in handedness, which heights cannot show).
    up = CONVENTIONS[chosen].axes[1]
    others, seen = [], set()
    for name, conv in CONVENTIONS.items():
        key = tuple(conv.axes[1])
        if not np.array_equal(conv.axes[1], up) and (key, conv.units) not in seen:
            seen.add((key, conv.units))
            others.append(name)
    candidates = [(chosen, u) for u in UNITS if u != units]
    candidates += [(c, CONVENTIONS[c].units) for c in others]
    candidates += [(c, u) for c in others for u in UNITS if u != CONVENTIONS[c].units]
    for name, unit in candidates:
        if problem(names, positions_to_core(raw_positions, CONVENTIONS[name], unit), valid) is None:
            if name == chosen:
                return f"the units '{unit}'"
            text = f"the convention '{name}'"
            return text if unit == CONVENTIONS[name].units else f"{text} in {unit}"
    return None
