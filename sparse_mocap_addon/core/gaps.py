"""Holes in a motion: finding them, the interpolation baseline, and how visible a seam is.

A *gap* is a run of consecutive frames flagged missing (a tracker occluded, an IMU packet lost,
landmarks not found). Frames are half-open ranges ``(start, stop)``. The baseline fill is what every
animation tool does: slerp the joint rotations and lerp the root translation between the last frame
before the gap and the first after it. Gaps that touch the start or end of the take have only one
side known; the baseline holds that side's pose. The learned fill lives in
``inference/gap_fill.py`` and is measured against this one.

numpy only.
"""

from __future__ import annotations

import numpy as np

from .kinematics.motion import Motion
from .kinematics.rotations import quat_continuous, quat_slerp

__all__ = ["find_gaps", "fillable_gaps", "interpolate_gaps", "seam_velocity_jump"]


def find_gaps(missing) -> list[tuple[int, int]]:
    """Half-open ``(start, stop)`` frame ranges of the runs of True in a (T,) mask."""
    missing = np.asarray(missing, dtype=bool)
    if missing.ndim != 1:
        raise ValueError(f"find_gaps: the missing-frame mask must be one flag per frame, got shape {missing.shape}")
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def fillable_gaps(missing, max_gap_frames: int | None) -> tuple[list, list]:
    """Split the gaps into those to fill and those left alone.

    Left alone: longer than ``max_gap_frames``, or the whole take (nothing known to start from).
    """
    missing = np.asarray(missing, dtype=bool)
    keep, skip = [], []
    for start, stop in find_gaps(missing):
        whole_take = start == 0 and stop == len(missing)
        too_long = max_gap_frames is not None and stop - start > max_gap_frames
        (skip if whole_take or too_long else keep).append((start, stop))
    return keep, skip


def interpolate_gaps(motion: Motion, gaps) -> Motion:
    """The baseline: slerp rotations and lerp translation across each gap from its known neighbours.

    A gap at the start (or end) of the take holds the first (or last) known frame.
    """
    rotations = quat_continuous(motion.rotations, axis=0).copy()
    translation = motion.translation.copy()
    last = motion.num_frames - 1
    for start, stop in gaps:
        before, after = start - 1, stop
        if before < 0 and after > last:
            continue
        if before < 0:
            before = after
        if after > last:
            after = before
        span = max(after - before, 1)
        t = ((np.arange(start, stop) - before) / span)[:, None]
        rotations[start:stop] = quat_slerp(rotations[before][None], rotations[after][None], t)
        translation[start:stop] = translation[before] + t * (translation[after] - translation[before])
    return Motion(motion.fps, rotations, translation, motion.skeleton, dict(motion.metadata))


def seam_velocity_jump(positions: np.ndarray, gaps, fps: float) -> float:
    """Mean jump in joint velocity (m/s) at the seams of the filled gaps.

    At each seam (the first frame of a gap, and the first known frame after it) the velocity of every
    joint one frame before is compared with the velocity one frame after; a fill that continues the
    motion leaves only the motion's own acceleration there, a fill with a kink leaves a jump.
    ``positions`` is (T, J, 3) after filling. Seams without a frame on both sides are skipped.
    """
    positions = np.asarray(positions, dtype=np.float64)
    velocity = np.diff(positions, axis=0) * fps          # velocity[i] is between frames i and i + 1
    jumps = []
    for start, stop in gaps:
        for seam in (start, stop):
            if seam - 2 >= 0 and seam + 1 < len(positions):
                jumps.append(np.linalg.norm(velocity[seam] - velocity[seam - 2], axis=-1).mean())
    return float(np.mean(jumps)) if jumps else float("nan")
