"""What the two kinds of empty sets share: a landmark set (:mod:`.landmark_objects`) and an IMU
set (:mod:`.imu_objects`) are each a parent Empty with one animated child Empty per point or
sensor. This module finds the set the user means, writes a child's keys the fast way
(``keyframe_points.add`` + ``foreach_set``) and reads them back (``foreach_get``)."""

from __future__ import annotations

import numpy as np

LINEAR = 1         # Keyframe.interpolation enum values (foreach_set takes the integers)
CONSTANT = 0


def active_set(context, find_parent):
    """The set (``find_parent(obj)``: the set ``obj`` belongs to, or None) of the active object,
    else the one set among the selected objects; None when there is none or more than one."""
    found = find_parent(context.active_object)
    if found is not None:
        return found
    sets = {p.name: p for p in (find_parent(o) for o in (context.selected_objects or ())) if p}
    return next(iter(sets.values())) if len(sets) == 1 else None


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
