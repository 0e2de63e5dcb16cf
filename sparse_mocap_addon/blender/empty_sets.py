"""What the kinds of empty sets share: a landmark set (:mod:`.landmark_objects`), an IMU set
(:mod:`.imu_objects`) and a tracker set (:mod:`.tracker_objects`) are each a parent Empty with one
animated child Empty per point, sensor or tracker. This module finds the set the user means, makes
the parent and its children, writes a child's keys the fast way (``keyframe_points.add`` +
``foreach_set``) and reads them back (``foreach_get``), including the ``["valid"]`` channel of the
IMU and tracker sets (1 or 0 on every frame, CONSTANT keys)."""

from __future__ import annotations

import json

import bpy
import numpy as np

from . import compat

LINEAR = 1         # Keyframe.interpolation enum values (foreach_set takes the integers)
CONSTANT = 0
VALID = "valid"
VALID_PATH = f'["{VALID}"]'


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


def write_keys(fcurve, frames: np.ndarray, values: np.ndarray, interpolation: int = LINEAR) -> None:
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

def new_set_parent(name: str, collection, marker: str):
    """A new parent Empty (plain axes) in ``collection`` marked with ``parent[marker] = True``."""
    parent = bpy.data.objects.new(name, None)
    collection.objects.link(parent)
    parent.empty_display_type = "PLAIN_AXES"
    parent.empty_display_size = 0.3
    parent[marker] = True
    return parent


def new_set_child(name: str, parent, collection, size: float):
    """A new child Empty (arrows, ``size``) of ``parent`` in ``collection``."""
    child = bpy.data.objects.new(name, None)
    collection.objects.link(child)
    child.parent = parent
    child.empty_display_type = "ARROWS"
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
    write_keys(compat.new_fcurve(fcurves, VALID_PATH, 0, "Valid"), frames, valid.astype(np.float64), CONSTANT)


# --- reading a set -------------------------------------------------------------------------------

def set_members(parent, children: list, name_key: str, error, kind: str, member: str):
    """(names, first frame, frame count) of a set's ``children`` (its members, each named by
    ``name_key``); raises ``error`` with one sentence when there are none, two share a name, or the
    set has no frames. ``kind`` ("IMU set") and ``member`` ("sensor") word the messages."""
    if not children:
        raise error(f"'{parent.name}': the {kind} has no {member} empties left.")
    names = [c[name_key] for c in children]
    if len(set(names)) != len(names):
        raise error(f"'{parent.name}': two of its empties stand for the same {member}.")
    start, count = int(parent.get("frame_start", 1)), int(parent.get("frame_count", 0))
    if count <= 0:
        raise error(f"'{parent.name}': the {kind} has no frames.")
    return names, start, count


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
