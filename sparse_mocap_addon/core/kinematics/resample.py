"""Change a Motion's frame rate (slerp for rotations, linear for the root path), and put sampled
streams on a uniform clock."""

from __future__ import annotations

import numpy as np

from .motion import Motion
from .rotations import quat_continuous, quat_slerp


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


def interpolate_onto_grid(times, quat, acc, valid, grid, max_gap):
    """Values at ``grid`` from samples at ``times``: slerp for (N, ..., 4) quaternions, linear for
    (N, ..., 3) vectors (accelerations, positions): how the IMU and tracker readers put a stream on
    a uniform clock. A grid time on a sample takes it; between two samples it is valid
    only when both are and they are at most ``max_gap`` apart; outside the samples it is invalid."""
    n = len(times)
    batch = quat.shape[1:-1]
    if n == 1:
        hit = np.abs(grid - times[0]) <= 1e-9 * max(1.0, abs(times[0]))
        ok = hit.reshape((-1,) + (1,) * len(batch)) & valid[:1]
        return (np.broadcast_to(quat[:1], (len(grid),) + quat.shape[1:]).copy(),
                np.broadcast_to(acc[:1], (len(grid),) + acc.shape[1:]).copy(), ok)
    quat = np.where(valid[..., None], quat, np.array([1.0, 0.0, 0.0, 0.0]))
    acc = np.where(valid[..., None], acc, 0.0)
    quat = quat_continuous(quat, axis=0)
    i = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, n - 2)
    t0, t1 = times[i], times[i + 1]
    u = (grid - t0) / (t1 - t0)
    eps = 1e-6
    on_left, on_right = np.abs(u) <= eps, np.abs(u - 1.0) <= eps
    inside = (u >= -eps) & (u <= 1.0 + eps)
    u = np.clip(np.where(on_left, 0.0, np.where(on_right, 1.0, u)), 0.0, 1.0)
    shape = (-1,) + (1,) * len(batch)
    between = valid[i] & valid[i + 1] & ((t1 - t0) <= max_gap).reshape(shape)
    ok = np.where(on_left.reshape(shape), valid[i], np.where(on_right.reshape(shape), valid[i + 1], between))
    ok &= inside.reshape(shape)
    uq = np.broadcast_to(u.reshape(shape), (len(grid),) + batch)
    q = quat_slerp(quat[i], quat[i + 1], uq)
    ua = uq[..., None]
    a = (1.0 - ua) * acc[i] + ua * acc[i + 1]
    return q, a, ok
