"""Which frames of a reconstruction had no usable input: one (T,) mask per pipeline, for gap filling.

Every pipeline gives a pose on every frame: the solvers bridge lost input on their own (a lost
tracker's target is interpolated, a dropped IMU sample is held, a missing landmark is bridged).
That is fine for a hand lost for a few frames. Where the input that places the body is gone, the
pose on those frames is a stand-in, and :func:`~.gap_fill.fill_motion_gaps` should replace it:

- **trackers**: the head (every mode reaches for it) or the mode's reference tracker (the pelvis
  for six-point) is lost, or at least half of the mode's trackers are;
- **IMUs**: a sample of any sensor the mode uses is dropped (the network and the direct solve hold
  or bridge it, so that bone stops following the body);
- **landmarks**: the hips (the root target) are not found, or fewer than half of the joints the
  layout gives are.

Each mask is on the frames of the Motion the pipeline returns (60 fps for the networks, which
resample the recording first). numpy only.
"""

from __future__ import annotations

import numpy as np

from ..core.imu.formats import resample_imu
from ..core.imu.recording import SIX_SENSORS, ImuRecording
from ..core.imu.direct import DENSE_LOWER_BODY, FOOT_SENSORS
from ..core.landmarks.targets import joint_targets
from ..core.landmarks.sequence import LandmarkSequence
from ..core.kinematics.resample import resample_times
from ..core.kinematics.skeleton import JOINT_INDEX
from ..core.trackers.checks import lost_frames
from ..core.trackers.recording import SIX_POINT, THREE_POINT, TrackerRecording
from .imu import NETWORK_FPS as IMU_NETWORK_FPS
from ..inference.tracker_poser import REFERENCE

__all__ = ["tracker_missing_frames", "imu_missing_frames", "landmark_missing_frames", "resample_mask"]


def resample_mask(missing, fps: float, new_fps: float) -> np.ndarray:
    """A missing-frame mask at ``new_fps`` (the frames of :func:`~..core.resample.resample_times`):
    a new frame is missing when either source frame around it is, as
    :func:`~.tracker_pipeline.resample_targets` resamples the targets."""
    missing = np.asarray(missing, dtype=bool)
    if abs(new_fps - fps) < 1e-9 * new_fps:
        return missing.copy()
    times = resample_times(len(missing), fps, new_fps)
    lo = np.minimum(np.floor(times).astype(np.int64), len(missing) - 1)
    hi = np.minimum(lo + 1, len(missing) - 1)
    return missing[lo] | missing[hi]


def tracker_missing_frames(recording: TrackerRecording, mode: str, motion_fps: float | None = None) -> np.ndarray:
    """Frames where the tracker solve of ``mode`` ("six_point", "three_point", "analytic": the
    mode the reconstruction ran) had no usable input, at ``motion_fps`` (default the recording's).
    Lost samples only: the solve's own ``report["failed_frames"]`` also flags the frames with
    samples no pose of the skeleton can produce."""
    wanted = THREE_POINT if mode == "three_point" else SIX_POINT
    used = [name for name in wanted if name in recording.names]
    valid = recording.valid[:, [recording.index(name) for name in used]]
    missing = lost_frames(valid, used, {"head", REFERENCE.get(mode, "pelvis")})
    return resample_mask(missing, recording.fps, motion_fps or recording.fps)


def imu_missing_frames(recording: ImuRecording, mode: str) -> np.ndarray:
    """Frames where the IMU solve of ``mode`` ("network" or "direct": the mode the reconstruction
    ran) lacked a sample of one of its sensors, at the pipeline's 60 fps."""
    if abs(recording.fps - IMU_NETWORK_FPS) > 1e-6:
        recording = resample_imu(recording, IMU_NETWORK_FPS)   # as reconstruct_imu does
    sensors = SIX_SENSORS if mode == "network" else DENSE_LOWER_BODY + FOOT_SENSORS
    columns = [recording.sensors.index(s) for s in sensors if s in recording.sensors]
    return ~recording.valid[:, columns].all(axis=1)


def landmark_missing_frames(sequence: LandmarkSequence, threshold: float = 0.5) -> np.ndarray:
    """Frames where the landmarks (points at or above ``threshold`` confidence) give no hips, or
    fewer than half of the joints the layout gives over the take."""
    valid = joint_targets(sequence, threshold).valid              # (T, 24)
    observed = valid.any(axis=0)
    found = valid[:, observed].sum(axis=1)
    return ~valid[:, JOINT_INDEX["pelvis"]] | (2 * found < observed.sum())
