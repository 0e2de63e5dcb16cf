"""The tracker recording data model (issue 6): VR / positional trackers, each a position and an
orientation per frame, in the core frame (Y up, +Z the wearer's forward at calibration, metres).

A tracker is a device (headset, controller, puck), not a joint: ``positions`` and
``orientations`` are the device's. Its *mounting* (``TrackerMounting``: where the device sits in
the frame of the bone it rides, and how it is turned there) maps the device pose to the joint:
``joint_position = p + R_device @ mounting.offset`` and ``R_bone = R_device @ mounting.rotation``.
Synthesis (``core/trackers/synth``) and calibration (``core/trackers/calibration``) produce and
estimate mountings; the solvers work on joint-level targets.

Tracker names are body sites (``TRACKER_JOINTS``): pelvis, head, left/right hand, left/right foot,
left/right elbow, left/right knee. A hand tracker rides the wrist joint (the controller in the
hand), a foot tracker the ankle (on the instep or shoe), the head tracker the head joint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..kinematics.skeleton import JOINT_INDEX

TRACKER_JOINTS = {
    "pelvis": JOINT_INDEX["pelvis"], "head": JOINT_INDEX["head"],
    "left_hand": JOINT_INDEX["left_wrist"], "right_hand": JOINT_INDEX["right_wrist"],
    "left_foot": JOINT_INDEX["left_ankle"], "right_foot": JOINT_INDEX["right_ankle"],
    "left_elbow": JOINT_INDEX["left_elbow"], "right_elbow": JOINT_INDEX["right_elbow"],
    "left_knee": JOINT_INDEX["left_knee"], "right_knee": JOINT_INDEX["right_knee"],
}
SIX_POINT = ("pelvis", "head", "left_hand", "right_hand", "left_foot", "right_foot")
THREE_POINT = ("head", "left_hand", "right_hand")


class TrackerError(ValueError):
    """A tracker file or recording that cannot be used; the message names the file and the reason."""


@dataclass
class TrackerMounting:
    """Where a device sits on the bone it rides: ``offset`` (3,) the vector from the device to the
    joint in the device frame (``joint = p + R_device @ offset``), and ``rotation`` (3, 3) the
    bone's orientation in the device frame (``R_bone = R_device @ rotation``)."""

    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))


@dataclass
class TrackerRecording:
    """``positions`` (T, K, 3) metres and ``orientations`` (T, K, 4) unit quaternions wxyz
    (device-to-world) in the core frame; ``valid`` (T, K) bool (False: the sample is missing and
    its values are NaN); ``names`` the K tracker names (keys of ``TRACKER_JOINTS``); ``fps``;
    ``source`` the file or object it came from (for messages); ``metadata`` free-form (the
    convention it was read with, device names, ...)."""

    names: tuple
    positions: np.ndarray
    orientations: np.ndarray
    fps: float
    valid: np.ndarray | None = None
    source: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.names = tuple(self.names)
        where = self.source or "tracker recording"
        unknown = [n for n in self.names if n not in TRACKER_JOINTS]
        if unknown:
            raise TrackerError(f"{where}: unknown tracker name(s) {', '.join(map(repr, unknown))}; expected "
                               f"{', '.join(TRACKER_JOINTS)}")
        if len(set(self.names)) != len(self.names):
            raise TrackerError(f"{where}: a tracker name appears twice in {self.names}")
        self.positions = np.asarray(self.positions, dtype=np.float64)
        self.orientations = np.asarray(self.orientations, dtype=np.float64)
        if self.positions.ndim != 3 or self.positions.shape[1:] != (len(self.names), 3):
            raise TrackerError(f"{where}: positions must be (T, {len(self.names)}, 3), got {self.positions.shape}")
        T, K = self.positions.shape[:2]
        if self.orientations.shape != (T, K, 4):
            raise TrackerError(f"{where}: orientations must be (T, {K}, 4) quaternions wxyz, got {self.orientations.shape}")
        if self.valid is None:
            self.valid = np.isfinite(self.positions).all(-1) & np.isfinite(self.orientations).all(-1)
        self.valid = np.asarray(self.valid, dtype=bool)
        if self.valid.shape != (T, K):
            raise TrackerError(f"{where}: valid must be (T, K) = ({T}, {K}), got {self.valid.shape}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise TrackerError(f"{where}: fps must be a positive number, got {self.fps}")
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise TrackerError(f"{self.source or 'tracker recording'}: no tracker {name!r} "
                               f"(has {', '.join(self.names)})") from None

    def subset(self, names) -> "TrackerRecording":
        """The recording with only ``names``, in that order."""
        idx = [self.index(n) for n in names]
        return TrackerRecording(tuple(names), self.positions[:, idx], self.orientations[:, idx], self.fps,
                                self.valid[:, idx], self.source, dict(self.metadata))
