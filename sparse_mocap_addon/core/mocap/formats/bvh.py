"""BVH (Biovision Hierarchy) reader and writer, numpy only.

Reading gives a :class:`~sparse_mocap_addon.core.mocap.source.SourceMotion` in the "rest-identity" form
of ``core/mocap/source.py``. Conventions:

- **Zero pose.** The skeleton is the file's OFFSETs; local rotations are relative to the pose with
  every channel at 0 (identity when all angles are 0), as (T, J, 4) wxyz quaternions.
- **Rotation channels.** A channel list is read as intrinsic rotations in listed order:
  "Zrotation Xrotation Yrotation" is the matrix Rz(z) @ Rx(x) @ Ry(y) acting on column vectors
  (Blender's Euler order "YXZ" with angles (y, x, z)). Any of the six orders, per joint, and joints
  with one, two or no rotation channels are read; angles are in degrees.
- **Position channels.** They *replace* the matching component of the joint's OFFSET (the joint's
  position relative to its parent, or the world position for the root), as Blender's importer does.
  ``root_position`` is therefore the root's channel values, plus the root OFFSET only where the root
  has no position channel for that axis. Non-root joints with position channels fill
  ``local_offsets`` (T, J, 3) (every other joint repeats its OFFSET there); without any, it is None.
- **End Sites** become joints named ``<parent name>_end`` with ``end_site=True`` and identity
  rotation; a name already taken gets ``.001``, ``.002``, ... (so do duplicate joint names). Joint
  names with spaces are joined with ``_``.
- **Units** are the file's own: ``metres_per_unit`` and ``up_axis`` are None (a BVH file does not
  say them). ``fps`` is 1 / Frame Time, snapped to a whole number when the printed Frame Time is
  that number's reciprocal rounded to the printed digits and within 0.1 % of it (".0083333" -> 120,
  "0.016667" -> 60, but "0.033" -> 30.303); the raw value is in ``metadata["frame_time"]``, and
  ``metadata["rotation_orders"]`` maps each joint to its rotation channels' axes ("ZXY", "", ...).
- **Strictness.** Malformed files raise :class:`SourceFormatError` naming the file, the line and the
  reason. A MOTION block with more frame lines than ``Frames:`` is refused (it usually means a
  damaged or concatenated file); blank lines anywhere in it are ignored.

Plain and gzip-compressed files (detected by their magic bytes) are read alike; the writer gzips
when the path ends in ".gz". Parsing is vectorised: the frame lines go through numpy's C text
reader (``np.loadtxt``, which also checks every line's value count) in a few large blocks on worker
threads, Euler angles become quaternions in one batch per rotation order, and a slow per-line pass
runs only to name the offending line of a bad file. About 0.1 s for 10,000 frames of 31 joints.
"""

from __future__ import annotations

import gzip
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...io.atomic import atomic_open
from ...kinematics.rotations import matrix_to_euler, quat_to_matrix
from ..source import SourceFormatError, SourceMotion, SourceSkeleton
from ...io import plausible
from ...io.textio import read_text

__all__ = ["read_bvh", "write_bvh"]

_THREADS = max(1, min(4, os.cpu_count() or 1))   # worker threads for long files
_ROWS_PER_THREAD = 1500                          # below this, threads cost more than they save
_AXES = "XYZ"
# Channel names, matched case-insensitively: lower case -> canonical spelling.
_CHANNEL_BY_LOWER = {f"{a}{kind}".lower(): f"{a}{kind}" for kind in ("position", "rotation") for a in _AXES}
_MOTION_LINE = re.compile(r"^[ \t]*MOTION[ \t\r]*$", re.MULTILINE | re.IGNORECASE)
_FRAMES_LINE = re.compile(r"^\s*frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME_LINE = re.compile(r"^\s*frame\s+time\s*:\s*(\S+)\s*$", re.IGNORECASE)


# --- reading: text and errors --------------------------------------------------------------------

def _fail(path, line: int, reason: str) -> SourceFormatError:
    return SourceFormatError(f"BVH file {path}, line {line}: {reason}.")


def _read_text(path) -> str:
    """The whole file as text, without a byte-order mark and with old Mac line endings fixed."""
    text = read_text(path, label="BVH file ").lstrip("\ufeff")
    if "\n" not in text and "\r" in text:
        text = text.replace("\r", "\n")
    return text


# --- reading: HIERARCHY --------------------------------------------------------------------------

@dataclass
class _Joint:
    name: str
    parent: int
    line: int
    end_site: bool = False
    offset: tuple = None
    channels: list = field(default_factory=list)   # canonical channel names, file order
    has_channels: bool = False


def _label(joint: _Joint) -> str:
    return "the End Site" if joint.end_site else repr(joint.name)


def _tokenize(header: str) -> list[tuple[str, int]]:
    """(token, line number) pairs; line numbers start at 1."""
    tokens = []
    for lineno, line in enumerate(header.split("\n"), start=1):
        tokens.extend((word, lineno) for word in line.split())
    return tokens


class _HierarchyParser:
    """Reads the HIERARCHY tokens into a flat, parent-before-child list of ``_Joint``."""

    def __init__(self, path, header: str, motion_line: int):
        self.path = path
        self.tokens = _tokenize(header)
        self.motion_line = motion_line
        self.pos = 0
        self.joints: list[_Joint] = []
        self.stack: list[int] = []      # indices of the joints whose '{' is open

    def fail(self, line, reason):
        return _fail(self.path, line, reason)

    def next_token(self):
        if self.pos >= len(self.tokens):
            return None, self.motion_line
        tok, line = self.tokens[self.pos]
        self.pos += 1
        return tok, line

    def rest_of_line(self, line):
        """Tokens after the current one on the same line (consumed)."""
        words = []
        while self.pos < len(self.tokens) and self.tokens[self.pos][1] == line:
            words.append(self.tokens[self.pos][0])
            self.pos += 1
        return words

    def parse(self) -> list[_Joint]:
        tok, line = self.next_token()
        if tok is None or tok.upper() != "HIERARCHY":
            raise self.fail(line, f"expected the keyword HIERARCHY, found {tok!r}" if tok else
                            "expected the keyword HIERARCHY before MOTION")
        while True:
            tok, line = self.next_token()
            if tok is None:
                break
            self.dispatch(tok, line)
        if self.stack:
            joint = self.joints[self.stack[-1]]
            raise self.fail(self.motion_line, f"unbalanced braces: the '{{' of {_label(joint)} "
                                              f"(line {joint.line}) is not closed before MOTION")
        if not self.joints:
            raise self.fail(self.motion_line, "the HIERARCHY has no ROOT joint")
        return self.joints

    def dispatch(self, tok, line):
        key = tok.upper()
        if key in ("ROOT", "JOINT"):
            self.open_joint(key, line)
        elif key == "END":
            self.open_end_site(line)
        elif key == "OFFSET":
            self.read_offset(line)
        elif key == "CHANNELS":
            self.read_channels(line)
        elif tok == "}":
            self.close_joint(line)
        elif tok == "{":
            raise self.fail(line, "unbalanced braces: '{' without a ROOT, JOINT or End Site before it")
        elif self.joints and not self.stack:
            raise self.fail(line, f"unexpected {tok!r} after the ROOT joint's closing brace (expected MOTION)")
        else:
            raise self.fail(line, f"unknown keyword {tok!r} in HIERARCHY (expected ROOT, JOINT, "
                                  f"End Site, OFFSET, CHANNELS or a brace)")

    def current(self, line, what) -> _Joint:
        if not self.stack:
            raise self.fail(line, f"{what} outside any joint's braces")
        return self.joints[self.stack[-1]]

    def expect_open_brace(self, name, line, words):
        if words and words[-1] == "{":
            return
        tok, brace_line = self.next_token()
        if tok != "{":
            raise self.fail(brace_line, f"unbalanced braces: expected '{{' after {name!r} (line {line}), "
                                        f"found {tok!r}" if tok else f"expected '{{' after {name!r}")

    def open_joint(self, key, line):
        if key == "ROOT" and self.joints:
            raise self.fail(line, "a second ROOT is not supported (one skeleton per file)")
        if key == "JOINT":
            parent = self.current(line, "JOINT")
            if parent.end_site:
                raise self.fail(line, "an End Site cannot have child joints")
        words = self.rest_of_line(line)
        name_words = words[:-1] if words and words[-1] == "{" else words
        if not name_words or "{" in name_words or "}" in name_words:
            raise self.fail(line, f"{key} needs a joint name")
        name = "_".join(name_words)
        self.expect_open_brace(name, line, words)
        parent_index = self.stack[-1] if self.stack else -1
        self.joints.append(_Joint(name, parent_index, line))
        self.stack.append(len(self.joints) - 1)

    def open_end_site(self, line):
        parent = self.current(line, "End Site")
        if parent.end_site:
            raise self.fail(line, "an End Site cannot have child joints")
        words = self.rest_of_line(line)
        if not words or words[0].upper() != "SITE":
            raise self.fail(line, "unknown keyword 'End' in HIERARCHY (expected 'End Site')")
        self.expect_open_brace("End Site", line, words)   # a name after End Site is ignored
        self.joints.append(_Joint(None, self.stack[-1], line, end_site=True))
        self.stack.append(len(self.joints) - 1)

    def read_offset(self, line):
        joint = self.current(line, "OFFSET")
        if joint.offset is not None:
            raise self.fail(line, "a second OFFSET for the same joint")
        words = self.rest_of_line(line)
        try:
            offset = tuple(float(w) for w in words)
        except ValueError:
            offset = ()
        if len(offset) != 3 or not all(math.isfinite(v) for v in offset):
            raise self.fail(line, f"OFFSET needs 3 finite numbers, found {' '.join(words) or 'none'!r}")
        joint.offset = offset

    def read_channels(self, line):
        joint = self.current(line, "CHANNELS")
        if joint.has_channels:
            raise self.fail(line, "a second CHANNELS line for the same joint")
        words = self.rest_of_line(line)
        if not words or not words[0].isdigit():
            raise self.fail(line, "CHANNELS needs a count followed by that many channel names")
        count, names = int(words[0]), words[1:]
        if count != len(names):
            raise self.fail(line, f"CHANNELS says {count} but lists {len(names)} channel names")
        if joint.end_site and count:
            raise self.fail(line, "an End Site cannot have channels")
        channels = []
        for word in names:
            canonical = _CHANNEL_BY_LOWER.get(word.lower())
            if canonical is None:
                raise self.fail(line, f"bad channel name {word!r} (expected Xposition, Yposition, "
                                      f"Zposition, Xrotation, Yrotation or Zrotation)")
            if canonical in channels:
                raise self.fail(line, f"channel {canonical} is listed twice")
            channels.append(canonical)
        joint.channels = channels
        joint.has_channels = True

    def close_joint(self, line):
        if not self.stack:
            raise self.fail(line, "unbalanced braces: '}' without a matching '{'")
        joint = self.joints[self.stack.pop()]
        if joint.offset is None:
            raise self.fail(line, f"{_label(joint)} (line {joint.line}) has no OFFSET")


def _unique_names(joints: list[_Joint]) -> list[str]:
    """Joint names, End Sites named '<parent>_end'; clashes get '.001', '.002', ... suffixes."""
    taken = {j.name for j in joints if not j.end_site}
    used, names = set(), []
    for j in joints:
        base = f"{names[j.parent]}_end" if j.end_site else j.name
        name = base
        # A real joint keeps its name unless an earlier joint already took it; an End Site also
        # avoids names of real joints that come later in the file.
        k = 0
        while name in used or (j.end_site and name in taken):
            k += 1
            name = f"{base}.{k:03d}"
        used.add(name)
        names.append(name)
    return names


# --- reading: MOTION -----------------------------------------------------------------------------

def _next_nonblank_line(text: str, pos: int, lineno: int):
    """(line text, its number, position after it) of the next non-blank line, or (None, n, pos)."""
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        if line.strip():
            return line, lineno, end + 1
        pos, lineno = end + 1, lineno + 1
    return None, lineno, pos


def _parse_motion_header(path, text: str, pos: int, motion_line: int):
    """Frames and Frame Time after MOTION; returns frames, frame time, its text, data start pos/line."""
    line, lineno, pos = _next_nonblank_line(text, pos, motion_line + 1)
    m = _FRAMES_LINE.match(line) if line is not None else None
    if m is None or not m.group(1).isdigit():
        raise _fail(path, lineno, f"expected 'Frames: <count>' after MOTION, found {line.strip()!r}"
                    if line is not None else "expected 'Frames: <count>' after MOTION, found the end of the file")
    frames = int(m.group(1))
    line, lineno, pos = _next_nonblank_line(text, pos, lineno + 1)
    m = _FRAME_TIME_LINE.match(line) if line is not None else None
    if m is None:
        raise _fail(path, lineno, "missing 'Frame Time: <seconds>' after the Frames line")
    try:
        frame_time = float(m.group(1))
    except ValueError:
        frame_time = float("nan")
    if not (math.isfinite(frame_time) and frame_time > 0):
        raise _fail(path, lineno, f"Frame Time must be a positive number of seconds, found {m.group(1)!r}")
    return frames, frame_time, m.group(1), pos, lineno + 1


def _fps_from_frame_time(frame_time: float, printed: str) -> float:
    """1 / frame_time, snapped to a whole fps when the printed value is its rounded reciprocal."""
    fps = 1.0 / frame_time
    whole = round(fps)
    digits = len(printed.split(".")[1]) if "." in printed and "e" not in printed.lower() else None
    if (whole >= 1 and digits is not None and abs(1.0 / whole - frame_time) <= 0.5 * 10.0 ** -digits
            and abs(fps - whole) <= 1e-3 * whole):
        return float(whole)
    return fps


def _locate_frame_problem(path, lines, first_line: int, frames: int, width: int):
    """Slow pass over the frame lines: an error naming the first bad line (always returns one)."""
    count, last_line = 0, first_line - 1
    for i, line in enumerate(lines):
        words = line.split()
        if not words:
            continue
        lineno = first_line + i
        last_line = lineno
        count += 1
        if count > frames:
            return _fail(path, lineno, f"more frame lines than 'Frames: {frames}' (this is frame {count})")
        if len(words) != width:
            return _fail(path, lineno, f"wrong number of values on frame {count}: expected {width}, found {len(words)}")
        for column, word in enumerate(words, start=1):
            try:
                value = float(word)
            except ValueError:
                return _fail(path, lineno, f"value {column} of frame {count} is not a number: {word!r}")
            if not math.isfinite(value):
                return _fail(path, lineno, f"value {column} of frame {count} is not finite: {word!r}")
    if count < frames:
        return _fail(path, max(last_line, first_line), f"truncated MOTION block: 'Frames: {frames}' "
                                                       f"but only {count} frame line{'' if count == 1 else 's'}")
    return _fail(path, first_line, "the frame lines could not be read")


def _chunks(n: int) -> list[slice]:
    """Row ranges for the worker threads (one range for small inputs)."""
    parts = _THREADS if n >= _ROWS_PER_THREAD * 2 else 1
    bounds = np.linspace(0, n, parts + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _map(fn, items: list):
    """``[fn(x) for x in items]``, on threads when there is more than one item.

    numpy's text reader and ufuncs release the GIL for most of their work, so two to four threads
    read a long file about 1.7 times faster on two cores.
    """
    if len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(fn, items))


def _load_lines(lines: list) -> np.ndarray:
    if not any(line.strip() for line in lines):     # stops at the first non-blank line
        return np.zeros((0, 0))                     # an all-blank chunk (loadtxt would warn)
    return np.loadtxt(lines, dtype=np.float64, comments=None, ndmin=2)


def _parse_frames(path, data: str, first_line: int, frames: int, width: int) -> np.ndarray:
    """(frames, width) channel values; C-level parse on threads, slow pass only to report a problem."""
    lines = data.split("\n")
    if width == 0:
        raise _fail(path, first_line - 1, "the HIERARCHY declares no channels, so there is no motion to read")
    end = len(lines)
    while end and not lines[end - 1].strip():       # trailing blank lines are fine
        end -= 1
    try:
        blocks = _map(_load_lines, [lines[rows] for rows in _chunks(end)])
        blocks = [b for b in blocks if b.size]
        values = np.concatenate(blocks) if len(blocks) > 1 else blocks[0] if blocks else np.zeros((0, width))
    except ValueError:
        values = None
    if values is None or values.shape != (frames, width) or not np.isfinite(values).all():
        raise _locate_frame_problem(path, lines, first_line, frames, width)
    return values


# --- reading: channels to SourceMotion -----------------------------------------------------------

# q * e_axis for a unit axis quaternion e_axis, as (source component, sign) for each of w, x, y, z.
_TIMES_AXIS = {"X": ((1, -1), (0, 1), (3, 1), (2, -1)),
               "Y": ((2, -1), (3, -1), (0, 1), (1, 1)),
               "Z": ((3, -1), (2, 1), (1, -1), (0, 1))}


def _half_angle_trig(values: np.ndarray, columns: np.ndarray, constant: np.ndarray):
    """cos and sin of half the angles (degrees) in ``columns``, each (T, K).

    Float64 sine and cosine dominate the reading time, so columns that never change (unused
    fingers, fixed joints: a quarter to a half of the channels in real files) are evaluated once.
    """
    half = values[:, columns] * (np.pi / 360.0)
    still = constant[columns]
    if not still.any():
        return np.cos(half), np.sin(half)
    c, s = np.empty_like(half), np.empty_like(half)
    c[:, still], s[:, still] = np.cos(half[0, still]), np.sin(half[0, still])
    moving = ~still
    if moving.any():
        c[:, moving], s[:, moving] = np.cos(half[:, moving]), np.sin(half[:, moving])
    return c, s


def _axis_quats(values: np.ndarray, columns: np.ndarray, axes: str, constant: np.ndarray) -> list:
    """Quaternion components [w, x, y, z], each (T, K), of R_axes[0] @ R_axes[1] @ ... (degrees).

    ``columns`` (K, len(axes)) are the frame columns of the angles. Components that are known to be
    zero are carried as None until an axis rotation fills them, which saves a third of the work.
    """
    q = None
    for i, axis in enumerate(axes):
        c, s = _half_angle_trig(values, columns[:, i], constant)
        if q is None:
            q = [c, None, None, None]
            q[_AXES.index(axis) + 1] = s
            continue
        # q <- q * (c + s e_axis): the new rotation is applied in q's rotated frame.
        new = []
        for k, (src, sign) in enumerate(_TIMES_AXIS[axis]):
            kept = None if q[k] is None else c * q[k]
            turned = None if q[src] is None else s * q[src]
            if turned is None:
                new.append(kept)
            elif kept is None:
                new.append(turned if sign > 0 else np.negative(turned, out=turned))
            else:
                new.append(np.add(kept, turned, out=kept) if sign > 0 else np.subtract(kept, turned, out=kept))
        q = new
    return q


def _rotations(values: np.ndarray, joints: list[_Joint], column_of: list[dict]) -> np.ndarray:
    """(T, J, 4) local rotations, joints grouped by their rotation channel order."""
    T, J = values.shape[0], len(joints)
    out = np.zeros((T, J, 4))
    out[..., 0] = 1.0
    groups = {}
    for j, joint in enumerate(joints):
        axes = "".join(ch[0] for ch in joint.channels if ch.endswith("rotation"))
        if axes:
            groups.setdefault(axes, []).append(j)
    constant = (values == values[:1]).all(axis=0) if T else np.zeros(values.shape[1], dtype=bool)
    plan = [(axes, members, np.array([[column_of[j][f"{a}rotation"] for a in axes] for j in members]))
            for axes, members in groups.items()]

    def fill(rows: slice):
        for axes, members, columns in plan:
            quat = _axis_quats(values[rows], columns, axes, constant)
            for k, component in enumerate(quat):
                if component is not None:     # None: stays 0 (w is never None)
                    out[rows, members, k] = component

    _map(fill, _chunks(T))
    return out


def _positions(values: np.ndarray, offset, columns: dict) -> np.ndarray:
    """(T, 3): the OFFSET with the components that have position channels replaced by them."""
    pos = np.tile(np.asarray(offset, dtype=np.float64), (values.shape[0], 1))
    for axis, name in enumerate(("Xposition", "Yposition", "Zposition")):
        if name in columns:
            pos[:, axis] = values[:, columns[name]]
    return pos


def _channel_columns(joints: list[_Joint]) -> list[dict]:
    """Per joint, channel name -> column in a frame line."""
    column_of, col = [], 0
    for joint in joints:
        column_of.append({name: col + k for k, name in enumerate(joint.channels)})
        col += len(joint.channels)
    return column_of


def _motion_from_channels(path, joints, names, values, fps, frame_time) -> SourceMotion:
    column_of = _channel_columns(joints)
    offsets = np.array([j.offset for j in joints], dtype=np.float64)
    skeleton = SourceSkeleton(names, [j.parent for j in joints], offsets, [j.end_site for j in joints])
    root_position = _positions(values, offsets[0], column_of[0])
    local_offsets = None
    moving = [j for j in range(1, len(joints)) if any(n.endswith("position") for n in joints[j].channels)]
    if moving:
        local_offsets = np.tile(offsets, (values.shape[0], 1, 1))
        for j in moving:
            local_offsets[:, j] = _positions(values, offsets[j], column_of[j])
    orders = {names[j]: "".join(c[0] for c in joint.channels if c.endswith("rotation"))
              for j, joint in enumerate(joints) if not joint.end_site}
    return SourceMotion(skeleton, fps, _rotations(values, joints, column_of), root_position,
                        local_offsets=local_offsets, up_axis=None, metres_per_unit=None, source=str(path),
                        metadata={"format": "bvh", "frame_time": frame_time, "rotation_orders": orders})


def _check_angles(path, joints, values: np.ndarray, data: str, first_line: int) -> None:
    """Rotation channels beyond any joint angle (1e308 degrees) are refused, naming the line."""
    turning = np.array([name.endswith("rotation") for j in joints for name in j.channels], dtype=bool)
    big = plausible.large_angle(values[:, turning])
    if big is None:
        return
    row = big[0]
    nonblank = [i for i, line in enumerate(data.split("\n")) if line.strip()]
    raise _fail(path, first_line + nonblank[row], f"frame {row + 1}: "
                f"{plausible.angle_clause(values[:, turning][big])}")


def read_bvh(path) -> SourceMotion:
    """Read a BVH file (plain or gzipped) into a :class:`SourceMotion` (see the module docstring)."""
    text = _read_text(path)
    match = _MOTION_LINE.search(text)
    if match is None:
        last = text.count("\n") + 1
        if not text.strip():
            raise _fail(path, 1, "the file is empty")
        # Parse the hierarchy first: a broken one gives the more useful message.
        _HierarchyParser(path, text, last).parse()
        raise _fail(path, last, "no MOTION section after the HIERARCHY")
    motion_line = text.count("\n", 0, match.start()) + 1
    joints = _HierarchyParser(path, text[:match.start()], motion_line).parse()
    frames, frame_time, printed, pos, first_line = _parse_motion_header(path, text, match.end() + 1, motion_line)
    width = sum(len(j.channels) for j in joints)
    values = _parse_frames(path, text[pos:], first_line, frames, width)
    _check_angles(path, joints, values, text[pos:], first_line)
    fps = _fps_from_frame_time(frame_time, printed)
    why = plausible.frame_rate(fps)[1]
    if why is not None:
        raise _fail(path, first_line - 1, f"Frame Time {printed} s: {why}; expected the seconds between two "
                    "frames (e.g. 0.008333 for 120 fps)")
    return _motion_from_channels(path, joints, _unique_names(joints), values, fps, frame_time)


# --- writing -------------------------------------------------------------------------------------

def _check_order(rotation_order: str) -> str:
    order = str(rotation_order).upper()
    if len(order) != 3 or sorted(order) != list(_AXES):
        raise ValueError(f"write_bvh: rotation_order must be a permutation of 'XYZ' such as 'ZXY', "
                         f"got {rotation_order!r}")
    return order


def _children(parents: np.ndarray) -> list[list[int]]:
    kids = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def _check_writable(motion: SourceMotion, kids) -> list[str]:
    """File-safe joint names; raises ValueError for what BVH cannot hold."""
    sk = motion.skeleton
    for j in range(sk.num_joints):
        if sk.end_site[j] and (kids[j] or j == 0):
            what = "is the root" if j == 0 else "has children"
            raise ValueError(f"write_bvh: joint {sk.names[j]!r} is flagged end_site but {what}; "
                             f"a BVH End Site must be a leaf below the root")
    names = ["_".join(n.split()) or f"joint{j}" for j, n in enumerate(sk.names)]
    for name in names:
        if "{" in name or "}" in name:
            raise ValueError(f"write_bvh: joint name {name!r} contains a brace, which BVH cannot hold")
    if len(set(names)) != len(names):
        raise ValueError("write_bvh: joint names are not unique once spaces are replaced by '_'")
    if motion.local_offsets is not None:
        for j in np.flatnonzero(sk.end_site):
            if not np.allclose(motion.local_offsets[:, j], sk.offsets[j], rtol=1e-9, atol=1e-9):
                raise ValueError(f"write_bvh: End Site {sk.names[j]!r} has animated offsets, which BVH cannot store")
    arrays = (motion.rotations, motion.root_position, sk.offsets,
              motion.local_offsets if motion.local_offsets is not None else np.zeros(0))
    if not all(np.isfinite(a).all() for a in arrays):
        raise ValueError("write_bvh: the motion has NaN or infinite values")
    return names


def _hierarchy_lines(motion, names, kids, order, with_positions, fmt) -> tuple[list[str], list[int]]:
    """HIERARCHY text lines and the joints that have channels, in file (depth-first) order."""
    sk = motion.skeleton
    rot = " ".join(f"{a}rotation" for a in order)
    lines, written = ["HIERARCHY"], []
    stack = [(0, 0, False)]            # (joint, depth, closing?)
    while stack:
        j, depth, closing = stack.pop()
        pad = "\t" * depth
        if closing:
            lines.append(f"{pad}}}")
            continue
        offset = " ".join(fmt % v for v in sk.offsets[j])
        if sk.end_site[j]:
            lines += [f"{pad}End Site", f"{pad}{{", f"{pad}\tOFFSET {offset}"]
        else:
            lines += [f"{pad}{'ROOT' if j == 0 else 'JOINT'} {names[j]}", f"{pad}{{", f"{pad}\tOFFSET {offset}"]
            if j == 0 or with_positions:
                lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rot}")
            else:
                lines.append(f"{pad}\tCHANNELS 3 {rot}")
            written.append(j)
        stack.append((j, depth, True))
        stack.extend((k, depth + 1, False) for k in reversed(kids[j]))
    return lines, written


def _euler_degrees(quats: np.ndarray, order: str) -> np.ndarray:
    """(T, K, 3) BVH channel values (listed order) for rotations (T, K, 4), unwrapped over time."""
    # BVH lists the channels outermost first; Blender's order string names the innermost first.
    angles = np.degrees(matrix_to_euler(quat_to_matrix(quats), order[::-1])[..., ::-1])
    return np.unwrap(angles, period=360.0, axis=0) if len(angles) > 1 else angles


def _frame_values(motion: SourceMotion, written: list[int], order: str, with_positions: bool) -> np.ndarray:
    """(T, channels) values in file column order."""
    T = motion.num_frames
    angles = _euler_degrees(motion.rotations[:, written], order)
    blocks = []
    for k, j in enumerate(written):
        if j == 0:
            blocks.append(motion.root_position)
        elif with_positions:
            blocks.append(motion.local_offsets[:, j])
        blocks.append(angles[:, k])
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((T, 0))


def write_bvh(path, motion: SourceMotion, rotation_order: str = "ZXY", precision: int = 6) -> None:
    """Write ``motion`` as a standard BVH file.

    The root gets 6 channels (position, then rotations in ``rotation_order``, BVH meaning: "ZXY" is
    "Zrotation Xrotation Yrotation" = Rz @ Rx @ Ry); other joints get 3 rotation channels, or 6 when
    ``motion.local_offsets`` is set. Joints flagged ``end_site`` are written as ``End Site`` (their
    names and rotations are not stored; reading gives ``<parent>_end`` and identity). Root position
    channels hold ``root_position`` itself (they replace the root OFFSET when read back). The file
    is written to a temporary file in the same folder and renamed, so nothing half-written is left;
    a path ending in ".gz" is gzipped.
    """
    path = Path(path)
    order = _check_order(rotation_order)
    precision = int(precision)
    if precision < 1:
        raise ValueError(f"write_bvh: precision must be at least 1, got {precision}")
    sk = motion.skeleton
    kids = _children(sk.parents)
    names = _check_writable(motion, kids)
    with_positions = motion.local_offsets is not None
    fmt = f"%.{precision}f"
    lines, written = _hierarchy_lines(motion, names, kids, order, with_positions, fmt)
    values = _frame_values(motion, written, order, with_positions)
    row = " ".join([fmt] * values.shape[1])
    frame_time = repr(1.0 / float(motion.fps))
    lines += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {frame_time}"]
    lines += [row % tuple(r) for r in values.tolist()]
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    if path.name.lower().endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    with atomic_open(path) as handle:
        handle.write(payload)
