"""Change a Motion's frame rate: slerp for rotations, linear for the root path."""

from __future__ import annotations

import numpy as np

from .motion import Motion
from .rotations import quat_slerp


def resample_times(num_frames: int, fps: float, new_fps: float) -> np.ndarray:
    """Source-frame coordinates (fractional) of the new frames, covering the take's duration.

    The first frame is kept; the last new frame is the last one that does not extrapolate.
    """
    duration = (num_frames - 1) / fps
    count = int(np.floor(duration * new_fps + 1e-9)) + 1
    return np.arange(count) * (fps / new_fps)


def resample_motion(motion: Motion, fps: float) -> Motion:
    """The same motion sampled at ``fps`` (returns ``motion`` itself when the rate already matches)."""
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"target fps must be a positive number, got {fps!r}")
    if abs(fps - motion.fps) < 1e-9 * fps:
        return motion
    positions = resample_times(motion.num_frames, motion.fps, fps)
    lower = np.minimum(np.floor(positions).astype(np.int64), motion.num_frames - 1)
    upper = np.minimum(lower + 1, motion.num_frames - 1)
    weight = positions - lower
    rotations = quat_slerp(motion.rotations[lower], motion.rotations[upper], weight[:, None])
    translation = motion.translation[lower] + weight[:, None] * (motion.translation[upper] - motion.translation[lower])
    metadata = dict(motion.metadata, resampled_from_fps=motion.fps)
    return Motion(float(fps), rotations, translation, motion.skeleton, metadata)
