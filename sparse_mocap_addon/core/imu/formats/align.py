"""Per-sensor sample streams and the time grid: time-stamp checks, counter unwrapping, interpolation
onto a uniform grid, and :func:`_assemble`, which cuts several streams to the span they all cover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..recording import ImuRecording
from ...kinematics.resample import interpolate_onto_grid
from ...kinematics.rotations import quat_to_matrix
from ...io.plausible import MAX_DURATION_S, MAX_SAMPLE_RATE, frame_rate, infinite_values, seconds
from .common import _fail, check_acceleration
from .segments import _sensor_order


MAX_BRIDGED_PERIODS = 3.5       # samples further apart than this many nominal periods leave a gap


@dataclass
class _Stream:
    """One sensor's samples as read: sensor-to-world quaternions, free world acceleration."""

    name: str
    times: np.ndarray           # (N,) seconds, strictly increasing
    quat: np.ndarray            # (N, 4) wxyz
    acc: np.ndarray             # (N, 3) m/s^2
    valid: np.ndarray           # (N,) bool
    where: str                  # the file, for messages
    rate: float | None = None   # nominal rate from the file's header
    serial: str = ""


def _snap_rate(rate: float) -> float:
    """A rate within 1 % of a whole number becomes that number (device clocks drift a little)."""
    whole = round(rate)
    return float(whole) if whole > 0 and abs(rate - whole) <= 0.01 * rate else float(rate)


def _check_times(where, times: np.ndarray, lines) -> None:
    """Time stamps must be finite and strictly increasing; ``lines`` gives each row's line number."""
    bad = np.flatnonzero(~np.isfinite(times))
    if len(bad):
        raise _fail(f"{where}, line {lines[bad[0]]}", "the time stamp is missing or not a number.")
    steps = np.diff(times)
    bad = np.flatnonzero(~(steps > 0))
    if len(bad):
        k = bad[0] + 1
        raise _fail(f"{where}, line {lines[k]}", f"the time stamp {seconds(times[k])} s does not come after the "
                    f"previous one ({seconds(times[k - 1])} s); time stamps must increase.")
    late = np.flatnonzero(times - times[0] > MAX_DURATION_S)
    if len(late):
        k = late[0]
        raise _fail(f"{where}, line {lines[k]}", f"the time stamp {times[k]:.6g} s is {(times[k] - times[0]) / 3600:.3g} "
                    f"hours after the first one; expected a recording of at most {MAX_DURATION_S / 3600:g} hours.")


def _grid(start: float, end: float, fps: float) -> np.ndarray:
    count = int(math.floor((end - start) * fps + 1e-6)) + 1
    return start + np.arange(count) / fps


def _assemble(streams: list, fps, world: str, up_axis: str, source, fmt: str, metadata=None) -> ImuRecording:
    """One recording from per-sensor streams on a common clock: cut to the span all cover and put on
    a uniform grid at ``fps`` (default: the streams' nominal rate)."""
    names = [s.name for s in streams]
    for k, s in enumerate(streams):
        if s.name in names[:k]:
            other = streams[names.index(s.name)]
            raise _fail(s.where, f"the sensor name {s.name!r} is also used by {other.where}; each sensor needs "
                        "its own name.")
    order = _sensor_order(names)
    streams = [streams[k] for k in order]
    header_rates = {s.rate for s in streams if s.rate}
    if len(header_rates) == 1:
        nominal = header_rates.pop()
    else:
        steps = [np.median(np.diff(s.times)) for s in streams if len(s.times) > 1]
        if not steps:
            raise _fail(source, "every sensor has a single sample; a recording needs at least two.")
        nominal = _snap_rate(1.0 / float(np.median(steps)))
    nominal, why = frame_rate(nominal, MAX_SAMPLE_RATE)
    if why is not None:
        raise _fail(source, f"{why}, as the file states it or its time stamps give it; expected the sensors' "
                    "sample rate.")
    for s in streams:
        why = (infinite_values(s.quat[:, None], lambda k: "the orientation")
               or infinite_values(s.acc[:, None], lambda k: "the acceleration"))
        if why is not None:
            raise _fail(s.where, why.replace("frame", "sample", 1) + ".")
        check_acceleration(s.where, np.where(s.valid[:, None], s.acc, np.nan)[:, None], [s.name])
    rate = float(fps) if fps is not None else nominal
    start = max(s.times[0] for s in streams)
    end = min(s.times[-1] for s in streams)
    if not end >= start:
        late = max(streams, key=lambda s: s.times[0])
        early = min(streams, key=lambda s: s.times[-1])
        raise _fail(source, f"the sensors share no common time: {early.where} ends at {early.times[-1]:.3f} s "
                    f"before {late.where} starts at {late.times[0]:.3f} s.")
    grid = _grid(start, end, rate)
    tol = 1e-6 / nominal
    max_gap = MAX_BRIDGED_PERIODS / nominal
    quats, accs, valids, cut, dropped = [], [], [], {}, {}
    for s in streams:
        q, a, ok = interpolate_onto_grid(s.times, s.quat, s.acc, s.valid, grid, max_gap)
        quats.append(q)
        accs.append(a)
        valids.append(ok)
        cut[s.name] = int(np.sum(s.times < start - tol) + np.sum(s.times > end + tol))
        if len(s.times) > 1:
            missing = np.rint(np.diff(s.times) * nominal) - 1
            dropped[s.name] = int(np.sum(np.clip(missing, 0, None)))
    meta = dict(metadata or {})
    meta.update({
        "format": fmt, "times": grid, "native_fps": nominal, "up_axis": up_axis, "frames_cut": cut,
        "dropped_samples": dropped,
        "alignment": (f"{len(streams)} sensor(s) cut to the {end - start:.3f} s they all cover "
                      f"({sum(cut.values())} samples cut: "
                      + ", ".join(f"{k} {v}" for k, v in cut.items()) + ")"),
    })
    serials = {s.name: s.serial for s in streams if s.serial}
    if serials:
        meta["serials"] = serials
    quat = np.stack(quats, axis=1)
    return ImuRecording(
        sensors=tuple(s.name for s in streams), orientation=quat_to_matrix(quat),
        acceleration=np.stack(accs, axis=1), fps=rate, valid=np.stack(valids, axis=1), world=world,
        source=str(source), metadata=meta)


def _unwrap(values: np.ndarray, modulus: float) -> np.ndarray:
    """Counter values that wrap at ``modulus`` made monotonic (a drop by more than half a turn is a wrap)."""
    steps = np.diff(values)
    steps = np.where(steps < -modulus / 2, steps + modulus, steps)
    return np.concatenate([values[:1], values[0] + np.cumsum(steps)])
