"""Reading a seed or a damaged file with its reader, and judging what came back: a clean error (the
reader's documented type, one line, naming the file) or a plausible result (finite, body-sized,
a sane frame rate). Shared by tests/test_fuzz_readers.py and tests/test_fuzz_cli.py."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparse_mocap_addon.core.io import plausible
from sparse_mocap_addon.core.imu.recording import ImuError
from sparse_mocap_addon.core.landmarks.sequence import LandmarkError
from sparse_mocap_addon.core.kinematics.motion import MotionFileError
from sparse_mocap_addon.core.mocap.source import SourceFormatError
from sparse_mocap_addon.core.trackers.recording import TrackerError

MOCAP = ("bvh", "amc", "expmap")
LANDMARKS = ("trc", "landmark_json", "landmark_csv", "landmark_npy", "landmark_npz")
IMU = ("imu_npz", "imu_pt", "imu_csv", "xsens", "dot", "xio")
TRACKERS = ("tracker_csv", "tracker_json", "tracker_npz")

ERRORS = {**{k: SourceFormatError for k in MOCAP}, **{k: LandmarkError for k in LANDMARKS},
          **{k: ImuError for k in IMU}, **{k: TrackerError for k in TRACKERS}, "motion": MotionFileError}


def read(kind: str, path: Path):
    """The reader's result for a seed-shaped path of ``kind``."""
    if kind in MOCAP:
        from sparse_mocap_addon.core.mocap.formats.mocap import read_mocap
        return read_mocap(path)
    if kind in LANDMARKS:
        from sparse_mocap_addon.core.landmarks.formats import read_landmarks
        return read_landmarks(path)
    if kind in IMU:
        from sparse_mocap_addon.core.imu.formats import read_imu
        return read_imu(path)
    if kind in TRACKERS:
        from sparse_mocap_addon.core.trackers.formats import read_trackers
        return read_trackers(path)
    from sparse_mocap_addon.core.kinematics.motion import Motion
    return Motion.load(path)


@dataclass
class Outcome:
    kind: str
    error: str | None = None          # the message of a clean error
    result: object = None
    problem: str | None = None        # why the outcome is wrong (a crash, a warning, garbage), or None


def judge(kind: str, path: Path) -> Outcome:
    """Read ``path`` and say whether the outcome is right; never raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = read(kind, path)
        except ERRORS[kind] as exc:
            outcome = Outcome(kind, error=str(exc), problem=message_problem(str(exc), path))
        except Exception as exc:     # noqa: BLE001 - any other exception is the crash we look for
            outcome = Outcome(kind, problem=f"crashed: {type(exc).__name__}: {exc}")
        else:
            outcome = Outcome(kind, result=result, problem=result_problem(kind, result))
    noisy = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if noisy and outcome.problem is None:
        outcome.problem = f"numpy warned: {noisy[0].message}"
    return outcome


def message_problem(message: str, path: Path) -> str | None:
    """A clean error is one line that names the file (or, for folders, the folder or a file in it)."""
    if "\n" in message:
        return f"the message has several lines: {message!r}"
    names = {path.name, path.parent.name} | ({p.name for p in path.rglob("*")} if path.is_dir() else set())
    if not any(name and name in message for name in names):
        return f"the message does not name the file: {message!r}"
    return None


def _rotations_ok(matrices: np.ndarray) -> bool:
    if matrices.size == 0:
        return True
    error = np.abs(np.swapaxes(matrices, -1, -2) @ matrices - np.eye(3)).max()
    return bool(error < 0.1)


def result_problem(kind: str, result) -> str | None:
    """Why an accepted result is garbage, or None when it is plausible."""
    fps = float(result.fps)
    top = plausible.MAX_SAMPLE_RATE if kind in IMU else plausible.MAX_FRAME_RATE
    if not (np.isfinite(fps) and 0 < fps <= top):
        return f"accepted with the frame rate {fps!r}"
    if kind in MOCAP:
        if not (np.isfinite(result.rotations).all() and np.isfinite(result.root_position).all()):
            return "accepted with non-finite rotations or root positions"
        return None
    if kind in LANDMARKS:
        points = result.points[result.confidence > 0]
        if not np.isfinite(points).all() or (np.abs(points) > plausible.MAX_DISTANCE_M).any():
            return "accepted landmark points that are not finite or kilometres away"
        return None
    if kind in IMU:
        acc = result.acceleration[result.valid]
        if not np.isfinite(acc).all() or (np.linalg.norm(acc, axis=-1) > plausible.MAX_ACCELERATION).any():
            return "accepted accelerations that are not finite or beyond 100 g"
        if not _rotations_ok(result.orientation[result.valid]):
            return "accepted orientations that are not rotations"
        return None
    if kind in TRACKERS:
        p = result.positions[result.valid]
        if not np.isfinite(p).all() or (np.abs(p) > plausible.MAX_DISTANCE_M).any():
            return "accepted tracker positions that are not finite or kilometres away"
        return None
    if not np.isfinite(result.translation).all() or (np.abs(result.translation) > plausible.MAX_DISTANCE_M).any():
        return "accepted a root translation that is not finite or kilometres away"
    if plausible.stature_problem(result.skeleton.stature()) is not None:
        return f"accepted a skeleton {result.skeleton.stature():.3g} m tall"
    return None
