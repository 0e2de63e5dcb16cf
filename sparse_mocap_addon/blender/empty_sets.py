"""What the kinds of empty sets share: a landmark set (:mod:`.landmark_objects`), an IMU set
(:mod:`.imu_objects`) and a tracker set (:mod:`.tracker_objects`) are each a parent Empty with one
animated child Empty per point, sensor or tracker. This module finds the set the user means, makes
the parent and its children, writes a child's keys the fast way (``keyframe_points.add`` +
``foreach_set``) and reads them back (``foreach_get``), including the ``["valid"]`` channel of the
IMU and tracker sets (1 or 0 on every frame, CONSTANT keys).

A :class:`SetKind` names what tells the kinds apart (marker, member properties, words, error); the
IMU and tracker sets, recordings of devices that can drop samples, are written and read whole by
:func:`create_recording_set` and :func:`read_recording_set`, each concern giving only its channels
and the facts it keeps on the parent."""

from __future__ import annotations

import json
from dataclasses import dataclass

import bpy
import numpy as np

from ..core.kinematics.rotations import quat_continuous
from . import compat

VALID = "valid"
VALID_PATH = f'["{VALID}"]'
CALIBRATION = "calibration"      # the parent property where Calibrate keeps its result (JSON)


@dataclass(frozen=True)
class SetKind:
    """What tells one kind of empty set from another."""

    marker: str              # the parent's flag property ("sparse_mocap_imu")
    member_key: str          # a child's true member name ("sensor"; the object's name may carry ".001")
    index_key: str           # a child's place in the recording ("sensor_index")
    noun: str                # what messages call the set ("IMU set")
    member: str              # ... and one of its members ("sensor")
    made_by: str             # the operator that makes such sets ("Import IMU Recording")
    error: type              # the concern's one-sentence ValueError
    suffix: str = ""         # the set's name after the take's ("_imu": walk_imu)
    names_key: str = ""      # the parent's list of member names ("sensors"), recording sets only

    def is_set(self, obj) -> bool:
        """``obj`` is a parent Empty of this kind."""
        return obj is not None and bool(obj.get(self.marker, False))

    def find_parent(self, obj):
        """The set of this kind ``obj`` belongs to: ``obj`` itself or its parent, else None."""
        return find_parent(obj, self.is_set)

    def active_parent(self, context):
        """The set of this kind of the active object, else the one among the selected objects."""
        return active_set(context, self.find_parent)

    def children(self, parent) -> list:
        """The set's member empties in recording order."""
        return ordered_children(parent, self.member_key, self.index_key)

    def stored_calibration(self, parent) -> dict | None:
        """The dict Calibrate stored on the set, or None."""
        return stored_dict(parent, CALIBRATION, self.error)

    def store_calibration(self, parent, record: dict) -> None:
        """Keep Calibrate's JSON-safe ``record`` on the set (replacing the one before)."""
        parent[CALIBRATION] = json.dumps(record, sort_keys=True)

    def take_name(self, parent) -> str:
        """The take's name: the set's without :attr:`suffix` (``walk_imu`` -> ``walk``)."""
        return take_name(parent, self.suffix)

    def member_names(self, parent, children: list) -> list[str]:
        """The members' names; raises :attr:`error` with one sentence when there are none or two
        share a name."""
        if not children:
            raise self.error(f"'{parent.name}': the {self.noun} has no {self.member} empties left.")
        names = [c[self.member_key] for c in children]
        if len(set(names)) != len(names):
            raise self.error(f"'{parent.name}': two of its empties stand for the same {self.member}.")
        return names


def active_set(context, find_parent):
    """The set (``find_parent(obj)``: the set ``obj`` belongs to, or None) of the active object,
    else the one set among the selected objects; None when there is none or more than one."""
    found = find_parent(context.active_object)
    if found is not None:
        return found
    sets = {p.name: p for p in (find_parent(o) for o in (context.selected_objects or ())) if p}
    return next(iter(sets.values())) if len(sets) == 1 else None


def find_parent(obj, is_set):
    """The set ``obj`` belongs to (``is_set(candidate)``): ``obj`` itself or its parent, else None."""
    if obj is None:
        return None
    for candidate in (obj, obj.parent):
        if is_set(candidate):
            return candidate
    return None


def ordered_children(parent, name_key: str, index_key: str) -> list:
    """The children of ``parent`` that carry a string ``name_key``, in ``index_key`` order (then by name)."""
    return sorted((c for c in parent.children if isinstance(c.get(name_key), str)),
                  key=lambda c: (int(c.get(index_key, 1 << 30)), c.name))


def stored_dict(parent, key: str, error):
    """The dict kept as JSON in ``parent[key]``, or None; raises ``error`` (one sentence) on bad JSON."""
    text = parent.get(key)
    if not isinstance(text, str) or not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise error(f"'{parent.name}': its stored {key} is not valid JSON; calibrate it again.") from None
    return value if isinstance(value, dict) else None


def take_name(parent, suffix: str) -> str:
    """The take's name: the set's without ``suffix`` (``walk_imu`` -> ``walk``)."""
    name = parent.name
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name


def scene_frame(scene, frame_start: int | None) -> int:
    """``frame_start``, or the scene's start frame when None."""
    return int(scene.frame_start if frame_start is None else frame_start)


def write_keys(fcurve, frames: np.ndarray, values: np.ndarray, interpolation: int = compat.LINEAR) -> None:
    """Key ``values`` at ``frames`` on ``fcurve`` (nothing for no frames)."""
    if not len(frames):
        return
    coords = np.empty((len(frames), 2), dtype=np.float32)
    coords[:, 0] = frames
    coords[:, 1] = values
    fcurve.keyframe_points.add(len(frames))
    fcurve.keyframe_points.foreach_set("co", coords.ravel())
    fcurve.keyframe_points.foreach_set("interpolation", np.full(len(frames), interpolation, dtype=np.int8))
    fcurve.update()


def keyed_values(fcurve, start: int, count: int) -> np.ndarray:
    """(count,) key values at frames start .. start+count-1 (NaN where the curve has no key)."""
    values = np.full(count, np.nan)
    if fcurve is None or len(fcurve.keyframe_points) == 0:
        return values
    co = np.empty(2 * len(fcurve.keyframe_points), dtype=np.float32)
    fcurve.keyframe_points.foreach_get("co", co)
    frames = np.rint(co[0::2].astype(np.float64)).astype(np.int64) - start
    inside = (frames >= 0) & (frames < count)
    values[frames[inside]] = co[1::2][inside].astype(np.float64)
    return values


# --- making a set --------------------------------------------------------------------------------

def new_set_parent(name: str, collection, marker: str, size: float = 0.3):
    """A new parent Empty (plain axes, ``size``) in ``collection`` marked with ``parent[marker] = True``."""
    parent = bpy.data.objects.new(name, None)
    collection.objects.link(parent)
    parent.empty_display_type = "PLAIN_AXES"
    parent.empty_display_size = size
    parent[marker] = True
    return parent


def new_set_child(name: str, parent, collection, size: float, display: str = "ARROWS"):
    """A new child Empty (``display``, ``size``) of ``parent`` in ``collection``."""
    child = bpy.data.objects.new(name, None)
    collection.objects.link(child)
    child.parent = parent
    child.empty_display_type = display
    child.empty_display_size = size
    return child


def first_time(metadata: dict, count: int) -> float:
    """The recording's first time stamp (``metadata["times"]`` when it has ``count`` of them), else 0."""
    times = metadata.get("times")
    return float(times[0]) if times is not None and len(times) == count and count else 0.0


def small_metadata(metadata: dict) -> dict:
    """The reader's facts worth keeping on the set: JSON-safe scalars, short lists and dicts."""
    out = {}
    for key, value in metadata.items():
        if key == "times":
            continue
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            continue
        if len(text) <= 2000:
            out[key] = value
    return out


def add_valid_property(child, description: str) -> None:
    """The child's ``["valid"]`` property (0..1), keyed by :func:`write_valid_keys`."""
    child[VALID] = 1.0
    child.id_properties_ui(VALID).update(min=0.0, max=1.0, description=description)


def write_valid_keys(fcurves, frames: np.ndarray, valid: np.ndarray) -> None:
    """Key ``["valid"]`` 1 or 0 on every frame (CONSTANT keys), so missing samples show in the graph."""
    write_keys(compat.new_fcurve(fcurves, VALID_PATH, 0, "Valid"), frames, valid.astype(np.float64), compat.CONSTANT)


# --- reading a set -------------------------------------------------------------------------------

def set_frames(parent, kind: SetKind) -> tuple[int, int]:
    """(first frame, frame count) of a recording set; raises ``kind.error`` when it has no frames."""
    start, count = int(parent.get("frame_start", 1)), int(parent.get("frame_count", 0))
    if count <= 0:
        raise kind.error(f"'{parent.name}': the {kind.noun} has no frames.")
    return start, count


def curves_by_path(obj) -> dict:
    """{(data_path, array_index): F-curve} of ``obj``'s action."""
    return {(c.data_path, c.array_index): c for c in compat.action_fcurves(obj)}


def read_valid(curves: dict, start: int, count: int) -> np.ndarray:
    """(count,) bool: the ``["valid"]`` keys above 0.5 (a frame without a key counts as valid)."""
    flag = keyed_values(curves.get((VALID_PATH, 0)), start, count)
    return np.nan_to_num(flag, nan=1.0) > 0.5


def stored_metadata(parent, count: int) -> tuple[dict, float]:
    """(metadata, fps) kept on a set: the reader's facts plus ``times`` and ``frame_start``."""
    try:
        metadata = json.loads(parent.get("metadata", "{}"))
    except ValueError:
        metadata = {}
    fps = float(parent.get("fps", 60.0))
    metadata.update({"times": float(parent.get("time_start", 0.0)) + np.arange(count) / fps,
                     "frame_start": int(parent.get("frame_start", 1))})
    return metadata, fps


# --- recording sets (IMU, trackers): the whole set -------------------------------------------------

@dataclass
class Channel:
    """An animated property of a recording set's members: ``values`` (T, K, size) over the
    recording's frames, keyed on the frames where the member's sample is valid."""

    path: str                # the data path ("location", '["acceleration"]')
    group: str               # the F-curves' group
    values: np.ndarray
    shown: bool = False      # the member also stands at its first keyed value (the property itself)


def create_recording_set(kind: SetKind, name: str, collection, *, names, valid: np.ndarray, channels: list,
                         fps: float, source: str, metadata: dict, facts: dict, frame_start: int,
                         child_size: float, valid_description: str, dress=None, progress=None):
    """A parent Empty named ``name`` with one animated child Empty per member; returns the parent.

    The parent keeps ``kind.marker``, ``fps``, ``source``, the concern's ``facts``, ``time_start``,
    ``frame_start``, ``frame_count``, the member names (``kind.names_key``), ``valid_fraction`` and
    the reader's small ``metadata`` (JSON). Each child gets its ``channels`` keyed on its valid frames
    (a ``rotation_quaternion`` channel made continuous first), ``["valid"]`` on every frame, and
    ``dress(child, k)`` before its keys. One new action (per child before slotted actions).
    """
    tick = progress or (lambda fraction: None)
    T, K = valid.shape
    frames = frame_start + np.arange(T, dtype=np.float64)
    parent = new_set_parent(name, collection, kind.marker)
    parent["fps"] = float(fps)
    parent["source"] = str(source)
    for key, value in facts.items():
        parent[key] = value
    parent["time_start"] = first_time(metadata, T)
    parent["frame_start"] = frame_start
    parent["frame_count"] = T
    parent[kind.names_key] = list(names)
    parent["valid_fraction"] = float(valid.mean()) if valid.size else 0.0
    parent["metadata"] = json.dumps(small_metadata(metadata), sort_keys=True)

    action = bpy.data.actions.new(name) if compat.has_slotted_actions() else None
    for k, member in enumerate(names):
        child = new_set_child(member, parent, collection, child_size)
        child.rotation_mode = "QUATERNION"
        child[kind.member_key] = member
        child[kind.index_key] = k
        if dress is not None:
            dress(child, k)
        add_valid_property(child, valid_description)
        keyed = np.flatnonzero(valid[:, k])
        keys = [(channel, _member_keys(channel, keyed, k)) for channel in channels]
        for channel, values in keys:
            if channel.shown and len(keyed):
                setattr(child, channel.path, values[0])
        fcurves = compat.assign_new_action(child, action or bpy.data.actions.new(f"{name}_{member}"))
        for channel, values in keys:
            for i in range(values.shape[1]):
                write_keys(compat.new_fcurve(fcurves, channel.path, i, channel.group), frames[keyed], values[:, i])
        write_valid_keys(fcurves, frames, valid[:, k])
        tick((k + 1) / K)
    return parent


def _member_keys(channel: Channel, keyed: np.ndarray, k: int) -> np.ndarray:
    """(len(keyed), size) values member ``k`` is keyed with; quaternions without sign flips."""
    values = channel.values[keyed, k]
    if channel.path == "rotation_quaternion" and len(keyed):
        values = quat_continuous(values, axis=0)
    return values


@dataclass
class RecordingSetContents:
    """What :func:`read_recording_set` read back."""

    names: tuple
    values: dict             # {path: (T, K, size)}, NaN where a member has no key
    valid: np.ndarray        # (T, K): the ``valid`` key is 1 and every channel keyed
    metadata: dict           # the reader's facts plus ``times`` and ``frame_start``
    fps: float


def read_recording_set(kind: SetKind, parent, channels) -> RecordingSetContents:
    """The members' keys of a set made by :func:`create_recording_set`, read the fast way
    (``foreach_get``) for ``channels`` ((path, size), ...). Raises ``kind.error`` with one sentence
    when ``parent`` is no such set or has lost its members or frames."""
    if not kind.is_set(parent):
        raise kind.error(f"'{getattr(parent, 'name', parent)}' is no {kind.noun}: expected the empties made by "
                         f"{kind.made_by}.")
    children = kind.children(parent)
    names = kind.member_names(parent, children)
    start, count = set_frames(parent, kind)
    values = {path: np.full((count, len(children), size), np.nan) for path, size in channels}
    valid = np.zeros((count, len(children)), dtype=bool)
    for k, child in enumerate(children):
        curves = curves_by_path(child)
        for path, size in channels:
            for i in range(size):
                values[path][:, k, i] = keyed_values(curves.get((path, i)), start, count)
        valid[:, k] = read_valid(curves, start, count)
    for keyed in values.values():
        valid &= np.isfinite(keyed).all(axis=-1)
    metadata, fps = stored_metadata(parent, count)
    return RecordingSetContents(tuple(names), values, valid, metadata, fps)
