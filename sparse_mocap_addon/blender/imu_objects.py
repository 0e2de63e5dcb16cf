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

import bpy
import numpy as np

from ..core.body.measurements import BodyMeasurements, skeleton_from_measurements
from ..core.imu.recording import SEGMENT_JOINTS, ImuError, ImuRecording
from ..core.kinematics.rotations import matrix_to_quat, quat_normalize, quat_to_matrix
from .coords import CORE_TO_BLENDER, core_to_blender_vectors
from .empty_sets import Channel, SetKind, create_recording_set, read_recording_set, scene_frame

IMU_SET = SetKind(marker="sparse_mocap_imu", member_key="sensor", index_key="sensor_index", noun="IMU set",
                  member="sensor", made_by="Import IMU Recording", error=ImuError, suffix="_imu",
                  names_key="sensors")
MARKER = IMU_SET.marker
SENSOR_KEY = IMU_SET.member_key
INDEX_KEY = IMU_SET.index_key
ACCELERATION = "acceleration"
ACCELERATION_PATH = f'["{ACCELERATION}"]'

_AXES = {"+X": (1, 0, 0), "-X": (-1, 0, 0), "+Y": (0, 1, 0), "-Y": (0, -1, 0), "+Z": (0, 0, 1), "-Z": (0, 0, -1)}


# --- finding IMU sets ----------------------------------------------------------------------------

is_imu_set = IMU_SET.is_set                    # a parent Empty made by create_imu_empties
find_imu_parent = IMU_SET.find_parent          # the IMU set an object belongs to: itself or its parent
active_imu_parent = IMU_SET.active_parent      # of the active object, else the one among the selected
stored_calibration = IMU_SET.stored_calibration
sensor_children = IMU_SET.children             # the set's sensor empties in recording order


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
    to_blender = world_to_blender(recording)
    valid = np.asarray(recording.valid, dtype=bool)
    matrices = to_blender @ np.where(valid[..., None, None], recording.orientation, np.eye(3))
    channels = [Channel("rotation_quaternion", "Orientation", matrix_to_quat(matrices), shown=True),
                Channel(ACCELERATION_PATH, "Acceleration", np.nan_to_num(recording.acceleration) @ to_blender.T)]
    facts = {"world": str(recording.world),
             "up_axis": str(recording.metadata.get("up_axis", "+Y" if recording.world == "core" else "+Z")),
             "format": str(recording.metadata.get("format", "")),
             "native_fps": float(recording.metadata.get("native_fps", recording.fps)),
             "world_to_blender": [float(v) for v in to_blender.ravel()]}
    places = _segment_positions(recording.sensors)

    def dress(child, s):
        child.location = places[s]
        child[ACCELERATION] = [0.0, 0.0, 0.0]
        child.id_properties_ui(ACCELERATION).update(subtype="ACCELERATION",
                                                    description="Free acceleration (gravity removed), m/s^2, "
                                                                "in the IMU set's axes")

    return create_recording_set(
        IMU_SET, name, collection or context.collection or scene.collection, names=recording.sensors, valid=valid,
        channels=channels, fps=recording.fps, source=recording.source, metadata=recording.metadata, facts=facts,
        frame_start=scene_frame(scene, frame_start), child_size=0.12,
        valid_description="1 where the sensor has a sample", dress=dress, progress=progress)


# --- reading -------------------------------------------------------------------------------------

def read_imu_empties(parent) -> ImuRecording:
    """The recording held by ``parent`` (made by :func:`create_imu_empties`), in its own world.

    Vectorised reads of the keys (``foreach_get``); a sample is valid where its ``valid`` key is 1
    and its orientation and acceleration are keyed. Raises :class:`ImuError` with one sentence when
    ``parent`` is no IMU set or has lost its sensors.
    """
    held = read_recording_set(IMU_SET, parent, (("rotation_quaternion", 4), (ACCELERATION_PATH, 3)))
    valid = held.valid
    to_blender = np.asarray(parent.get("world_to_blender", list(np.eye(3).ravel())), dtype=np.float64).reshape(3, 3)
    safe = np.where(valid[..., None], held.values["rotation_quaternion"], np.array([1.0, 0.0, 0.0, 0.0]))
    orientation = to_blender.T @ quat_to_matrix(quat_normalize(safe))
    acceleration = np.nan_to_num(held.values[ACCELERATION_PATH]) @ to_blender
    metadata = held.metadata
    metadata.update({"imu_set": parent.name, "up_axis": str(parent.get("up_axis", metadata.get("up_axis", "+Z")))})
    for key in ("format", "native_fps"):
        if key in parent:
            metadata[key] = parent[key]
    return ImuRecording(sensors=held.names, orientation=orientation, acceleration=acceleration, fps=held.fps,
                        valid=valid, world=str(parent.get("world", "core")),
                        source=str(parent.get("source", "")) or parent.name, metadata=metadata)
