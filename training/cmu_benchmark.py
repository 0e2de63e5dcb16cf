"""The CMU-Mocap motion-prediction benchmark of the LTD / PGBIG / KSOF line of work, in numpy.

Protocol (as in PGBIG's ``utils/data_utils.py`` and ``main_cmu_3d.py``, which KSOF reuses):

* Files ``{train,test}/<action>/<action>_<n>.txt`` (120 fps exponential maps, read with
  ``core/mocap/formats/cmu_expmap.read_values``). Joint positions come from the benchmark's own forward
  kinematics (:func:`benchmark_positions`): offsets scaled by 70 (the benchmark's "millimetres"), the
  root translation and root orientation dropped, and the quirk of the reference code kept: joints
  whose parent is the root (the two hip joints and the lower back) keep their local rotation as
  their global one.
* Every other frame is kept ("downsampling by 2"); the benchmark then calls each kept frame 40 ms,
  so frame k of the prediction is reported as "(k + 1) * 40 ms". That frame convention is kept here.
* Windows: 10 observed frames, 25 predicted. Test sampling ``"all"`` takes every window of every
  test take (PGBIG/KSOF with ``--test_sample_num -1``, the setting of their published CMU tables);
  ``"eight"`` takes 8 per take with ``RandomState(1234567890)``, a start drawn in
  ``[0, frames - 75)`` and the window ``[start + 40, start + 75)`` (LTD's SRNN-style sampling).
* The network sees the 25 joints of ``USED_JOINTS`` (75 numbers a frame). The error is the
  reference's: the predicted 25 joints are written into the true 38-joint pose, the 7 joints the
  benchmark calls "at the same location" (``COPIED_JOINTS``) are copied from their partners in the
  prediction, and the Euclidean error is averaged over all **38** joints, then over windows; an
  action's figure is that mean over its windows, and the average is the mean over actions. The
  25-joint mean is returned beside it for reference.
* Test actions in the benchmark: basketball, basketball_signal, directing_traffic, jumping,
  running, soccer, walking, washwindow. This copy of the data lacks the test takes of
  basketball_signal and directing_traffic, so figures cover the other 6 (``TEST_ACTIONS``).

Training (``training/train_prediction.py``) uses the train folders of the 8 benchmark actions that
exist here; ``walking_extra`` is not a benchmark action and is left out unless asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparse_mocap_addon.core.mocap.formats.cmu_expmap import OFFSETS, PARENTS, read_values
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_matrix

INPUT_FRAMES = 10
OUTPUT_FRAMES = 25
WINDOW = INPUT_FRAMES + OUTPUT_FRAMES
FRAME_MS = 40                                   # the benchmark's name for one kept frame
HORIZONS_MS = (80, 160, 320, 400, 560, 1000)
HORIZON_FRAMES = tuple(ms // FRAME_MS - 1 for ms in HORIZONS_MS)   # indices into the 25 predicted frames
BENCHMARK_ACTIONS = ("basketball", "basketball_signal", "directing_traffic", "jumping", "running", "soccer",
                     "walking", "washwindow")
TEST_ACTIONS = ("basketball", "jumping", "running", "soccer", "walking", "washwindow")
IGNORED_JOINTS = (0, 1, 2, 7, 8, 13, 16, 20, 29, 24, 27, 33, 36)
USED_JOINTS = tuple(j for j in range(38) if j not in IGNORED_JOINTS)
COPIED_JOINTS = ((16, 15), (20, 15), (29, 15), (24, 23), (27, 23), (33, 32), (36, 32))   # (copy, from)
BENCHMARK_SCALE = 70.0
EIGHT_SEED = 1234567890

# The published CMU figures for this protocol (all windows, 8 actions), in mm at HORIZONS_MS.
PUBLISHED = {
    "LTD": (9.3, 17.1, 33.0, 40.9, 55.8, 86.2),
    "PGBIG": (7.6, 14.3, 29.0, 36.6, 50.9, 80.1),
    "KSOF": (7.19, 13.27, 27.27, 34.70, None, None),
}


# PGBIG's own released evaluation log (repository 705062791/PGBIG, checkpoint
# main_cmu_3d_all_in10_out25_..., test_all_eval.csv: all windows), per action at HORIZONS_MS. Its
# 8-action mean (8.20 / 15.41 / 30.13 / 37.27 / 50.19 / 76.69) is above the paper's table; what
# matters here is that it gives per-action figures, so the 6 actions present can be compared alone.
PGBIG_LOG_PER_ACTION = {
    "basketball": (9.53, 17.53, 35.32, 44.23, 59.41, 84.14),
    "basketball_signal": (2.71, 4.88, 10.77, 14.63, 23.69, 50.19),
    "directing_traffic": (4.83, 9.77, 23.62, 32.26, 51.60, 102.32),
    "jumping": (13.93, 27.78, 55.80, 69.01, 91.65, 125.60),
    "running": (12.69, 23.18, 38.31, 42.24, 44.98, 51.71),
    "soccer": (11.09, 20.63, 39.48, 48.72, 65.41, 99.98),
    "walking": (6.23, 10.34, 16.84, 19.76, 25.06, 33.93),
    "washwindow": (4.63, 9.16, 20.87, 27.35, 39.70, 65.69),
}


def published_on(actions) -> dict:
    """Published figures restricted to ``actions``: PGBIG's log averaged over them, and KSOF's
    8-action figures scaled by KSOF / PGBIG (paper tables), the only way to put KSOF, which
    publishes no per-action CMU table, on the same actions (an estimate, said so where printed)."""
    rows = np.array([PGBIG_LOG_PER_ACTION[a] for a in actions])
    pgbig = rows.mean(axis=0)
    ksof = [None if k is None else float(p * k / q)
            for p, k, q in zip(pgbig, PUBLISHED["KSOF"], PUBLISHED["PGBIG"])]
    return {"PGBIG (log)": [round(float(v), 2) for v in pgbig],
            "KSOF (est.)": [None if v is None else round(v, 2) for v in ksof]}


def benchmark_positions(values: np.ndarray) -> np.ndarray:
    """(T, 117) benchmark lines -> (T, 38, 3) joint positions, the reference code's FK exactly.

    Row-vector convention: ``R_global[j] = R_local[j] @ R_global[parent]`` and
    ``p[j] = offset[j] @ R_global[parent] + p[parent]``, skipped (local rotation and offset kept)
    for joints whose parent is the root, as the reference's ``if parent[i] > 0`` does.
    """
    values = np.asarray(values, dtype=np.float64)
    T = len(values)
    local = axis_angle_to_matrix(values[:, 3:].reshape(T, 38, 3))
    # axis_angle_to_matrix is the column-vector Rodrigues matrix; the reference uses the same matrix
    # (I + sin K + (1 - cos) K^2) but multiplies row vectors by it.
    offsets = OFFSETS * BENCHMARK_SCALE
    rot = local.copy()
    pos = np.broadcast_to(offsets, (T, 38, 3)).copy()
    for j in range(1, 38):
        p = PARENTS[j]
        if p > 0:
            rot[:, j] = local[:, j] @ rot[:, p]
            pos[:, j] = offsets[j] @ rot[:, p] + pos[:, p]
    return pos


def load_take(path, *, phase: int = 0) -> np.ndarray:
    """One take as (frames, 38, 3) benchmark positions, every other frame from ``phase``."""
    return benchmark_positions(read_values(path))[phase::2]


def take_paths(root, split: str, actions) -> dict:
    """``{action: [paths sorted by take number]}`` for the actions that have files in ``split``."""
    root = Path(root)
    found = {}
    for action in actions:
        folder = root / split / action
        if not folder.is_dir():
            continue
        paths = [p for p in folder.iterdir() if p.name.endswith((".txt", ".txt.gz"))]
        paths.sort(key=lambda p: int(p.name.split(".")[0].rsplit("_", 1)[1]))
        if paths:
            found[action] = paths
    return found


def all_windows(sequence: np.ndarray, window: int = WINDOW, stride: int = 1) -> np.ndarray:
    """Every ``window``-frame slice of a (T, ...) sequence, as (N, window, ...)."""
    starts = np.arange(0, len(sequence) - window + 1, stride)
    return sequence[starts[:, None] + np.arange(window)]


def eight_windows(sequence: np.ndarray, count: int = 8) -> np.ndarray:
    """LTD's sampled test windows: ``count`` per take with the fixed SRNN seed."""
    rng = np.random.RandomState(EIGHT_SEED)
    source, target = 50, OUTPUT_FRAMES
    starts = [rng.randint(0, len(sequence) - source - target) for _ in range(count)]
    return np.stack([sequence[s + source - INPUT_FRAMES: s + source + target] for s in starts])


def test_windows(root, sampling: str = "all", actions=TEST_ACTIONS) -> dict:
    """``{action: (N, 35, 38, 3)}`` test windows of the actions present under ``root``."""
    if sampling not in ("all", "eight"):
        raise ValueError(f"unknown test sampling {sampling!r}; expected 'all' or 'eight'")
    windows = {}
    for action, paths in take_paths(root, "test", actions).items():
        cut = all_windows if sampling == "all" else eight_windows
        windows[action] = np.concatenate([cut(load_take(p)) for p in paths])
    return windows


def used(positions: np.ndarray) -> np.ndarray:
    """(..., 38, 3) -> (..., 75): the 25 predicted joints, flattened as the networks see them."""
    return positions[..., USED_JOINTS, :].reshape(*positions.shape[:-2], 3 * len(USED_JOINTS))


def benchmark_errors(predicted: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame MPJPE of predicted future frames, the reference's 38-joint way and over 25 joints.

    ``predicted``: (N, 25 frames, 75) used-joint positions; ``truth``: (N, 25 frames, 38, 3).
    Returns two (25,) arrays (means over windows): 38-joint (the benchmark's) and 25-joint.
    """
    full = truth.copy()
    full[:, :, USED_JOINTS] = predicted.reshape(*predicted.shape[:2], len(USED_JOINTS), 3)
    for copy, source in COPIED_JOINTS:
        full[:, :, copy] = full[:, :, source]
    error = np.linalg.norm(full - truth, axis=-1)               # (N, 25, 38)
    return error.mean(axis=(0, 2)), error[:, :, USED_JOINTS].mean(axis=(0, 2))


def evaluate(predict, windows: dict) -> dict:
    """Run ``predict((N, 10, 75) -> (N, 25, 75))`` on each action's windows; per-action and mean errors.

    Returns ``{"actions": {action: {"mm": [6 horizons], "mm_25_joints": [...], "windows": N}},
    "mean_mm": [...], "mean_mm_25_joints": [...], "horizons_ms": [...]}``.
    """
    report = {"horizons_ms": list(HORIZONS_MS), "actions": {}}
    for action, w in windows.items():
        observed = used(w[:, :INPUT_FRAMES])
        predicted = predict(observed)
        mm38, mm25 = benchmark_errors(predicted, w[:, INPUT_FRAMES:])
        report["actions"][action] = {
            "mm": [round(float(mm38[k]), 3) for k in HORIZON_FRAMES],
            "mm_25_joints": [round(float(mm25[k]), 3) for k in HORIZON_FRAMES],
            "mm_all_frames": round(float(mm38.mean()), 3),
            "windows": int(len(w)),
        }
    for key in ("mm", "mm_25_joints"):
        rows = np.array([a[key] for a in report["actions"].values()])
        report[f"mean_{key}"] = [round(float(v), 3) for v in rows.mean(axis=0)] if len(rows) else []
    return report
