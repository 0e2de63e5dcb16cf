"""Foot-floor contact from foot point tracks: ground level, stance detection, contact runs.

Foot points are (T, F, 3) in metres in the core frame (Y up by default): any F, e.g. left/right
ankle and toe, or better the sole points of ``feet.foot_floor_points`` (they lie on the floor when
planted, so one ground height fits them all).  A point is planted when it is both low and slow; the
thresholds have a little hysteresis so noise near a threshold does not chatter on and off.
"""

from __future__ import annotations

import numpy as np

# Exit thresholds are this factor above the entry ones (height and speed alike).
HYSTERESIS = 1.25
# Seconds of velocity smoothing (a centred moving average of at least 3 frames).
SPEED_SMOOTHING_S = 0.1
# Points slower than this (m/s) are "resting" for the ground estimate.
GROUND_SPEED_LIMIT = 0.25
# Band (m) above the low percentile whose median is the ground (see ``estimate_ground_height``).
GROUND_BAND = 0.03


def _check_points(foot_points) -> np.ndarray:
    points = np.asarray(foot_points, dtype=np.float64)
    if points.ndim != 3 or points.shape[2] != 3:
        raise ValueError(f"foot points must be shaped (T, F, 3), got {points.shape}")
    return points


def point_speeds(points: np.ndarray, fps: float, window: int | None = None) -> np.ndarray:
    """Speed (T, F) in m/s: central-difference velocities averaged over a centred window, then |v|.

    Averaging the velocity *vectors* (not their norms) is what removes tracking noise: the norm of
    noise is positive and would not average out.  ``window`` frames (odd), by default about
    ``SPEED_SMOOTHING_S`` seconds and at least 3; NaN-aware (frames with no finite neighbour: NaN).
    """
    points = _check_points(points)
    num = len(points)
    if num < 2:
        return np.where(np.isfinite(points).all(axis=-1), 0.0, np.nan)
    velocity = np.gradient(points, axis=0) * float(fps)
    if window is None:
        window = max(3, int(round(SPEED_SMOOTHING_S * fps)))
    half = int(window) // 2
    if half > 0:
        ok = np.isfinite(velocity).all(axis=-1, keepdims=True)
        zero = np.zeros((1,) + velocity.shape[1:])
        sums = np.concatenate((zero, np.cumsum(np.where(ok, velocity, 0.0), axis=0)))
        counts = np.concatenate((zero[..., :1], np.cumsum(ok, axis=0)))
        lo = np.clip(np.arange(num) - half, 0, num)
        hi = np.clip(np.arange(num) + half + 1, 0, num)
        count = counts[hi] - counts[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            velocity = np.where(count > 0, (sums[hi] - sums[lo]) / count, np.nan)
    return np.linalg.norm(velocity, axis=-1)


def estimate_ground_height(foot_points: np.ndarray, up_axis: int = 1, fps: float | None = None) -> float:
    """Robust floor level (metres along ``up_axis``) from foot point tracks.

    Per frame take the lowest foot point, among points slower than ``GROUND_SPEED_LIMIT`` when
    ``fps`` is given (a swinging foot passing low says nothing about the floor).  The ground is the
    median of those per-frame minima lying within ``GROUND_BAND`` above their 5th percentile: the
    percentile discards the tall values (frames where only a lifted point was slow) and a rare
    spike below the floor, the median then averages out tracking noise without the downward bias a
    plain low percentile has.
    """
    points = _check_points(foot_points)
    height = points[..., up_axis]
    usable = np.isfinite(points).all(axis=-1)
    if not usable.any():
        raise ValueError("cannot estimate the ground height: the foot points contain no finite sample")
    if fps is not None and len(points) >= 2:
        slow = usable & (np.nan_to_num(point_speeds(points, fps), nan=np.inf) < GROUND_SPEED_LIMIT)
        if slow.any(axis=1).sum() >= max(3, len(points) // 20):
            usable = slow
    lowest = np.min(np.where(usable, height, np.inf), axis=1)
    lowest = lowest[np.isfinite(lowest)]
    floor = np.percentile(lowest, 5.0)
    return float(np.median(lowest[lowest <= floor + GROUND_BAND]))


def _drop_short_runs(contact: np.ndarray, min_frames: int) -> np.ndarray:
    """Clear True runs shorter than ``min_frames`` along axis 0 of a (T, F) bool array."""
    if min_frames <= 1 or contact.size == 0:
        return contact
    num, feet = contact.shape
    # Feet side by side along one axis, separated by a False so no run crosses from one to the next.
    line = np.concatenate((contact.T, np.zeros((feet, 1), dtype=bool)), axis=1).ravel()
    edges = np.diff(np.concatenate(([0], line.astype(np.int8))))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    short = (stops - starts) < min_frames
    marks = np.zeros(line.size + 1, dtype=np.int64)
    np.add.at(marks, starts[short], 1)
    np.add.at(marks, stops[short], -1)
    line = line & ~(np.cumsum(marks[:-1]) > 0)
    return line.reshape(feet, num + 1)[:, :num].T.copy()


def detect_foot_contact(foot_points: np.ndarray, fps: float, up_axis: int = 1, ground_height=None,
                        height_threshold: float = 0.05, speed_threshold: float = 0.25,
                        min_frames: int = 3) -> np.ndarray:
    """Contact flags (T, F): the point is within ``height_threshold`` (m) of the ground and slower
    than ``speed_threshold`` (m/s, see ``point_speeds``).

    Hysteresis: contact starts when both entry conditions hold and lasts until the point is higher
    or faster than ``HYSTERESIS`` times the thresholds; frames in between keep the previous state.
    Contact runs shorter than ``min_frames`` are then dropped (a foot brushing the floor mid-swing
    is not a plant).  ``ground_height`` is a float or one per point (F,); None estimates it with
    ``estimate_ground_height``.  Non-finite points are never in contact.
    """
    points = _check_points(foot_points)
    finite = np.isfinite(points).all(axis=-1)
    if not finite.any():
        return np.zeros(points.shape[:2], dtype=bool)
    if ground_height is None:
        ground_height = estimate_ground_height(points, up_axis, fps)
    height = points[..., up_axis] - np.asarray(ground_height, dtype=np.float64)
    speed = point_speeds(points, fps)
    with np.errstate(invalid="ignore"):
        enter = finite & (height < height_threshold) & (speed < speed_threshold)
        stay = finite & (height < HYSTERESIS * height_threshold) & (speed < HYSTERESIS * speed_threshold)
    # State machine without a loop: frames that decide (enter, or leave the stay band) set the
    # state; every other frame copies the last deciding frame (none yet: no contact).
    decided = enter | ~stay
    frames = np.arange(len(points))[:, None]
    last = np.maximum.accumulate(np.where(decided, frames, -1), axis=0)
    contact = np.where(last >= 0, np.take_along_axis(enter, np.maximum(last, 0), axis=0), False)
    return _drop_short_runs(contact & finite, int(min_frames))


def contact_runs(contact: np.ndarray) -> list[tuple[int, int, int]]:
    """Contact intervals ``(foot, start, stop)`` (stop exclusive) of a (T, F) bool array, by foot then time."""
    contact = np.asarray(contact, dtype=bool)
    if contact.ndim == 1:
        contact = contact[:, None]
    feet = contact.shape[1]
    padded = np.concatenate((np.zeros((feet, 1), dtype=np.int8), contact.T.astype(np.int8),
                             np.zeros((feet, 1), dtype=np.int8)), axis=1)
    edges = np.diff(padded, axis=1)
    foot_s, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)
    return [(int(f), int(s), int(e)) for f, s, e in zip(foot_s, starts, stops)]
