"""IMU recordings as animated empties, and back.

An IMU set is a parent Empty (custom properties ``sparse_mocap_imu = True``, ``fps``, ``source``,
``world``, ``up_axis``, ``format``, ``native_fps``, ``time_start``, ``frame_start``,
``frame_count``, ``sensors``, ``world_to_blender``, ``valid_fraction`` and ``metadata``, a JSON
string of the reader's small facts; Calibrate adds ``calibration``, a JSON string) with one child
Empty (ARROWS) per sensor, named after the sensor (Blender adds ``.001`` when the name is taken; the
true name is the child's ``sensor`` property and its order ``sensor_index``). Children stand at the
segment they ride on a default 1.75 m body, so the set reads as a figure; their location is not
data.

Per child, LINEAR keys written the fast way (``keyframe_points.add`` + ``foreach_set``), frame ``i``
of the recording on scene frame ``frame_start + i``:

- ``rotation_quaternion`` (w, x, y, z): the sensor's orientation, sensor axes in the set's space,
  on the frames where the sample is valid (a dropped sample has no key);
- ``["acceleration"]``: the free acceleration (m/s^2) in the set's space, on the same frames;
- ``["valid"]``: 1 or 0 on every frame (CONSTANT keys), so dropped samples show in the graph.

The set's space is Blender's (Z up). A recording in the core frame (Y up: TransPose, DIP, the
synthetic sensors, calibrated data) is turned by :data:`.coords.CORE_TO_BLENDER`, so the sensors
point as the solved armature's bones will. A device world (Xsens, Movella DOT, x-io) is shown as it
is when its up axis is +Z (device X, Y, Z are Blender's X, Y, Z: magnetic north along +Y for ENU,
+X for NWU); another up axis is turned onto +Z by the smallest rotation. The rotation used is kept
in ``world_to_blender`` (row-major 3x3), so :func:`read_imu_empties` gives the recording back in
its own world, exactly (to the float32 precision of F-curve keys). Moving or turning the parent does
not change the recording it holds.
"""

from __future__ import annotations

import json

import bpy
import numpy as np

from ..core.body import BodyMeasurements, skeleton_from_measurements
from ..core.imu import SEGMENT_JOINTS, ImuError, ImuRecording
from ..core.rotations import matrix_to_quat, quat_continuous, quat_normalize, quat_to_matrix
from . import compat
from .coords import CORE_TO_BLENDER, core_to_blender_vectors
from .empty_sets import (active_set, add_valid_property, curves_by_path, find_parent, first_time, keyed_values,
                         new_set_child, new_set_parent, ordered_children, read_valid, set_members, small_metadata,
                         stored_dict, stored_metadata, write_keys, write_valid_keys)

MARKER = "sparse_mocap_imu"
SENSOR_KEY = "sensor"
INDEX_KEY = "sensor_index"
ACCELERATION = "acceleration"
ACCELERATION_PATH = f'["{ACCELERATION}"]'
CALIBRATION = "calibration"

_AXES = {"+X": (1, 0, 0), "-X": (-1, 0, 0), "+Y": (0, 1, 0), "-Y": (0, -1, 0), "+Z": (0, 0, 1), "-Z": (0, 0, -1)}


# --- finding IMU sets ----------------------------------------------------------------------------

def is_imu_set(obj) -> bool:
    """``obj`` is a parent Empty made by :func:`create_imu_empties`."""
    return obj is not None and bool(obj.get(MARKER, False))


def find_imu_parent(obj):
    """The IMU set ``obj`` belongs to: ``obj`` itself or its parent."""
    return find_parent(obj, is_imu_set)


def active_imu_parent(context):
    """The IMU set of the active object, else the one IMU set among the selected objects."""
    return active_set(context, find_imu_parent)


def stored_calibration(parent) -> dict | None:
    """The calibration dict Calibrate stored on the set, or None."""
    return stored_dict(parent, CALIBRATION, ImuError)


# --- the world of the set ------------------------------------------------------------------------

def world_to_blender(recording: ImuRecording) -> np.ndarray:
    """The rotation (3, 3) taking the recording's world vectors to the set's (Blender) axes."""
    if recording.world == "core":
        return CORE_TO_BLENDER.copy()
    up = str(recording.metadata.get("up_axis", "+Z"))
    if up not in _AXES:
        raise ImuError(f"{recording.source or 'the recording'}: unknown up axis {up!r}; expected one of "
                       f"{', '.join(_AXES)}.")
    u = np.array(_AXES[up], dtype=np.float64)
    z = np.array([0.0, 0.0, 1.0])
    if up == "+Z":
        return np.eye(3)
    if up == "-Z":
        return np.diag([1.0, -1.0, -1.0])                   # half a turn about X
    axis = np.cross(u, z)                                   # a quarter turn about u x z takes u to +Z
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + k + k @ k


def _segment_positions(sensors) -> np.ndarray:
    """Where each child empty stands (Blender axes): its segment on a default body, else in a row."""
    rest = core_to_blender_vectors(skeleton_from_measurements(BodyMeasurements(height=1.75)).rest_positions())
    out = np.empty((len(sensors), 3))
    spare = 0
    for k, name in enumerate(sensors):
        joint = SEGMENT_JOINTS.get(name)
        if joint is None:
            out[k] = (0.6 + 0.15 * spare, 0.0, 1.0)
            spare += 1
        else:
            out[k] = rest[joint]
    return out


# --- writing -------------------------------------------------------------------------------------

def create_imu_empties(recording: ImuRecording, name: str, collection=None, *, frame_start: int | None = None,
                       context=None, progress=None):
    """A parent Empty named ``name`` with one animated child Empty per sensor; returns the parent.

    ``frame_start`` defaults to the scene's start frame. New objects and one new action only:
    nothing that exists is changed.
    """
    context = context or bpy.context
    scene = context.scene
    collection = collection or context.collection or scene.collection
    tick = progress or (lambda fraction: None)
    to_blender = world_to_blender(recording)
    frame_start = int(scene.frame_start if frame_start is None else frame_start)
    T, S = recording.num_frames, len(recording.sensors)
    valid = np.asarray(recording.valid, dtype=bool)
    matrices = to_blender @ np.where(valid[..., None, None], recording.orientation, np.eye(3))
    quats = matrix_to_quat(matrices)                                            # (T, S, 4)
    acceleration = np.nan_to_num(recording.acceleration) @ to_blender.T         # (T, S, 3)
    frames = frame_start + np.arange(T, dtype=np.float64)
    time_start = first_time(recording.metadata, T)

    parent = new_set_parent(name, collection, MARKER)
    parent["fps"] = float(recording.fps)
    parent["source"] = str(recording.source)
    parent["world"] = str(recording.world)
    parent["up_axis"] = str(recording.metadata.get("up_axis", "+Y" if recording.world == "core" else "+Z"))
    parent["format"] = str(recording.metadata.get("format", ""))
    parent["native_fps"] = float(recording.metadata.get("native_fps", recording.fps))
    parent["time_start"] = time_start
    parent["frame_start"] = frame_start
    parent["frame_count"] = T
    parent["sensors"] = list(recording.sensors)
    parent["world_to_blender"] = [float(v) for v in to_blender.ravel()]
    parent["valid_fraction"] = float(valid.mean()) if valid.size else 0.0
    parent["metadata"] = json.dumps(small_metadata(recording.metadata), sort_keys=True)

    places = _segment_positions(recording.sensors)
    action = bpy.data.actions.new(name) if compat.has_slotted_actions() else None
    for s, sensor in enumerate(recording.sensors):
        child = new_set_child(sensor, parent, collection, 0.12)
        child.location = places[s]
        child.rotation_mode = "QUATERNION"
        child[SENSOR_KEY] = sensor
        child[INDEX_KEY] = s
        child[ACCELERATION] = [0.0, 0.0, 0.0]
        child.id_properties_ui(ACCELERATION).update(subtype="ACCELERATION",
                                                    description="Free acceleration (gravity removed), m/s^2, "
                                                                "in the IMU set's axes")
        add_valid_property(child, "1 where the sensor has a sample")
        keyed = np.flatnonzero(valid[:, s])
        q = quat_continuous(quats[keyed, s], axis=0) if len(keyed) else quats[:0, s]
        if len(keyed):
            child.rotation_quaternion = q[0]
        fcurves = compat.assign_new_action(child, action or bpy.data.actions.new(f"{name}_{sensor}"))
        for i in range(4):
            write_keys(compat.new_fcurve(fcurves, "rotation_quaternion", i, "Orientation"), frames[keyed], q[:, i])
        for i in range(3):
            write_keys(compat.new_fcurve(fcurves, ACCELERATION_PATH, i, "Acceleration"), frames[keyed],
                        acceleration[keyed, s, i])
        write_valid_keys(fcurves, frames, valid[:, s])
        tick((s + 1) / S)
    return parent


# --- reading -------------------------------------------------------------------------------------

def sensor_children(parent) -> list:
    """The set's sensor empties in recording order."""
    return ordered_children(parent, SENSOR_KEY, INDEX_KEY)


def read_imu_empties(parent) -> ImuRecording:
    """The recording held by ``parent`` (made by :func:`create_imu_empties`), in its own world.

    Vectorised reads of the keys (``foreach_get``); a sample is valid where its ``valid`` key is 1
    and its orientation and acceleration are keyed. Raises :class:`ImuError` with one sentence when
    ``parent`` is no IMU set or has lost its sensors.
    """
    if not is_imu_set(parent):
        raise ImuError(f"'{getattr(parent, 'name', parent)}' is no IMU set: expected the empties made by "
                       "Import IMU Recording.")
    children = sensor_children(parent)
    names, start, count = set_members(parent, children, SENSOR_KEY, ImuError, "IMU set", "sensor")
    quats = np.full((count, len(children), 4), np.nan)
    acceleration = np.full((count, len(children), 3), np.nan)
    valid = np.zeros((count, len(children)), dtype=bool)
    for s, child in enumerate(children):
        curves = curves_by_path(child)
        for i in range(4):
            quats[:, s, i] = keyed_values(curves.get(("rotation_quaternion", i)), start, count)
        for i in range(3):
            acceleration[:, s, i] = keyed_values(curves.get((ACCELERATION_PATH, i)), start, count)
        valid[:, s] = read_valid(curves, start, count)
    valid &= np.isfinite(quats).all(axis=-1) & np.isfinite(acceleration).all(axis=-1)
    to_blender = np.asarray(parent.get("world_to_blender", list(np.eye(3).ravel())), dtype=np.float64).reshape(3, 3)
    safe = np.where(valid[..., None], quats, np.array([1.0, 0.0, 0.0, 0.0]))
    orientation = to_blender.T @ quat_to_matrix(quat_normalize(safe))
    acceleration = np.nan_to_num(acceleration) @ to_blender
    metadata, fps = stored_metadata(parent, count)
    metadata.update({"imu_set": parent.name, "up_axis": str(parent.get("up_axis", metadata.get("up_axis", "+Z")))})
    for key in ("format", "native_fps"):
        if key in parent:
            metadata[key] = parent[key]
    return ImuRecording(sensors=tuple(names), orientation=orientation, acceleration=acceleration, fps=fps,
                        valid=valid, world=str(parent.get("world", "core")),
                        source=str(parent.get("source", "")) or parent.name, metadata=metadata)
