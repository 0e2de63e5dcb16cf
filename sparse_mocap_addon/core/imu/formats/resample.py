"""Resampling: :func:`resample_imu` puts a recording on a uniform grid at another rate."""

from __future__ import annotations

import numpy as np

from ..recording import ImuRecording
from ...kinematics.resample import interpolate_onto_grid
from ...kinematics.rotations import matrix_to_quat, quat_to_matrix
from .align import MAX_BRIDGED_PERIODS, _grid
from .common import _fail, _rate_argument


def resample_imu(recording: ImuRecording, fps: float = 60.0) -> ImuRecording:
    """The recording on a uniform grid at ``fps`` from its first frame's time: orientations by slerp,
    accelerations linearly. Frame times are ``metadata["times"]`` when present (real time stamps),
    else uniform at ``recording.fps``. A new frame between two frames is valid only when both are
    (and they are at most 3.5 nominal periods apart); one on a frame takes that frame.
    """
    fps = _rate_argument(fps)
    where = recording.source or "the recording"
    count = recording.num_frames
    if count == 0:
        raise _fail(where, "the recording has no frames.")
    times = recording.metadata.get("times")
    if times is None or len(times) != count:
        times = np.arange(count) / float(recording.fps)
    times = np.asarray(times, dtype=np.float64)
    bad = np.flatnonzero(~(np.diff(times) > 0))
    if not np.isfinite(times).all() or len(bad):
        frame = int(bad[0]) + 1 if len(bad) else int(np.flatnonzero(~np.isfinite(times))[0])
        raise _fail(f"{where}, frame {frame}", "the frame times (metadata['times']) must be finite and increase.")
    step = float(np.median(np.diff(times))) if count > 1 else 1.0 / recording.fps
    grid = _grid(times[0], times[-1], float(fps))
    quat = matrix_to_quat(np.nan_to_num(recording.orientation))
    q, a, ok = interpolate_onto_grid(times, quat, recording.acceleration, recording.valid, grid, MAX_BRIDGED_PERIODS * step)
    meta = dict(recording.metadata)
    meta["times"] = grid
    meta["resampled_from_fps"] = float(recording.fps)
    return ImuRecording(sensors=recording.sensors, orientation=quat_to_matrix(q), acceleration=a, fps=float(fps),
                        valid=ok, world=recording.world, source=recording.source, metadata=meta)
