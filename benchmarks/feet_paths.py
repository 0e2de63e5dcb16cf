"""Feet on the floor on every path that makes a motion (issue 15, item 3): before and after the feet
stage (``core/feet/stage.feet_on_floor``), per path.

Test takes (held-out performers, one per source round-robin, ``--max-clips``) are read from the
shared data, retargeted onto their performer's skeleton and resampled to 60 fps as the corpus
builder does; each is cut to ``--max-seconds``. Their contacts (per sole point, low and slow, the
floor found under the soles: ``feet_stage.motion_contacts``) are the truth every figure uses. Paths:

- **import_mocap**: the retargeted take (before) and the stage on its performer (after);
- **bake_<height>**: the imported take (after the stage) baked onto bodies of 1.40, 1.50, 1.64,
  1.80, 2.00 and 2.10 m (``default_measurements("neutral", h)``): raw (the take's rotations and
  root path as they are: what baking did before the stage) and with the stage;
- **imu**: six virtual IMUs of the take with the corruption model (``core/imu/synth``), reconstructed by
  the shipped network on the take's measurements (``pipelines/imu``);
- **trackers_six** / **trackers_three**: virtual trackers at the default mountings with consumer-VR
  noise (``core/trackers/synth``), reconstructed by the shipped six- and three-point solvers;
- **landmarks**: the take's 24 joints as landmarks with 1 cm noise, solved by the landmark pipeline
  (skeleton from the landmarks); **landmarks_pose2sim_static**: the real Pose2Sim static trial
  (contacts: every sole point of both feet on every frame);
- **fill_gaps**: 0.5 s holes every 3 s cut into the imported take, filled by the motion predictor;
  the figures are over the filled frames only (the known frames are the imported take).

Figures (``core/feet/metrics``): ``foot_below_floor_max_cm`` (deepest sole point under y = 0),
``foot_float_in_contact_max_cm`` (highest lowest-sole-point of a foot in contact, run edges left
out), ``foot_skate_cm_per_s`` (mean horizontal speed of sole points in contact). Per path the
worst take (and for baking the worst body) is reported; skating is the mean over takes. Targets
(issue 15): 1 cm, 1 cm, 2 cm/s. The reconstructions (IMU, trackers, landmarks, Fill Gaps) are also
measured against their own contacts (low and slow on the path's raw output, ``after_own_contacts``):
the truth's contacts charge the stage with every foot the reconstruction put in the air while the
performer stood (or moved while the performer's foot stood), which the stage cannot know about.

    python benchmarks/feet_paths.py [--data ../shared/data] [--max-clips 6] [--max-seconds 20]

Prints a table and, as the last stdout line, JSON: ``paths`` (before/after per path), ``worst``
(after, over every path), ``targets_met``. :func:`measure_paths` is what ``rig_consistency.py`` calls.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.body.measurements import (BodyMeasurements, default_measurements,  # noqa: E402
                                                       measure_skeleton)
from sparse_mocap_addon.core.body.measurements import skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.feet.stage import (FeetOptions, feet_metrics, feet_on_floor,  # noqa: E402
                                                motion_contacts, sole_points)
from sparse_mocap_addon.core.feet.metrics import (foot_below_floor_max_cm, foot_float_in_contact_max_cm,  # noqa: E402
                                                  foot_skate_cm_per_s)
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
BODIES_M = (1.40, 1.50, 1.64, 1.80, 2.00, 2.10)
TARGETS = {"foot_below_floor_max_cm": 1.0, "foot_float_in_contact_max_cm": 1.0, "foot_skate_cm_per_s": 2.0}
METRICS = tuple(TARGETS)
FPS = 60.0
HOLE_S, HOLE_EVERY_S = 0.5, 3.0
LANDMARK_NOISE_M = 0.01
RAW = FeetOptions(enabled=False)
STATIC_TRIAL = Path("landmarks_real") / "pose2sim" / "trc" / "S00_P00_T00_StaticTrial_0-12.trc"


# --- test takes ------------------------------------------------------------------------------------

def _round_robin(takes: list, max_clips: int | None) -> list:
    """At most ``max_clips`` takes, one source after the other (every source in before a second)."""
    by_source = defaultdict(list)
    for take in takes:
        by_source[take.source].append(take)
    # Within a source, spread out (a golden-ratio walk over the sorted takes): not the first few
    # takes of one motion class.
    queues = [[group[i] for i in sorted(range(len(group)), key=lambda i: (i * 0.6180339887) % 1.0)]
              for group in (sorted(by_source[s], key=lambda t: t.name) for s in sorted(by_source))]
    picked = []
    while queues and (max_clips is None or len(picked) < max_clips):
        for queue in queues:
            if queue and (max_clips is None or len(picked) < max_clips):
                picked.append(queue.pop(0))
        queues = [q for q in queues if q]
    return picked


def load_test_takes(data: Path, max_clips: int | None, max_seconds: float | None, log=print) -> list:
    """``[(source, name, Motion)]``: test takes retargeted onto their performer and resampled to 60
    fps as ``training/build_corpus.convert`` does (unsaved), cut to ``max_seconds``."""
    from sparse_mocap_addon.core.kinematics.resample import resample_motion
    from sparse_mocap_addon.core.mocap.retarget import retarget
    from sparse_mocap_addon.core.mocap.rig_body import skeleton_from_rig
    from training.build_corpus import discover, drop_leading_reference_frames, read_take

    takes = _round_robin([t for t in discover(data) if t.split == "test"], max_clips)
    clips = []
    for take in takes:
        try:
            source = read_take(take)
            skeleton, _ = skeleton_from_rig(source)
            motion, _ = drop_leading_reference_frames(retarget(source, skeleton))
            motion = resample_motion(motion, FPS)
        except Exception as exc:  # noqa: BLE001 - one unreadable take must not stop the benchmark
            log(f"  skipped {take.source}/{take.name}: {type(exc).__name__}: {exc}")
            continue
        if max_seconds is not None and motion.num_frames > max_seconds * FPS:
            keep = int(max_seconds * FPS)
            motion = Motion(motion.fps, motion.rotations[:keep], motion.translation[:keep], motion.skeleton,
                            dict(motion.metadata))
        clips.append((take.source, take.name, motion))
    return clips


# --- one path ----------------------------------------------------------------------------------------

def _metrics_on(motion: Motion, contact: np.ndarray, frames: np.ndarray | None = None) -> dict:
    """The three figures, over ``frames`` (T,) bool only when given."""
    if frames is None:
        return feet_metrics(motion, contact)
    soles = sole_points(motion)[frames]
    mask = contact[frames]
    return {"foot_below_floor_max_cm": foot_below_floor_max_cm(soles),
            "foot_float_in_contact_max_cm": foot_float_in_contact_max_cm(soles, mask, motion.fps),
            "foot_skate_cm_per_s": foot_skate_cm_per_s(soles, mask, motion.fps)}


def _resampled_contact(contact: np.ndarray, frames: int) -> np.ndarray:
    """A truth contact mask for a reconstruction of another length (nearest frame)."""
    if len(contact) == frames:
        return contact
    index = np.clip(np.round(np.linspace(0, len(contact) - 1, frames)).astype(int), 0, len(contact) - 1)
    return contact[index]


def _imu(motion: Motion, seed: int):
    from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, virtual_imus
    from sparse_mocap_addon.pipelines.imu import ImuSolveOptions, reconstruct_imu

    recording = corrupt(virtual_imus(motion), CorruptionModel(), np.random.default_rng(seed))
    body = BodyMeasurements(**measure_skeleton(motion.skeleton), sex="neutral")
    options = ImuSolveOptions()
    raw, _ = reconstruct_imu(recording, body, replace(options, feet=RAW))
    out, report = reconstruct_imu(recording, body, options)
    return raw, out, report["feet"]


def _trackers(motion: Motion, names, seed: int):
    from sparse_mocap_addon.core.trackers.synth import TrackerNoise, corrupt_trackers, default_mountings
    from sparse_mocap_addon.core.trackers.synth import virtual_trackers
    from sparse_mocap_addon.pipelines.trackers import TrackerSolveOptions, reconstruct_trackers

    mountings = default_mountings(motion.skeleton, names)
    recording = corrupt_trackers(virtual_trackers(motion, names, mountings), TrackerNoise(), np.random.default_rng(seed))
    options = TrackerSolveOptions()
    raw, _ = reconstruct_trackers(recording, motion.skeleton, mountings=mountings,
                                  options=replace(options, feet=RAW))
    out, report = reconstruct_trackers(recording, motion.skeleton, mountings=mountings, options=options)
    return raw, out, report["feet"]


def _landmarks(motion: Motion, seed: int):
    from sparse_mocap_addon.pipelines.landmarks import SolveOptions, solve_landmarks
    from sparse_mocap_addon.core.landmarks.sequence import LandmarkSequence
    from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES

    joints = motion.joint_positions()
    noisy = joints + np.random.default_rng(seed).normal(scale=LANDMARK_NOISE_M, size=joints.shape)
    seq = LandmarkSequence(JOINT_NAMES, noisy, np.ones(joints.shape[:2]), motion.fps, layout="smpl24",
                           source="benchmark", metadata={})
    raw, _ = solve_landmarks(seq, SolveOptions(up_axis="+Y", feet=False))
    out, report = solve_landmarks(seq, SolveOptions(up_axis="+Y"))
    return raw, out, report["feet"]


def _fill_gaps(planted: Motion):
    from sparse_mocap_addon.inference.gap_fill import feet_on_filled_frames, fill_motion_gaps

    missing = np.zeros(planted.num_frames, dtype=bool)
    hole, every = int(HOLE_S * planted.fps), int(HOLE_EVERY_S * planted.fps)
    for start in range(every // 2, planted.num_frames - hole - 1, every):
        missing[start:start + hole] = True
    result = fill_motion_gaps(planted, missing, method="predictor")
    fixed, report = feet_on_filled_frames(result, FeetOptions())
    return result.motion, fixed.motion, report, result.filled


def _pose2sim_static(data: Path):
    from sparse_mocap_addon.core.landmarks.formats import read_landmarks
    from sparse_mocap_addon.pipelines.landmarks import SolveOptions, solve_landmarks

    seq = read_landmarks(data / STATIC_TRIAL)
    raw, _ = solve_landmarks(seq, SolveOptions(feet=False))
    out, report = solve_landmarks(seq)
    # Standing still: both feet, every sole point, in contact on every frame.
    contact = np.ones((raw.num_frames, 2, 3), dtype=bool)
    return raw, out, report["feet"], contact


# --- all paths --------------------------------------------------------------------------------------

def _row(path: str, take: str, before: dict, after: dict, body: float | None = None, own: dict | None = None) -> dict:
    return {"path": path, "take": take, "body_m": body, "before": before, "after": after, "after_own": own}


def _summarise(rows: list[dict]) -> dict:
    """Per path: before/after (worst take for the depths, mean over takes for skating), the worst
    body for the bake paths, and how many takes."""
    def combine(values: list[dict]) -> dict:
        out = {}
        for key in METRICS:
            v = np.array([x[key] for x in values], dtype=np.float64)
            v = v[np.isfinite(v)]
            out[key] = None if not v.size else round(float(v.mean() if key == "foot_skate_cm_per_s" else v.max()), 2)
        return out

    paths = {}
    for path in dict.fromkeys(r["path"] for r in rows):
        mine = [r for r in rows if r["path"] == path]
        paths[path] = {"takes": len({r["take"] for r in mine}), "before": combine([r["before"] for r in mine]),
                       "after": combine([r["after"] for r in mine])}
        if all(r["after_own"] is not None for r in mine):
            paths[path]["after_own_contacts"] = combine([r["after_own"] for r in mine])
    bakes = [p for p in paths if p.startswith("bake_")]
    if bakes:
        worst = {}
        for key in METRICS:
            worst[key] = max(bakes, key=lambda p: paths[p]["after"][key] if paths[p]["after"][key] is not None else -1)
        paths["bake_worst_body"] = {"bodies": {k: float(v.split("_")[1]) for k, v in worst.items()},
                                    "after": {k: paths[v]["after"][k] for k, v in worst.items()},
                                    "before": {k: max(paths[p]["before"][k] for p in bakes) for k in METRICS}}
    return paths


def measure_paths(data: Path, max_clips: int | None = 24, log=print, max_seconds: float | None = 20.0,
                  seed: int = 0) -> dict:
    """The feet figures of every path before and after the feet stage (module docstring), as a
    JSON-safe dict: ``paths`` ({path: {takes, before, after}}, plus ``bake_worst_body``), ``worst``
    (after, the worst over every path), ``targets``, ``targets_met`` and ``seconds``. Raises
    FileNotFoundError when ``data`` has no test takes."""
    started = time.perf_counter()
    data = Path(data)
    clips = load_test_takes(data, max_clips, max_seconds, log)
    if not clips:
        raise FileNotFoundError(f"{data}: no test takes of the shared mocap data")
    log(f"{len(clips)} test takes: {', '.join(f'{s}/{n} ({m.num_frames} frames)' for s, n, m in clips)}")
    rows = []
    for k, (source, name, motion) in enumerate(clips):
        take = f"{source}/{name}"
        contact = motion_contacts(motion, floor="estimate")
        planted, _ = feet_on_floor(motion)
        rows.append(_row("import_mocap", take, feet_metrics(motion, contact), feet_metrics(planted, contact)))
        for height in BODIES_M:
            body = skeleton_from_measurements(default_measurements("neutral", height))
            raw, _ = feet_on_floor(planted, body, RAW)
            out, _ = feet_on_floor(planted, body)
            rows.append(_row(f"bake_{height:.2f}", take, feet_metrics(raw, contact), feet_metrics(out, contact), height))
        for path, run in (("imu", lambda: _imu(motion, seed + k)),
                          ("trackers_six", lambda: _trackers(motion, _six(), seed + k)),
                          ("trackers_three", lambda: _trackers(motion, _three(), seed + k)),
                          ("landmarks", lambda: _landmarks(motion, seed + k))):
            raw, out, _ = run()
            truth = _resampled_contact(contact, out.num_frames)
            own = motion_contacts(raw, floor="estimate" if path == "landmarks" else "zero")
            rows.append(_row(path, take, feet_metrics(raw, truth), feet_metrics(out, truth), own=feet_metrics(out, own)))
        raw, out, _, filled = _fill_gaps(planted)
        if filled.any():
            own = motion_contacts(raw, floor="estimate")
            rows.append(_row("fill_gaps", take, _metrics_on(raw, contact, filled), _metrics_on(out, contact, filled),
                             own=_metrics_on(out, own, filled)))
        log(f"  {take}: done ({time.perf_counter() - started:.0f} s)")
    if (data / STATIC_TRIAL).is_file():
        raw, out, _, contact = _pose2sim_static(data)
        rows.append(_row("landmarks_pose2sim_static", "pose2sim/StaticTrial", feet_metrics(raw, contact),
                         feet_metrics(out, contact)))
    paths = _summarise(rows)
    worst = {key: max((p["after"][key] for n, p in paths.items() if n != "bake_worst_body"
                       and p["after"][key] is not None), default=None) for key in METRICS}
    worst_path = {key: max((n for n, p in paths.items() if n != "bake_worst_body" and p["after"][key] is not None),
                           key=lambda n: paths[n]["after"][key]) for key in METRICS}
    met = {key: worst[key] is not None and worst[key] <= TARGETS[key] for key in METRICS}
    return {"paths": paths, "worst": worst, "worst_path": worst_path, "targets": TARGETS, "targets_met": met,
            "takes": [f"{s}/{n}" for s, n, _ in clips], "rows": rows,
            "seconds": round(time.perf_counter() - started, 1)}


def _six():
    from sparse_mocap_addon.core.trackers.recording import SIX_POINT
    return SIX_POINT


def _three():
    from sparse_mocap_addon.core.trackers.recording import THREE_POINT
    return THREE_POINT


def _cell(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(result: dict) -> str:
    """Per path: before -> after (the truth's contacts), and after against the path's own contacts."""
    head = f"{'path':<26}{'takes':>6}  " + "  ".join(f"{k.replace('foot_', '').replace('_', ' '):>24}" for k in METRICS)
    lines = [head, f"{'':<34}" + "  ".join(f"{'before -> after [own]':>24}" for _ in METRICS)]
    for name, p in result["paths"].items():
        if name == "bake_worst_body":
            continue
        own = p.get("after_own_contacts")
        cells = [f"{_cell(p['before'][k]):>7} -> {_cell(p['after'][k]):<5}" + (f" [{_cell(own[k])}]" if own else "")
                 for k in METRICS]
        lines.append(f"{name:<26}{p['takes']:>6}  " + "  ".join(f"{c:>24}" for c in cells))
    if "bake_worst_body" in result["paths"]:
        w = result["paths"]["bake_worst_body"]
        lines.append("bake, worst body: " + ", ".join(
            f"{k} {w['after'][k]:.2f} ({w['bodies'][k]:.2f} m; raw up to {w['before'][k]:.2f})" for k in METRICS))
    lines.append("worst after the stage: " + ", ".join(
        f"{k} {result['worst'][k]:.2f} ({result['worst_path'][k]}; target {TARGETS[k]:g}: "
        f"{'met' if result['targets_met'][k] else 'MISSED'})" for k in METRICS))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--max-clips", type=int, default=24,
                        help="test takes, one source after the other (default 24; 0: all)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="cut each take to this long (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: the shared data is not at {args.data}")
        print(json.dumps({"skipped": f"no shared data at {args.data}"}))
        return 0
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    try:
        result = measure_paths(args.data, args.max_clips or None, log, args.max_seconds, args.seed)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        print(json.dumps({"skipped": str(exc)}))
        return 0
    print(format_table(result))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
