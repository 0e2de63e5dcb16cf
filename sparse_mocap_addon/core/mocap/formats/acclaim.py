"""Acclaim ASF/AMC reader (CMU mocap, HDM05, Vicon BodyBuilder exports), numpy only.

``read_asf`` parses the skeleton file into an :class:`AsfSkeleton`; ``read_amc`` reads a motion file
against it and returns a :class:`~..source.SourceMotion` in the rest-identity form; ``read_asf_amc``
does both. Plain and gzip-compressed files are accepted (detected by the gzip magic bytes).

Joints. Every ASF bone becomes a joint placed at the bone's *start*: the root joint sits at the root
position and a bone starts where its parent bone ends, so a joint's offset is its parent bone's
``direction * length`` (zero for the bones hanging from the root). Every leaf bone also gets an end
site ``<bone>_end`` at its end. Joints are ordered root first, then depth first in the order of the
``:hierarchy`` section. Offsets stay in file units; ``metres_per_unit`` is ``0.0254 / length`` from
``:units`` (the CMU/Vicon convention: ``length 0.45`` makes one unit 1/0.45 inch = 56.44 mm), or
``None`` when the ASF has no ``length`` unit. Acclaim data is Y up (``up_axis="Y"``).

Rotations (the convention checked against the CMU/USC viewer by Lin, Safonova, Bhat, Barbic and
Zhao, the CalciferZh AMCParser, and against HDM05 walking data in the tests). A bone's ``axis ax ay
az XYZ`` is the orientation C (world <- bone frame) of the bone's local frame in the rest pose: an
Euler rotation whose letters give the order of application about fixed axes, "XYZ" meaning
``C = Rz(az) Ry(ay) Rx(ax)`` (the three numbers are always x, y, z; the letters only give the order).
An AMC line gives the bone's rotation M about the axes of that local frame, composed from the dof
angles in the order the ``dof`` line lists them (first listed, first applied: ``dof rx ry rz`` is
``M = Rz Ry Rx``, which is also what the CMU viewer does for the only order CMU and HDM05 use). The
rotation relative to the rest pose, expressed in the world frame, is then ``L = C M C^-1`` and
``global = global_parent * L``: exactly the rest-identity local rotation. The root works the same
way with ``C`` from the root ``orientation`` in the root ``axis`` order (identity in every CMU and
HDM05 file) and ``M`` from the rotation tokens of the root ``order`` line (``RX RY RZ``: X first).
The root position is the ASF root ``position`` plus the AMC translation.

Translation dofs on bones (``tx ty tz`` and ``l``; absent in CMU and HDM05 data) are honoured through
``SourceMotion.local_offsets``: ``tx ty tz`` move the bone's start along its local axes (the
translation ``C t`` is added to the joint's offset, applied before the bone's own rotation, as the
CMU viewer does) and ``l`` lengthens the bone along its direction (added to ``length`` for the
offsets of its children and end site). Translation values are in file length units.

Angles: the ASF ``angle`` unit applies to ``axis``, root ``orientation`` and rotational ``limits``
(stored here in radians); the AMC header ``:DEGREES`` / ``:RADIANS`` decides the AMC values, falling
back to the ASF unit when the AMC says neither.

Any malformed input raises :class:`~..source.SourceFormatError` with one sentence naming the file,
the line and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from ...kinematics.rotations import EULER_ORDERS, euler_to_quat, quat_conjugate, quat_multiply, quat_rotate
from ..source import SourceFormatError, SourceMotion, SourceSkeleton
from ...io import plausible
from ...io.textio import read_text

__all__ = ["AsfBone", "AsfSkeleton", "read_asf", "read_amc", "read_asf_amc"]

INCH = 0.0254
ROTATION_DOFS = ("rx", "ry", "rz")
TRANSLATION_DOFS = ("tx", "ty", "tz")
BONE_DOFS = ROTATION_DOFS + TRANSLATION_DOFS + ("l",)
ROOT_TOKENS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
_AXIS = {"x": 0, "y": 1, "z": 2}


# --- small helpers ---------------------------------------------------------------------------------

def _fail(path, line, reason) -> SourceFormatError:
    where = f"{path}, line {line}" if line else f"{path}"
    return SourceFormatError(f"{where}: {reason}.")


def _floats(path, line, tokens, count, what) -> np.ndarray:
    if len(tokens) != count:
        raise _fail(path, line, f"'{what}' needs {count} numbers, got {len(tokens)}")
    try:
        values = np.array([float(t) for t in tokens])
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise _fail(path, line, f"'{what}' has '{bad}' where a number was expected") from None
    return values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _euler_order(path, line, token) -> str:
    order = token.upper()
    if order not in EULER_ORDERS:
        raise _fail(path, line, f"rotation order '{token}' is not one of {', '.join(EULER_ORDERS)}")
    return order


def _axis_quat(angles_xyz: np.ndarray, order: str) -> np.ndarray:
    """C as a quaternion: angles given as (x, y, z), applied in the order of the letters."""
    return euler_to_quat(np.array([angles_xyz[_AXIS[c.lower()]] for c in order]), order)


def _single_axis_quat(axis: int, angle: np.ndarray) -> np.ndarray:
    q = np.zeros(angle.shape + (4,))
    q[..., 0] = np.cos(0.5 * angle)
    q[..., 1 + axis] = np.sin(0.5 * angle)
    return q


# --- the skeleton ----------------------------------------------------------------------------------

@dataclass
class AsfBone:
    """One ``:bonedata`` block. Angles in radians; ``direction`` and ``length`` in file units."""

    name: str
    id: int | None
    direction: np.ndarray            # (3,) in the world rest frame (a unit vector by the spec)
    length: float
    axis: np.ndarray                 # (3,) x, y, z angles of the bone's local frame, radians
    axis_order: str                  # Euler order of ``axis``, e.g. "XYZ"
    dof: tuple                       # subset of rx ry rz tx ty tz l, in file order (= AMC order)
    limits: tuple = ()               # one (low, high) per dof: radians for rotations, units otherwise
    line: int = 0                    # line of the block's ``begin`` (for messages)

    @property
    def axis_quat(self) -> np.ndarray:
        """C (world <- bone frame) as a unit quaternion (w, x, y, z)."""
        return _axis_quat(self.axis, self.axis_order)

    @property
    def offset(self) -> np.ndarray:
        """Bone vector start -> end in the world rest frame, file units."""
        return self.direction * self.length


@dataclass
class AsfSkeleton:
    """A parsed ASF file. ``children`` maps a bone name (or "root") to its children in file order."""

    path: str
    name: str
    version: str
    mass: float
    length: float
    angle: str                       # "deg" or "rad": the unit of angles in the ASF
    has_length_unit: bool
    root_order: tuple                # e.g. ("TX", "TY", "TZ", "RX", "RY", "RZ"): AMC root value order
    root_axis: str                   # Euler order of the root orientation
    root_position: np.ndarray        # (3,) file units
    root_orientation: np.ndarray     # (3,) radians, x y z
    bones: dict                      # name -> AsfBone, in file order
    children: dict                   # name -> list of child bone names
    documentation: str = ""
    joint_names: tuple = field(init=False, default=())
    joint_parents: np.ndarray = field(init=False, default=None)
    joint_bones: tuple = field(init=False, default=())  # bone name per joint, None for root/end sites

    def __post_init__(self):
        self._build_joints()

    @property
    def metres_per_unit(self):
        """0.0254 / length (``length 0.45`` -> 0.05644 m per unit), None without a length unit."""
        return INCH / self.length if self.has_length_unit else None

    @property
    def root_axis_quat(self) -> np.ndarray:
        return _axis_quat(self.root_orientation, self.root_axis)

    def _build_joints(self):
        names, parents, bones = ["root"], [-1], [None]
        stack = [(child, 0) for child in reversed(self.children.get("root", []))]
        while stack:
            bone, parent = stack.pop()
            index = len(names)
            names.append(bone)
            parents.append(parent)
            bones.append(bone)
            kids = self.children.get(bone, [])
            if kids:
                stack.extend((child, index) for child in reversed(kids))
            else:
                names.append(f"{bone}_end")
                parents.append(index)
                bones.append(None)
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise _fail(self.path, 0, f"joint name '{dup}' occurs twice (a bone is named like an end site)")
        self.joint_names = tuple(names)
        self.joint_parents = np.array(parents, dtype=np.int64)
        self.joint_bones = tuple(bones)

    def _parent_bone(self, j: int):
        p = self.joint_parents[j]
        return None if p < 0 else self.joint_bones[p]

    def source_skeleton(self) -> SourceSkeleton:
        """Joints at bone starts plus end sites, offsets in the world rest frame, file units."""
        offsets = np.zeros((len(self.joint_names), 3))
        offsets[0] = self.root_position
        for j in range(1, len(self.joint_names)):
            pb = self._parent_bone(j)
            if pb is not None:
                offsets[j] = self.bones[pb].offset
        end_site = np.array([b is None and j > 0 for j, b in enumerate(self.joint_bones)])
        return SourceSkeleton(self.joint_names, self.joint_parents, offsets, end_site)


def read_asf(path) -> AsfSkeleton:
    """Parse an Acclaim skeleton file (plain or gzipped)."""
    path = str(path)
    text = read_text(path)
    # '#' starts a comment; commas and parentheses are whitespace (ASF spec).
    table = str.maketrans({",": " ", "(": " ", ")": " "})
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0]
        tokens = body.translate(table).split()
        if tokens:
            lines.append((number, tokens, raw))

    units = {"mass": 1.0, "length": 1.0, "angle": "deg"}
    has_length = False
    name, version, documentation = "", "", []
    root = {"order": ROOT_TOKENS, "axis": "XYZ", "position": np.zeros(3), "orientation": np.zeros(3)}
    bone_blocks = None        # list of (line, [(line, tokens)])
    hierarchy = None          # list of (line, tokens)
    hierarchy_line = 0
    section = None
    i = 0
    while i < len(lines):
        number, tokens, raw = lines[i]
        key = tokens[0]
        if key.startswith(":"):
            kw = key.lower()
            section = kw
            if kw == ":version":
                version = " ".join(tokens[1:])
            elif kw == ":name":
                name = " ".join(tokens[1:])
            elif kw == ":bonedata":
                bone_blocks, i = _collect_blocks(path, lines, i + 1)
                section = None
                continue
            elif kw == ":hierarchy":
                hierarchy_line = number
                hierarchy, i = _collect_hierarchy(path, lines, i + 1, number)
                section = None
                continue
            i += 1
            continue
        if section == ":units":
            if len(tokens) != 2:
                raise _fail(path, number, f"a ':units' entry needs a name and one value, got '{raw.strip()}'")
            unit = tokens[0].lower()
            if unit in ("mass", "length"):
                value = _floats(path, number, tokens[1:], 1, unit)[0]
                if not (np.isfinite(value) and value > 0):
                    raise _fail(path, number, f"unit '{unit}' must be a positive number, got {tokens[1]}")
                units[unit] = float(value)
                has_length = has_length or unit == "length"
            elif unit == "angle":
                a = tokens[1].lower()
                if a.startswith("deg"):
                    units["angle"] = "deg"
                elif a.startswith("rad"):
                    units["angle"] = "rad"
                else:
                    raise _fail(path, number, f"angle unit '{tokens[1]}' is neither 'deg' nor 'rad'")
        elif section == ":documentation":
            documentation.append(raw.strip())
        elif section == ":root":
            rk = tokens[0].lower()
            if rk == "order":
                order = tuple(t.upper() for t in tokens[1:])
                bad = [t for t in order if t not in ROOT_TOKENS]
                if bad or len(set(order)) != len(order):
                    raise _fail(path, number, "the root 'order' must list distinct tokens among "
                                              f"{' '.join(ROOT_TOKENS)}, got '{' '.join(tokens[1:])}'")
                root["order"] = order
            elif rk == "axis":
                if len(tokens) != 2:
                    raise _fail(path, number, "the root 'axis' needs one rotation order such as XYZ")
                root["axis"] = _euler_order(path, number, tokens[1])
            elif rk in ("position", "orientation"):
                root[rk] = _floats(path, number, tokens[1:], 3, f"root {rk}")
        i += 1

    if bone_blocks is None:
        raise _fail(path, 0, "there is no ':bonedata' section, so the file is not an ASF skeleton")
    if hierarchy is None:
        raise _fail(path, 0, "there is no ':hierarchy' section, so the bones cannot be connected")
    to_rad = np.pi / 180.0 if units["angle"] == "deg" else 1.0
    bones = {}
    for begin_line, entries in bone_blocks:
        bone = _parse_bone(path, begin_line, entries, to_rad)
        if bone.name.lower() == "root":
            raise _fail(path, begin_line, "a bone may not be named 'root' (that name is the root's)")
        if bone.name in bones:
            raise _fail(path, begin_line, f"bone name '{bone.name}' is used twice")
        bones[bone.name] = bone
    if not bones:
        raise _fail(path, 0, "the ':bonedata' section defines no bones")

    children = {}
    parent_of = {}
    for number, tokens in hierarchy:
        parent = tokens[0]
        if parent != "root" and parent not in bones:
            raise _fail(path, number, f"':hierarchy' names '{parent}', which is not a bone of ':bonedata'")
        for child in tokens[1:]:
            if child not in bones:
                raise _fail(path, number, f"':hierarchy' names '{child}', which is not a bone of ':bonedata'")
            if child in parent_of:
                raise _fail(path, number, f"bone '{child}' is given a second parent in ':hierarchy'")
            parent_of[child] = parent
            children.setdefault(parent, []).append(child)
    # Every bone must hang from the root (this also rules out cycles).
    reached, todo = set(), ["root"]
    while todo:
        b = todo.pop()
        for c in children.get(b, []):
            if c not in reached:
                reached.add(c)
                todo.append(c)
    missing = [b for b in bones if b not in reached]
    if missing:
        raise _fail(path, bones[missing[0]].line or hierarchy_line,
                    f"bone '{missing[0]}' is not connected to the root in ':hierarchy'")

    return AsfSkeleton(
        path=path, name=name, version=version, mass=units["mass"], length=units["length"],
        angle=units["angle"], has_length_unit=has_length, root_order=tuple(root["order"]),
        root_axis=root["axis"], root_position=np.asarray(root["position"], dtype=np.float64),
        root_orientation=np.asarray(root["orientation"], dtype=np.float64) * to_rad,
        bones=bones, children=children, documentation="\n".join(documentation),
    )


def _collect_blocks(path, lines, i):
    """``begin ... end`` blocks of ``:bonedata`` up to the next ``:`` keyword."""
    blocks = []
    while i < len(lines) and not lines[i][1][0].startswith(":"):
        number, tokens, raw = lines[i]
        if tokens[0].lower() != "begin":
            raise _fail(path, number, f"expected 'begin' to open a bone in ':bonedata', got '{raw.strip()}'")
        entries = []
        i += 1
        while True:
            if i >= len(lines) or lines[i][1][0].startswith(":"):
                raise _fail(path, number, "this bone's 'begin' has no matching 'end'")
            n2, t2, _ = lines[i]
            if t2[0].lower() == "begin":
                raise _fail(path, number, "this bone's 'begin' has no matching 'end'")
            if t2[0].lower() == "end":
                i += 1
                break
            entries.append((n2, t2))
            i += 1
        blocks.append((number, entries))
    return blocks, i


def _collect_hierarchy(path, lines, i, header_line):
    if i >= len(lines) or lines[i][1][0].lower() != "begin":
        line = lines[i][0] if i < len(lines) else header_line
        raise _fail(path, line, "':hierarchy' must start with 'begin'")
    i += 1
    entries = []
    while True:
        if i >= len(lines) or lines[i][1][0].startswith(":"):
            raise _fail(path, header_line, "':hierarchy' has no closing 'end'")
        number, tokens, _ = lines[i]
        i += 1
        if tokens[0].lower() == "end":
            return entries, i
        if len(tokens) < 2:
            raise _fail(path, number, f"a ':hierarchy' line needs a parent and at least one child, got '{tokens[0]}'")
        entries.append((number, tokens))


def _parse_bone(path, begin_line, entries, to_rad) -> AsfBone:
    found = {}
    dof, limits = (), []
    k = 0
    while k < len(entries):
        number, tokens = entries[k]
        key = tokens[0].lower()
        if key == "id":
            found["id"] = tokens[1] if len(tokens) > 1 else None
        elif key == "name":
            if len(tokens) != 2:
                raise _fail(path, number, "a bone 'name' must be one word")
            found["name"] = tokens[1]
        elif key == "direction":
            found["direction"] = _floats(path, number, tokens[1:], 3, "direction")
        elif key == "length":
            found["length"] = _floats(path, number, tokens[1:], 1, "length")[0]
        elif key == "axis":
            if len(tokens) != 5:
                raise _fail(path, number, "'axis' needs three angles and a rotation order such as XYZ")
            found["axis"] = _floats(path, number, tokens[1:4], 3, "axis")
            found["axis_order"] = _euler_order(path, number, tokens[4])
        elif key == "dof":
            dof = tuple(t.lower() for t in tokens[1:])
            bad = [t for t in dof if t not in BONE_DOFS]
            if bad or len(set(dof)) != len(dof) or not dof:
                raise _fail(path, number, f"'dof' must list distinct tokens among {' '.join(BONE_DOFS)}, "
                                          f"got '{' '.join(tokens[1:])}'")
            found["dof_line"] = number
        elif key == "limits":
            values = list(tokens[1:])
            while k + 1 < len(entries) and _is_number(entries[k + 1][1][0]):
                k += 1
                values.extend(entries[k][1])
            limits = (number, values)
        # Other keys (bodymass, cofmass, ...) carry nothing the motion needs.
        k += 1
    for required in ("name", "direction", "length"):
        if required not in found:
            raise _fail(path, begin_line, f"the bone starting here has no '{required}'")
    bone_name = found["name"]
    direction, length = found["direction"], float(found["length"])
    if not (np.all(np.isfinite(direction)) and np.isfinite(length)):
        raise _fail(path, begin_line, f"bone '{bone_name}' has a non-finite direction or length")
    axis = found.get("axis", np.zeros(3))
    if not np.all(np.isfinite(axis)):
        raise _fail(path, begin_line, f"bone '{bone_name}' has a non-finite axis")
    bone_limits = ()
    if limits:
        number, values = limits
        floats = _floats(path, number, values, 2 * len(dof), f"limits of {len(dof)} dof")
        pairs = floats.reshape(-1, 2)
        scale = np.array([to_rad if d in ROTATION_DOFS else 1.0 for d in dof])
        bone_limits = tuple(tuple(p) for p in pairs * scale[:, None])
    bone_id = found.get("id")
    try:
        bone_id = int(bone_id) if bone_id is not None else None
    except ValueError:
        bone_id = None
    return AsfBone(name=bone_name, id=bone_id, direction=direction, length=length, axis=axis * to_rad,
                   axis_order=found.get("axis_order", "XYZ"), dof=dof, limits=bone_limits,
                   line=begin_line)


# --- the motion ------------------------------------------------------------------------------------

def read_amc(path, asf: AsfSkeleton, fps: float = 120.0) -> SourceMotion:
    """Read an AMC motion for ``asf`` (from :func:`read_asf`) as a rest-identity SourceMotion."""
    path = str(path)
    if not isinstance(asf, AsfSkeleton):
        raise TypeError("read_amc: asf must be an AsfSkeleton from read_asf")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"read_amc: fps must be positive, got {fps!r}")
    text = read_text(path)
    raw_lines = text.splitlines()

    # Header: comments and ':' keywords up to the first frame number.
    angle = None
    fully_specified = False
    start = len(raw_lines)
    for n, raw in enumerate(raw_lines):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith(":"):
            kw = s.split()[0].upper()
            if kw == ":DEGREES":
                angle = "deg"
            elif kw == ":RADIANS":
                angle = "rad"
            elif kw == ":FULLY-SPECIFIED":
                fully_specified = True
            continue
        start = n
        break
    if start == len(raw_lines):
        raise _fail(path, 0, "the file has no frames (no frame number after the header)")
    angle = angle or asf.angle
    to_rad = np.pi / 180.0 if angle == "deg" else 1.0

    # Body: one split per line; frame lines are a lone integer, the others '<bone> <values...>'.
    parts = [ln.split() for ln in raw_lines[start:]]
    n_tokens = np.fromiter(map(len, parts), np.int64, len(parts))
    line_of = np.arange(len(parts), dtype=np.int64) + start + 1
    if np.any(n_tokens == 0) or any(p[0][0] == "#" for p in parts if p):
        keep = [i for i, p in enumerate(parts) if p and p[0][0] != "#"]
        parts = [parts[i] for i in keep]
        n_tokens, line_of = n_tokens[keep], line_of[keep]
    heads = [p[0] for p in parts]
    is_frame = np.fromiter(map(str.isdigit, heads), bool, len(heads)) & (n_tokens == 1)
    frame_rows = np.flatnonzero(is_frame)
    if not is_frame[0]:
        raise _fail(path, line_of[0], f"expected a frame number, got '{' '.join(parts[0])}'")
    numbers = np.array([int(heads[r]) for r in frame_rows], dtype=np.int64)
    steps = np.diff(numbers)
    if np.any(steps != 1):
        k = int(np.flatnonzero(steps != 1)[0]) + 1
        raise _fail(path, line_of[frame_rows[k]],
                    f"frame number {numbers[k]} does not follow frame {numbers[k - 1]}")
    T = len(frame_rows)
    frame_of_row = np.cumsum(is_frame) - 1

    # Every value of the file in one conversion; row r's values start at value_start[r].
    n_values_of_row = n_tokens - 1
    value_start = np.cumsum(n_values_of_row) - n_values_of_row
    try:
        flat = np.fromiter(map(float, chain.from_iterable(p[1:] for p in parts)), np.float64,
                           int(n_values_of_row.sum()))
    except ValueError:
        for r, p in enumerate(parts):
            bad = [t for t in p[1:] if not _is_number(t)]
            if bad:
                raise _fail(path, line_of[r], f"'{p[0]}' has '{bad[0]}' where a number was expected") from None
        raise

    groups = {}
    for r in np.flatnonzero(~is_frame).tolist():
        groups.setdefault(heads[r], []).append(r)

    expected = {"root": len(asf.root_order)}
    expected.update({b.name: len(b.dof) for b in asf.bones.values() if b.dof})
    for bone_name, rows in groups.items():
        if bone_name not in expected:
            known = "a bone without dof" if bone_name in asf.bones else "not a bone of the skeleton"
            raise _fail(path, line_of[rows[0]], f"'{bone_name}' is {known} in {asf.path}")

    values = {}
    for bone_name, n_values in expected.items():
        rows = np.asarray(groups.get(bone_name, []), dtype=np.int64)
        frames = frame_of_row[rows]
        if len(rows) != T or np.any(frames != np.arange(T)):
            counts = np.bincount(frames, minlength=T)
            if np.any(counts > 1):
                f = int(np.flatnonzero(counts > 1)[0])
                second = rows[frames == f][1]
                raise _fail(path, line_of[second], f"bone '{bone_name}' appears twice in frame {numbers[f]}")
            f = int(np.flatnonzero(counts == 0)[0])
            last = " (the last frame is truncated)" if f == T - 1 and T > 1 else ""
            raise _fail(path, line_of[frame_rows[f]],
                        f"frame {numbers[f]} has no line for bone '{bone_name}'{last}")
        lengths = n_values_of_row[rows]
        if np.any(lengths != n_values):
            k = int(np.flatnonzero(lengths != n_values)[0])
            spec = " ".join(asf.root_order) if bone_name == "root" else " ".join(asf.bones[bone_name].dof)
            raise _fail(path, line_of[rows[k]], f"bone '{bone_name}' has {lengths[k]} values but its "
                                                f"dof '{spec}' needs {n_values}")
        block = flat[value_start[rows][:, None] + np.arange(n_values)]
        finite = np.isfinite(block)
        if not finite.all():
            k = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise _fail(path, line_of[rows[k]], f"bone '{bone_name}' has a non-finite value (NaN or inf)")
        dof = asf.root_order if bone_name == "root" else asf.bones[bone_name].dof
        turning = np.array([t.lower() in ROTATION_DOFS for t in dof], dtype=bool)
        big = plausible.large_angle(block[:, turning], to_rad * 180.0 / np.pi)
        if big is not None:
            clause = plausible.angle_clause(block[:, turning][big], "degrees" if angle == "deg" else "radians")
            raise _fail(path, line_of[rows[big[0]]], f"bone '{bone_name}': {clause}")
        values[bone_name] = block

    skeleton = asf.source_skeleton()
    J = skeleton.num_joints
    rotations = np.zeros((T, J, 4))
    rotations[..., 0] = 1.0

    # Root: translation + rotation in the 'order' line's token order.
    root_vals = values["root"]
    root_position = np.broadcast_to(asf.root_position, (T, 3)).copy()
    root_rot_axes = []
    for col, token in enumerate(asf.root_order):
        axis = _AXIS[token[1].lower()]
        if token[0] == "T":
            root_position[:, axis] += root_vals[:, col]
        else:
            root_rot_axes.append((axis, root_vals[:, col] * to_rad))
    rotations[:, 0] = _conjugated(_compose(root_rot_axes, T), asf.root_axis_quat)

    local_offsets = None
    has_translation = any(d in ("tx", "ty", "tz", "l") for b in asf.bones.values() for d in b.dof)
    if has_translation:
        local_offsets = np.broadcast_to(skeleton.offsets, (T, J, 3)).copy()

    for j, bone_name in enumerate(asf.joint_bones):
        if bone_name is None:
            continue
        bone = asf.bones[bone_name]
        if not bone.dof:
            continue
        vals = values[bone_name]
        rot_axes, shift, stretch = [], np.zeros((T, 3)), None
        for col, token in enumerate(bone.dof):
            if token in ROTATION_DOFS:
                rot_axes.append((_AXIS[token[1]], vals[:, col] * to_rad))
            elif token in TRANSLATION_DOFS:
                shift[:, _AXIS[token[1]]] = vals[:, col]
            else:
                stretch = vals[:, col]
        c = bone.axis_quat
        if rot_axes:
            rotations[:, j] = _conjugated(_compose(rot_axes, T), c)
        if local_offsets is not None:
            if np.any(shift):
                local_offsets[:, j] += quat_rotate(c, shift)
            if stretch is not None:
                for child in np.flatnonzero(skeleton.parents == j):
                    local_offsets[:, child] += stretch[:, None] * bone.direction

    return SourceMotion(
        skeleton=skeleton, fps=float(fps), rotations=rotations, root_position=root_position,
        local_offsets=local_offsets, up_axis="Y", metres_per_unit=asf.metres_per_unit, source=path,
        metadata={
            "format": "asf/amc", "asf": asf.path, "amc": path, "skeleton_name": asf.name,
            "first_frame": int(numbers[0]), "amc_angle_unit": angle, "fully_specified": fully_specified,
        },
    )


def _compose(rot_axes, T) -> np.ndarray:
    """Product of single-axis rotations, the first listed applied first: (T, 4)."""
    q = np.zeros((T, 4))
    q[:, 0] = 1.0
    for axis, angle in rot_axes:
        q = quat_multiply(_single_axis_quat(axis, angle), q)
    return q


def _conjugated(m: np.ndarray, c: np.ndarray) -> np.ndarray:
    """C M C^-1: a rotation about the bone's local axes, expressed in the world rest frame."""
    return quat_multiply(quat_multiply(c, m), quat_conjugate(c))


def read_asf_amc(asf_path, amc_path, fps: float = 120.0) -> SourceMotion:
    """Read a skeleton and one of its motions (HDM05 and most CMU takes are 120 fps)."""
    return read_amc(amc_path, read_asf(asf_path), fps=fps)
