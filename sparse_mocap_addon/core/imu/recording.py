"""Body-worn IMU recordings: the data model every IMU reader and the sensor synthesis produce.

An :class:`ImuRecording` holds, per frame and sensor, the sensor's orientation (a rotation matrix
taking sensor-frame vectors to the world frame) and its *free* acceleration (gravity removed,
world frame, m/s^2), at a fixed frame rate. ``sensors`` names what each sensor rides on; the
six-sensor layout of DIP/TransPose/PIP/FIP is ``SIX_SENSORS`` (riding the SMPL joints
``SIX_SENSOR_JOINTS``). ``valid`` marks samples that exist (a dropped packet is False; its values
are NaN).

``world`` says which world frame the values are in: "core" once they are in the core frame (Y up,
as DIP and TransPose already are), else a free text naming the device's own frame (e.g. "xsens
ENU") until calibration brings them into the core frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kinematics.skeleton import JOINT_INDEX

# DIP / TransPose / PIP / FIP order.
SIX_SENSORS = ("left_forearm", "right_forearm", "left_lower_leg", "right_lower_leg", "head", "pelvis")
SIX_SENSOR_JOINTS = tuple(JOINT_INDEX[n] for n in
                          ("left_elbow", "right_elbow", "left_knee", "right_knee", "head", "pelvis"))
# The SMPL joint each named body segment rides (for recordings with other or more sensors).
SEGMENT_JOINTS = {
    "pelvis": JOINT_INDEX["pelvis"], "head": JOINT_INDEX["head"], "chest": JOINT_INDEX["spine3"],
    "left_upper_arm": JOINT_INDEX["left_shoulder"], "right_upper_arm": JOINT_INDEX["right_shoulder"],
    "left_forearm": JOINT_INDEX["left_elbow"], "right_forearm": JOINT_INDEX["right_elbow"],
    "left_hand": JOINT_INDEX["left_wrist"], "right_hand": JOINT_INDEX["right_wrist"],
    "left_upper_leg": JOINT_INDEX["left_hip"], "right_upper_leg": JOINT_INDEX["right_hip"],
    "left_lower_leg": JOINT_INDEX["left_knee"], "right_lower_leg": JOINT_INDEX["right_knee"],
    "left_foot": JOINT_INDEX["left_ankle"], "right_foot": JOINT_INDEX["right_ankle"],
}
GRAVITY = 9.80665


class ImuError(ValueError):
    """An IMU file or recording that cannot be used; the message names the file and the reason."""


@dataclass
class ImuRecording:
    """``orientation`` (T, S, 3, 3) sensor-to-world rotations; ``acceleration`` (T, S, 3) free
    acceleration in the world frame (m/s^2); ``valid`` (T, S); ``sensors`` the S segment names
    (keys of ``SEGMENT_JOINTS`` where known); ``fps``; ``world`` the frame the values are in;
    ``source`` the file or folder (for messages)."""

    sensors: tuple
    orientation: np.ndarray
    acceleration: np.ndarray
    fps: float
    valid: np.ndarray | None = None
    world: str = "core"
    source: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.sensors = tuple(str(s) for s in self.sensors)
        self.orientation = np.asarray(self.orientation, dtype=np.float64)
        self.acceleration = np.asarray(self.acceleration, dtype=np.float64)
        where = f"{self.source}: " if self.source else ""
        T, S = self.acceleration.shape[:2] if self.acceleration.ndim == 3 else (None, None)
        if self.acceleration.ndim != 3 or self.acceleration.shape[2] != 3:
            raise ImuError(f"{where}acceleration must have shape (frames, sensors, 3), got {self.acceleration.shape}.")
        if self.orientation.shape != (T, S, 3, 3):
            raise ImuError(f"{where}orientation must have shape ({T}, {S}, 3, 3), got {self.orientation.shape}.")
        if len(self.sensors) != S:
            raise ImuError(f"{where}{S} sensors in the data but {len(self.sensors)} names.")
        if len(set(self.sensors)) != S:
            raise ImuError(f"{where}sensor names must be unique.")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ImuError(f"{where}the frame rate must be a positive number, got {self.fps!r}.")
        finite = (np.isfinite(self.acceleration).all(axis=-1)
                  & np.isfinite(self.orientation).reshape(T, S, 9).all(axis=-1))
        self.valid = finite if self.valid is None else (np.asarray(self.valid, dtype=bool) & finite)
        self.acceleration[~self.valid] = np.nan
        self.orientation[~self.valid] = np.nan

    @property
    def num_frames(self) -> int:
        return int(self.acceleration.shape[0])

    def index(self, sensor: str) -> int:
        return self.sensors.index(sensor)


def fill_dropped(recording: ImuRecording) -> ImuRecording:
    """A copy where each dropped sample holds its sensor's previous valid sample (samples before the
    first valid one take the first valid one; a sensor that never arrived: identity, zero). The
    returned recording's ``valid`` is all True; keep ``recording.valid`` for the mask."""
    valid = recording.valid
    T, S = valid.shape
    frames = np.arange(T)[:, None]
    last = np.maximum.accumulate(np.where(valid, frames, -1), axis=0)
    first = np.argmax(valid, axis=0)                                   # 0 when never valid
    index = np.where(last >= 0, last, first[None, :])
    sensors = np.arange(S)[None, :]
    acc = recording.acceleration[index, sensors]
    ori = recording.orientation[index, sensors]
    never = ~valid.any(axis=0)
    acc[:, never] = 0.0
    ori[:, never] = np.eye(3)
    return ImuRecording(sensors=recording.sensors, orientation=ori, acceleration=acc, fps=recording.fps,
                        world=recording.world, source=recording.source, metadata=dict(recording.metadata))
