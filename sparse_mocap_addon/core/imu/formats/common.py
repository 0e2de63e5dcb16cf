"""Helpers every IMU reader shares: error construction, the ``fps`` argument check, reading text
(plain or gzipped), number tables, unit-quaternion and rotation-matrix checks.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..recording import ImuError
from ...io.textio import FormatError
from ...io.plausible import MAX_ACCELERATION, large_values
from ...io.textio import read_text


_QUAT_NORM_TOLERANCE = 0.1
_ROTATION_TOLERANCE = 0.05


def _fail(where, reason: str) -> ImuError:
    return ImuError(f"{where}: {reason}")


def _rate_argument(fps) -> float:
    """``fps`` as a positive float, or an ImuError."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(fps, bool) or not (math.isfinite(value) and value > 0):
        raise ImuError(f"fps must be a positive number, got {fps!r}.")
    return value


def _text(path: Path) -> str:
    try:
        text = read_text(path)
    except FormatError as exc:
        raise ImuError(str(exc)) from None
    return text.lstrip("\ufeff")


def _table(where, rows: list, line_numbers: list, columns: list, labels: list) -> np.ndarray:
    """The cells at ``columns`` of each row (lists of text cells) as floats; empty cells are NaN.
    A short row or a cell that is not a number raises naming the line and the column label."""
    need = max(columns) + 1
    picked = []
    for cells, number in zip(rows, line_numbers):
        if len(cells) < need:
            raise _fail(f"{where}, line {number}", f"{len(cells)} values but the header has a column "
                        f"{labels[int(np.argmax(columns))]!r} at position {need}.")
        picked.append([cells[c].strip() or "nan" for c in columns])
    try:
        values = np.array(picked, dtype=np.float64).reshape(len(rows), len(columns))
    except ValueError:
        values = None
    if values is not None:
        infinite = np.argwhere(np.isinf(values))
        if len(infinite):
            r, c = infinite[0]
            raise _fail(f"{where}, line {line_numbers[r]}", f"{picked[r][c]!r} in column {labels[c]} is not a finite "
                        "number.")
        return values
    for r, row in enumerate(picked):
        for c, cell in enumerate(row):
            try:
                float(cell)
            except ValueError:
                raise _fail(f"{where}, line {line_numbers[r]}", f"{cell!r} in column {labels[c]} is not a "
                            "number.") from None
    raise _fail(where, "the table could not be read as numbers.")     # not reached


def _unit_quaternions(where, quat: np.ndarray, line_numbers, names=None) -> tuple[np.ndarray, np.ndarray]:
    """(normalised quaternions, valid) for (N, 4) or (N, S, 4); NaN rows are missing samples,
    zero-length or clearly non-unit ones raise naming the line."""
    present = np.isfinite(quat).all(axis=-1)
    with np.errstate(over="ignore"):              # a component of 1e308: its length is inf, refused below
        norm = np.linalg.norm(np.where(present[..., None], quat, 1.0), axis=-1)
    bad = present & (np.abs(norm - 1.0) > _QUAT_NORM_TOLERANCE)
    if bad.any():
        flat = np.argwhere(bad)[0]
        who = f" of sensor {names[flat[1]]}" if names is not None and len(flat) > 1 else ""
        length = norm[tuple(flat)]
        what = "zero length" if length < 1e-6 else f"length {length:.3g}"
        raise _fail(f"{where}, line {line_numbers[flat[0]]}", f"the quaternion{who} has {what}; expected a unit "
                    "quaternion (w, x, y, z).")
    return quat / norm[..., None], present


ROTATION_CHECK_BLOCK = 20_000   # frames checked at a time: a long recording needs no full-size temporaries


def _check_rotations(where, matrices: np.ndarray, label) -> None:
    """Raise when a finite matrix of (N, ..., 3, 3) is not a rotation; ``label(index)`` names it."""
    for start in range(0, len(matrices), ROTATION_CHECK_BLOCK):
        _check_rotation_block(where, matrices[start:start + ROTATION_CHECK_BLOCK], label, start)


def _check_rotation_block(where, matrices: np.ndarray, label, first: int) -> None:
    """:func:`_check_rotations` on the rows ``first``, ``first + 1``, ... of a recording."""
    finite = np.isfinite(matrices).all(axis=(-2, -1))
    entries = np.abs(np.where(finite[..., None, None], matrices, 0.0))
    huge = (entries > 1e6).any(axis=(-2, -1))
    if huge.any():                                # checked first: the products below would overflow
        index = tuple(np.argwhere(huge)[0])
        raise _fail(f"{where}, {label((index[0] + first,) + index[1:])}", f"the orientation matrix is not "
                    f"orthonormal (an entry is {entries[index].max():.3g}); expected a rotation matrix.")
    m = np.where(finite[..., None, None], matrices, np.eye(3))
    error = np.abs(np.swapaxes(m, -1, -2) @ m - np.eye(3)).max(axis=(-2, -1))
    det = np.linalg.det(m)
    bad = finite & ((error > _ROTATION_TOLERANCE) | (det < 0))
    if bad.any():
        index = tuple(np.argwhere(bad)[0])
        why = ("a reflection (determinant -1)" if det[index] < 0
               else f"not orthonormal (R^T R - I up to {error[index]:.3g})")
        raise _fail(f"{where}, {label((index[0] + first,) + index[1:])}",
                    f"the orientation matrix is {why}; expected a rotation matrix.")


def sensor_label(sensors):
    """``label(k)`` for the plausibility checks: "sensor <name>"."""
    return lambda k: f"sensor {sensors[k]}"


def check_acceleration(where, acc: np.ndarray, sensors, lines=None, scale: float = 1.0) -> None:
    """Refuse (T, S, 3) accelerations beyond what a body can produce (100 g), naming the frame (the
    line, with ``lines``: one line number per frame); ``scale``: m/s^2 per file unit (g: 9.81)."""
    why = large_values(acc, MAX_ACCELERATION / scale, "acceleration", "m/s^2" if scale == 1.0 else "g",
                       sensor_label(sensors))
    if why is None:
        return
    if lines is not None:                  # one sensor per file: the line says where
        frame = int(why.split(",", 1)[0].removeprefix("frame "))
        where, why = f"{where}, line {lines[frame]}", why.split(": ", 1)[1]
    raise _fail(where, why + ".")
