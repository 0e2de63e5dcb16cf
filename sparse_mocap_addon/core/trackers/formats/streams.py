"""Per-tracker sample streams onto one uniform time grid (still in the file's axes and units).

Streams that share one uniform clock (every file :func:`write_trackers` writes, most engine logs)
are taken as they are, without interpolation. Otherwise the grid runs at ``fps`` (default: the
file's stated rate, else the median sample step, rounded to a whole rate within 0.2 %) over the
span any tracker covers; positions are interpolated linearly and orientations by slerp; a frame
outside a tracker's samples, or between two samples more than ``MAX_BRIDGED_PERIODS`` periods
apart (tracking lost), is missing for that tracker.
"""

from __future__ import annotations

import math

import numpy as np

from ...kinematics.resample import interpolate_onto_grid
from .common import fail

MAX_BRIDGED_PERIODS = 3.5


def _snap(rate: float) -> float:
    whole = round(rate)
    return float(whole) if whole > 0 and abs(rate - whole) <= 0.002 * rate else float(rate)


def _uniform(times: np.ndarray) -> bool:
    if len(times) < 2:
        return True
    steps = np.diff(times)
    median = float(np.median(steps))
    return bool(np.all(np.abs(steps - median) <= 1e-6 * median))


def assemble(streams: list, fps, header_fps, where) -> tuple:
    """(times (T,), positions (T, K, 3), quats (T, K, 4) wxyz, valid (T, K), fps, metadata) of the streams.
    Missing samples hold NaN."""
    steps = [float(np.median(np.diff(s.times))) for s in streams if len(s.times) > 1]
    if header_fps is not None:
        native = float(header_fps)
    elif steps:
        native = _snap(1.0 / float(np.median(steps)))
    elif fps is not None:
        native = float(fps)
    else:
        raise fail(where, "every tracker has a single sample and the file states no frame rate; give the frame "
                   "rate or more samples.")
    rate = float(fps) if fps is not None else native
    first = streams[0].times
    shared = all(len(s.times) == len(first) and np.array_equal(s.times, first) for s in streams)
    meta = {"native_fps": native}
    if shared and _uniform(first) and math.isclose(rate, native, rel_tol=1e-9) and (
            len(first) < 2 or math.isclose(1.0 / float(np.median(np.diff(first))), native, rel_tol=2e-3)):
        times = np.asarray(first, dtype=np.float64)
        positions = np.stack([np.where(s.valid[:, None], s.positions, np.nan) for s in streams], axis=1)
        quats = np.stack([np.where(s.valid[:, None], s.quats, np.nan) for s in streams], axis=1)
        valid = np.stack([s.valid for s in streams], axis=1)
        meta["resampled"] = False
        return times, positions, quats, valid, rate, meta
    start = min(float(s.times[0]) for s in streams)
    end = max(float(s.times[-1]) for s in streams)
    count = int(math.floor((end - start) * rate + 1e-6)) + 1
    grid = start + np.arange(count) / rate
    max_gap = MAX_BRIDGED_PERIODS / native
    positions, quats, valid = [], [], []
    for s in streams:
        q, p, ok = interpolate_onto_grid(s.times, s.quats, s.positions, s.valid, grid, max_gap)
        positions.append(np.where(ok[:, None], p, np.nan))
        quats.append(np.where(ok[:, None], q, np.nan))
        valid.append(ok)
    meta["resampled"] = True
    return grid, np.stack(positions, axis=1), np.stack(quats, axis=1), np.stack(valid, axis=1), rate, meta
