"""Plausibility checks every reader shares: a file that parses can still not be a recording of a
person (a body 1538 m tall, a frame rate of -60, a point 1e308 m away, a hand moving at 1e30 m/s).

Each check returns ``None`` when the data are plausible, else one clause saying what is wrong and
what was expected, with the frame and the point or sensor where there is one; the reader puts its
file name in front and raises its own error type. The checks never compute with values they have
not checked first, so no numpy warning reaches the user.

Limits (deliberately loose: they catch garbage and unit mistakes, never an unusual performance):

- frame rates: a number from ``MIN_FRAME_RATE`` (0.1 fps) up to ``MAX_FRAME_RATE`` (1000 fps;
  IMUs up to ``MAX_SAMPLE_RATE``, 2000 Hz);
- positions: within ``MAX_DISTANCE_M`` (10 km) of the origin;
- movement: no point moves more than ``MAX_STEP_M`` (5 m) between two frames faster than
  ``MAX_SPEED_M_S`` (100 m/s); shorter tracking glitches are left to the glitch handling downstream;
- free acceleration of a body-worn sensor: up to ``MAX_ACCELERATION`` (100 g);
- a joint angle channel (BVH, AMC, exp-map): up to ``MAX_ANGLE_DEG`` (1e5 degrees, about 280 turns);
- a body's stature: ``STATURE_RANGE_M``; outside it the unit that would give a body-sized figure is
  named (``guess_unit``).
"""

from __future__ import annotations

import math

import numpy as np

MAX_FRAME_RATE = 1000.0
MIN_FRAME_RATE = 0.1
MAX_SAMPLE_RATE = 2000.0
MAX_DISTANCE_M = 10_000.0
MAX_SPEED_M_S = 100.0
MAX_STEP_M = 5.0
MAX_ACCELERATION = 100 * 9.80665
MAX_DURATION_S = 48 * 3600.0
MAX_ANGLE_DEG = 1e5            # a joint angle channel: about 280 turns (unwrapped spins stay far below)
STATURE_RANGE_M = (0.5, 2.6)
TYPICAL_STATURE_M = 1.7
# Length units a file may use, metres per unit, in the order they are preferred when two fit.
UNITS = {"metres": 1.0, "centimetres": 0.01, "millimetres": 0.001, "inches": 0.0254, "decimetres": 0.1,
         "feet": 0.3048}


def frame_rate(value, maximum: float = MAX_FRAME_RATE) -> tuple[float | None, str | None]:
    """(rate, None) for a plausible frame rate, else (None, why): missing, not a number, zero,
    negative, infinite, above ``maximum`` or below ``MIN_FRAME_RATE``."""
    if value is None or isinstance(value, bool):
        return None, f"the frame rate {value!r} is not a number"
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return None, f"the frame rate is an array of {value.size} values, not one number"
        value = value.reshape(()).item()
    if isinstance(value, (bytes, str)):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        text = text.strip().lower().removesuffix("hz").removesuffix("fps").strip()
    else:
        text = value
    try:
        rate = float(text)
    except (TypeError, ValueError, OverflowError):
        return None, f"the frame rate {value!r:.40} is not a number"
    if not math.isfinite(rate) or rate <= 0:
        return None, f"the frame rate {value!r:.40} is not a positive number of frames per second"
    if rate > maximum:
        return None, f"the frame rate {rate:g} is beyond {maximum:g} frames per second"
    if rate < MIN_FRAME_RATE:
        return None, f"the frame rate {rate:g} is below {MIN_FRAME_RATE:g} frames per second (a frame every 10 s)"
    return rate, None


def _first(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def infinite_values(values: np.ndarray, label) -> str | None:
    """The first infinite value of (T, K, ...) ``values`` (NaN is a missing sample and passes), as
    "frame t, <label(k)>: ..."; ``label(k)`` names point or sensor k."""
    values = np.asarray(values, dtype=np.float64)
    bad = np.isinf(values)
    if not bad.any():
        return None
    index = _first(bad)
    where = f"frame {index[0]}" + (f", {label(index[1])}" if len(index) > 1 else "")
    return f"{where}: a value is infinite; expected finite numbers (or an empty cell for a missing one)"


def far_positions(positions: np.ndarray, label, metres_per_unit: float = 1.0,
                  limit_m: float = MAX_DISTANCE_M) -> str | None:
    """The first point of (T, K, 3) ``positions`` (file units) farther than ``limit_m`` from the
    origin, as a clause naming the frame and ``label(k)``; NaN points are skipped."""
    p = np.asarray(positions, dtype=np.float64)
    limit = limit_m / metres_per_unit
    with np.errstate(invalid="ignore"):
        far = ~(np.abs(p) <= limit).all(axis=-1) & np.isfinite(p).all(axis=-1)
    if not far.any():
        return None
    t, k = _first(far)
    with np.errstate(over="ignore"):
        metres = float(np.max(np.abs(p[t, k]))) * metres_per_unit
    return (f"frame {t}, {label(k)}: a coordinate is {metres:.3g} m from the origin, farther than "
            f"{limit_m / 1000:g} km; expected a body within a few kilometres")


def fast_steps(positions: np.ndarray, fps: float, label, metres_per_unit: float = 1.0) -> str | None:
    """The first step of a point of (T, K, 3) ``positions`` (file units) longer than ``MAX_STEP_M``
    and faster than ``MAX_SPEED_M_S``; steps into or out of missing (NaN) points are skipped."""
    p = np.asarray(positions, dtype=np.float64)
    if p.shape[0] < 2:
        return None
    if far_positions(p, label, metres_per_unit) is not None:       # keeps the differences finite
        return None
    step = np.linalg.norm(np.diff(p, axis=0), axis=-1) * metres_per_unit     # (T-1, K), NaN where missing
    limit = max(MAX_STEP_M, MAX_SPEED_M_S / fps)
    with np.errstate(invalid="ignore"):
        bad = step > limit
    if not bad.any():
        return None
    t, k = _first(bad)
    length = float(step[t, k])
    return (f"frame {t + 1}, {label(k)}: moves {length:.3g} m since the previous frame ({length * fps:.3g} m/s at "
            f"{fps:g} fps); no body part moves faster than {MAX_SPEED_M_S:g} m/s")


def large_angle(angles: np.ndarray, degrees_per_unit: float = 1.0) -> tuple[int, int] | None:
    """(row, column) of the first angle of a (N, C) table beyond ``MAX_ANGLE_DEG``, or None; the
    table is in degrees, or radians with ``degrees_per_unit`` 180 / pi (compared unconverted, so a
    value of 1e308 cannot overflow)."""
    with np.errstate(invalid="ignore"):
        bad = np.abs(np.asarray(angles, dtype=np.float64)) > MAX_ANGLE_DEG / degrees_per_unit
    return _first(bad) if bad.any() else None


def angle_clause(value: float, unit: str = "degrees") -> str:
    return (f"the angle {value:.3g} {unit} is beyond {MAX_ANGLE_DEG:g} degrees (about 280 turns); expected a "
            "joint angle")


def large_values(values: np.ndarray, limit: float, what: str, unit: str, label) -> str | None:
    """The first vector of (T, K, 3) ``values`` longer than ``limit`` (NaN skipped), as a clause."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(v) <= limit / math.sqrt(3)).all(axis=-1) & np.isfinite(v).all(axis=-1)
    if not bad.any():
        return None
    with np.errstate(over="ignore"):
        length = np.linalg.norm(v[bad], axis=-1)
    bad[bad] = length > limit
    if not bad.any():
        return None
    t, k = _first(bad)[:2]
    with np.errstate(over="ignore"):
        size = float(np.linalg.norm(v[t, k]))
    size_text = f"{size:.3g}" if math.isfinite(size) else f"over {float(np.max(np.abs(v[t, k]))):.3g}"
    return (f"frame {t}, {label(k)}: the {what} is {size_text} {unit}, beyond the {limit:g} {unit} a body can "
            "produce")


def guess_unit(size_m: float, unit_m: float = 1.0) -> str | None:
    """The unit (a key of ``UNITS``) that makes a body whose stature reads ``size_m`` metres, with
    the file taken as ``unit_m`` metres per unit, a plausible stature; None when no unit does."""
    if not (math.isfinite(size_m) and size_m > 0):
        return None
    in_file_units = size_m / unit_m
    fits = [(abs(math.log(in_file_units * m / TYPICAL_STATURE_M)), name) for name, m in UNITS.items()
            if STATURE_RANGE_M[0] <= in_file_units * m <= STATURE_RANGE_M[1]]
    return min(fits)[1] if fits else None


def stature_problem(stature_m: float, unit_m: float = 1.0, unit_name: str = "metres") -> str | None:
    """None for a plausible stature (metres), else a clause naming the unit the file probably uses.

    ``unit_m``/``unit_name``: the unit the file was read in (stated by the file, or the default)."""
    lo, hi = STATURE_RANGE_M
    if math.isfinite(stature_m) and lo <= stature_m <= hi:
        return None
    if not (math.isfinite(stature_m) and stature_m > 0):
        return "the body has no size (every point at the same place); expected a person"
    size = f"{stature_m:.3g} m" if stature_m >= 0.1 else f"{stature_m * 1000:.3g} mm"
    read_as = f"read in {unit_name}, the body is {size} tall, where a person is {lo:g} to {hi:g} m"
    unit = guess_unit(stature_m, unit_m)
    if unit is not None and unit != unit_name:
        height = stature_m / unit_m * UNITS[unit]
        return f"{read_as}; the file's unit looks like {unit} (a {height:.2f} m body)"
    return f"{read_as}, and no common unit gives a body-sized figure"


def seconds(value: float) -> str:
    """A time stamp for a message: 6 decimals, or 6 significant digits when it is huge."""
    return f"{value:.6f}" if abs(value) < 1e9 else f"{value:.6g}"


def damaged_array_file(kind: str) -> str:
    """The clause for an .npy / .npz / .pt file that numpy or torch cannot read. Their own messages
    are left out: they are parser internals, sometimes several lines long ("EOF in multi-line
    statement", a dump of the damaged header)."""
    return f"not a readable {kind} file: its header or contents are damaged or truncated"
