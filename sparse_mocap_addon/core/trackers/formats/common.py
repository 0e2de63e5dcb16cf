"""Helpers the tracker readers share: errors, tracker names (with the aliases tools use), text,
number cells, time stamps and unit quaternions, and :class:`Stream` (one tracker's samples as read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...io.textio import FormatError
from ..recording import TRACKER_JOINTS, TrackerError
from ...io.names import side_and_key
from ...io.plausible import MAX_DURATION_S, seconds
from ...io.textio import read_text

_QUAT_NORM_TOLERANCE = 0.1

# Body-site words (after the side is taken off and separators dropped) -> tracker name stem.
_MIDLINE = {
    "head": "head", "hmd": "head", "headset": "head", "headmounteddisplay": "head", "centereye": "head",
    "centreeye": "head", "camera": "head", "maincamera": "head",
    "pelvis": "pelvis", "waist": "pelvis", "hip": "pelvis", "hips": "pelvis",
}
_SIDED = {
    "hand": "hand", "controller": "hand", "handcontroller": "hand", "wrist": "hand", "motioncontroller": "hand",
    "foot": "foot", "feet": "foot", "ankle": "foot", "shoe": "foot",
    "elbow": "elbow", "knee": "knee",
}
_IGNORED_WORDS = ("tracker", "trackers", "vive", "puck", "device", "pose", "aim", "grip")
ALIAS_EXAMPLES = ("HMD/headset -> head, left_controller -> left_hand, waist/hip -> pelvis, "
                  "left_foot_tracker -> left_foot")


def fail(where, reason: str) -> TrackerError:
    return TrackerError(f"{where}: {reason}")


def tracker_name(label) -> str | None:
    """The TRACKER_JOINTS name of a tool's label ("HMD" -> head, "Controller (left)" -> left_hand,
    "waist" -> pelvis, "left_foot_tracker" -> left_foot), or None when it is no known body site."""
    text = str(label).strip()
    if text.lower() in TRACKER_JOINTS:
        return text.lower()
    side, key = side_and_key(text, ignore=_IGNORED_WORDS)
    if key is None:
        return None
    if side is None:
        return _MIDLINE.get(key)
    stem = _SIDED.get(key)
    return f"{side}_{stem}" if stem else None


def rate_argument(fps) -> float | None:
    if fps is None:
        return None
    try:
        value = float(fps)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(fps, bool) or not (math.isfinite(value) and value > 0):
        raise TrackerError(f"fps must be a positive number, got {fps!r}.")
    return value


def text_of(path: Path) -> str:
    try:
        return read_text(path).lstrip("\ufeff")
    except FormatError as exc:
        raise TrackerError(str(exc)) from None


def number(where, value, what: str) -> float:
    """A finite number (or NaN for None / empty text, a missing sample) from a JSON or text cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return math.nan
    if isinstance(value, bool):
        raise fail(where, f"{what} is {value!r}, not a number.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise fail(where, f"{what} is {value!r}, not a number.") from None
    if math.isinf(out):
        raise fail(where, f"{what} is {value!r}, not a finite number.")
    return out


@dataclass
class Stream:
    """One tracker's samples as read, in the file's axes and units: quaternions wxyz."""

    name: str
    times: np.ndarray            # (N,) seconds, strictly increasing
    positions: np.ndarray        # (N, 3)
    quats: np.ndarray            # (N, 4) wxyz, unit where valid
    valid: np.ndarray            # (N,) bool
    label: str = ""              # the name in the file
    frame_index: bool = False    # True: ``times`` are frame numbers (the file has no time stamps)


def check_times(label, times: np.ndarray, where_of) -> None:
    """Finite, strictly increasing time stamps; ``where_of(i)`` names sample i (file and line)."""
    bad = np.flatnonzero(~np.isfinite(times))
    if len(bad):
        raise fail(where_of(bad[0]), f"the time stamp of tracker {label} is missing or not a number.")
    bad = np.flatnonzero(~(np.diff(times) > 0))
    if len(bad):
        k = bad[0] + 1
        raise fail(where_of(k), f"the time stamp {seconds(times[k])} s of tracker {label} does not come after the "
                   f"previous one ({seconds(times[k - 1])} s); time stamps must increase.")
    late = np.flatnonzero(times - times[0] > MAX_DURATION_S)
    if len(late):
        k = late[0]
        raise fail(where_of(k), f"the time stamp {times[k]:.6g} s of tracker {label} is "
                   f"{(times[k] - times[0]) / 3600:.3g} hours after its first one; expected a recording of at most "
                   f"{MAX_DURATION_S / 3600:g} hours.")


def unit_quats(label, quats: np.ndarray, positions: np.ndarray, where_of) -> tuple[np.ndarray, np.ndarray]:
    """(normalised (N, 4) quaternions, valid (N,)): a sample is valid when all 7 numbers are present;
    a present quaternion far from unit length raises naming the sample; a half-present sample too."""
    q_ok = np.isfinite(quats).all(axis=-1)
    p_ok = np.isfinite(positions).all(axis=-1)
    some = np.isfinite(quats).any(axis=-1) | np.isfinite(positions).any(axis=-1)
    partial = some & ~(q_ok & p_ok)
    if partial.any():
        k = int(np.flatnonzero(partial)[0])
        raise fail(where_of(k), f"tracker {label} has only some of its 3 position and 4 quaternion values; leave "
                   "all of them empty for a missing sample.")
    with np.errstate(over="ignore"):              # a component of 1e308: its length is inf, refused below
        norm = np.linalg.norm(np.where(q_ok[:, None], quats, 1.0), axis=-1)
    bad = q_ok & (np.abs(norm - 1.0) > _QUAT_NORM_TOLERANCE)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        what = "zero length" if norm[k] < 1e-6 else f"length {norm[k]:.3g}"
        raise fail(where_of(k), f"the quaternion of tracker {label} has {what}; expected a unit quaternion.")
    return quats / norm[:, None], q_ok & p_ok


def assign_names(labels, where) -> tuple[list, list]:
    """(tracker names, ignored labels) for the labels of a file, in file order; two labels for the
    same body site raise."""
    names, ignored, seen = [], [], {}
    for label in labels:
        name = tracker_name(label)
        if name is None:
            ignored.append(str(label))
            names.append(None)
            continue
        if name in seen:
            raise fail(where, f"the trackers {seen[name]!r} and {label!r} are both the {name} tracker; keep one.")
        seen[name] = str(label)
        names.append(name)
    if not seen:
        raise fail(where, f"no tracker with a known body site among {', '.join(map(repr, labels)) or 'nothing'}; "
                   f"expected names like {', '.join(TRACKER_JOINTS)} ({ALIAS_EXAMPLES}).")
    return names, ignored
