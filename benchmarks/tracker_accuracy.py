"""Accuracy of the tracker solvers (issue 6) on the corpus's test split, from the committed weights.

Every test clip (its performer's own skeleton, the solver gets that skeleton: the personalised
case) gets virtual trackers at the default mountings (``core/trackers/synth``); the solver receives
the joint-level targets the nominal mountings give back:

- **clean**: exact devices, so the targets are the true joints;
- **noisy**: ``TrackerNoise()`` consumer-VR errors (jitter, speed-dependent noise, orientation
  noise, a mounting error per tracker, dropout bursts; seed per clip);
- **noisy8hz**: the noisy case with the pipeline's offline smoothing (``smoothing_hz=8``);
- **bodies**: the clean case on the same motions put on bodies 15 % shorter and 15 % taller than
  the corpus average (1.70 m; default proportions; ``training/imu_dataset.retarget_to_body``), the
  solver given that body's skeleton.

Solvers: ``six_point`` (network prior + analytic IK, the product's default with six trackers),
``analytic`` (the six-point IK alone), ``three_point`` (head + hands: network + IK + planted feet);
the networks are the offline (bidirectional) models, mirror-averaged as the pipeline runs them by
default (``TrackerSolveOptions.mirror_average``). Beside them, clean case only:
``three_point_unpinned`` (guessed feet not pinned in contact) and ``six_point_once`` /
``three_point_once`` (the offline model run once, without the mirror image).

Metrics (world frame, all 24 joints unless said): MPJPE; end-effector error (head, wrists, ankles:
the tracked joints); MPJRE (mean geodesic error of the 22 body joints' local rotations, the
pelvis's being its global one; hands excluded as in AvatarPoser); MPJVE (joint velocity error,
cm/s); jitter (km/s^3, truth alongside); foot skating (mean horizontal ankle speed while the true
foot is in contact, cm/s, truth alongside) and the lowest sole point (cm; below 0 = through the
floor); per source. Worst frames: ``head_max_mm`` (the largest distance of the head from its
tracker's joint-level target on any frame, with the clip; ``head_max_unflagged_mm`` the same over
the frames not flagged) and ``max_joint_error_cm`` (the largest
error of any joint on any frame, with the clip, joint and frame), and ``flagged_frames`` (frames the
solver flagged as input no pose of the skeleton fits: lost or impossible samples).

Targets (issue 16, on clean trackers): six-point MPJPE <= 5 mm and end-effector <= 1 mm;
three-point MPJPE <= 3.5 cm and MPJRE <= 5 deg; the six-point head within 2 mm of its tracker on every
frame, no three-point joint more than 50 cm off on any frame. The last stdout line is JSON with
``six_point`` (``mpjpe_mm``, ``end_effector_mm``, ``head_max_mm``) and ``three_point``
(``mpjpe_cm``, ``mpjre_deg``, ``max_joint_error_cm``) on clean test trackers, plus the other cases.

    python benchmarks/tracker_accuracy.py [--corpus build/corpus] [--split test] [--max-clips N]
        [--solvers six_point,three_point] [--cases clean,noisy]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
from dataclasses import replace  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.body.measurements import default_measurements  # noqa: E402
from sparse_mocap_addon.core.feet.contact import detect_foot_contact  # noqa: E402
from sparse_mocap_addon.core.feet.soles import foot_floor_points  # noqa: E402
from sparse_mocap_addon.core.kinematics.metrics import geodesic_deg, jitter_km_s3  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import quat_to_matrix  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.trackers.synth import (TrackerNoise, corrupt_trackers, default_mountings,  # noqa: E402
                                                    joint_targets, virtual_trackers)
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, THREE_POINT, TRACKER_JOINTS  # noqa: E402
from sparse_mocap_addon.pipelines.trackers import TrackerSolveOptions, smooth_targets, solve_targets  # noqa: E402
from training.imu_dataset import CorpusMissingError, load_corpus, retarget_to_body  # noqa: E402

END_EFFECTORS = [TRACKER_JOINTS[n] for n in ("head", "left_hand", "right_hand", "left_foot", "right_foot")]
BODY_JOINTS = list(range(22))
TARGETS = {"six_point": {"mpjpe_mm": 5.0, "end_effector_mm": 1.0, "head_max_mm": 2.0},
           "three_point": {"mpjpe_cm": 3.5, "mpjre_deg": 5.0, "max_joint_error_cm": 50.0}}
CASES = ("clean", "noisy", "noisy8hz", "short", "tall")
# name -> (trackers, solver options); clean case only: "three_point_unpinned" is the three-point
# solver with its guessed feet only kept on and above the floor, not pinned in contact, and the
# "_once" solvers run the offline model once instead of mirror-averaged (what the mirroring buys).
SOLVERS = {"six_point": (SIX_POINT, TrackerSolveOptions(mode="six_point")),
           "analytic": (SIX_POINT, TrackerSolveOptions(mode="analytic")),
           "three_point": (THREE_POINT, TrackerSolveOptions(mode="three_point")),
           "three_point_unpinned": (THREE_POINT, TrackerSolveOptions(mode="three_point", pin_feet=False)),
           "six_point_once": (SIX_POINT, TrackerSolveOptions(mode="six_point", mirror_average=False)),
           "three_point_once": (THREE_POINT, TrackerSolveOptions(mode="three_point", mirror_average=False))}
CLEAN_ONLY = ("three_point_unpinned", "six_point_once", "three_point_once")
ANKLES = [TRACKER_JOINTS["left_foot"], TRACKER_JOINTS["right_foot"]]
AVERAGE_HEIGHT_M = 1.70
SMOOTHING_HZ = 8.0


def targets_for(motion, names, noisy: bool, seed: int) -> dict:
    mountings = default_mountings(motion.skeleton, names)
    recording = virtual_trackers(motion, names, mountings)
    if noisy:
        recording = corrupt_trackers(recording, TrackerNoise(), np.random.default_rng(seed))
    return joint_targets(recording, mountings)


def foot_skate_cm_s(positions, contact, fps) -> float:
    """Mean horizontal ankle speed (cm/s) over the frames where the *true* foot is in contact."""
    speed = np.linalg.norm(np.diff(positions[:, ANKLES][..., [0, 2]], axis=0), axis=-1) * fps
    held = contact[1:] & contact[:-1]
    return float(100 * speed[held].mean()) if held.any() else float("nan")


def evaluate(motion, solver: str, noisy: bool = False, seed: int = 0, smoothing_hz: float = 0.0) -> dict:
    truth_pos, truth_rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    names, options = SOLVERS[solver]
    options = replace(options, smoothing_hz=smoothing_hz)
    targets = targets_for(motion, names, noisy, seed)
    solved, report = solve_targets(targets, motion.skeleton, motion.fps, options)
    # The tracked head's target (joint level; what the solver was given: noise and all, smoothed
    # as the pipeline smooths it).
    head_target = targets["head"][0]
    if smoothing_hz > 0.0:
        head_target = smooth_targets({n: targets[n] for n in names}, motion.fps, smoothing_hz)["head"][0]
    pos, rot = forward_kinematics(solved.rotations, solved.translation, motion.skeleton)
    T = len(pos)
    true_soles = foot_floor_points(truth_pos, truth_rot, motion.skeleton)
    contact = detect_foot_contact(true_soles.reshape(T, 6, 3), motion.fps).reshape(T, 2, 3).any(axis=2)
    soles = foot_floor_points(pos, rot, motion.skeleton)
    err = np.linalg.norm(pos - truth_pos, axis=-1)
    rot_err = geodesic_deg(quat_to_matrix(solved.rotations[:, BODY_JOINTS]), quat_to_matrix(motion.rotations[:, BODY_JOINTS]))
    vel = np.linalg.norm(np.diff(pos, axis=0) - np.diff(truth_pos, axis=0), axis=-1) * motion.fps
    head = np.linalg.norm(pos[:, TRACKER_JOINTS["head"]] - head_target, axis=-1) if len(head_target) == T \
        else np.full(T, np.nan)        # resampled to the network's rate (the corpus is at 60 fps already)
    return {"err": err, "rot": rot_err, "vel": vel, "frames": len(err), "jitter": jitter_km_s3(pos, motion.fps),
            "clip": motion.metadata.get("corpus_file", motion.metadata.get("source", "?")), "head": head,
            "failed": np.asarray(report.get("failed_frames", np.zeros(T, bool)), bool),
            "jitter_true": jitter_km_s3(truth_pos, motion.fps),
            "skate": foot_skate_cm_s(pos, contact, motion.fps), "skate_true": foot_skate_cm_s(truth_pos, contact, motion.fps),
            "lowest_sole": float(soles[..., 1].min()), "below_floor": float((soles[..., 1].min(axis=(1, 2)) < -0.01).mean())}


def worst(rows) -> dict:
    """The worst frames over ``rows``: the head's largest distance from its target and the largest
    error of any joint, with where they happened."""
    head = max(rows, key=lambda r: np.nanmax(r["head"]))
    joint = max(rows, key=lambda r: r["err"].max())
    frame, j = np.unravel_index(int(np.argmax(joint["err"])), joint["err"].shape)
    kept = [np.where(r["failed"], np.nan, r["head"]) for r in rows]
    return {"head_max_mm": float(1000 * np.nanmax(head["head"])), "head_max_clip": head["clip"],
            "head_max_unflagged_mm": float(1000 * max(np.nanmax(k, initial=0.0) for k in kept)),
            "max_joint_error_cm": float(100 * joint["err"].max()),
            "max_joint_error_at": {"clip": joint["clip"], "joint": JOINT_NAMES[j], "frame": int(frame)}}


def summarise(rows) -> dict:
    err = np.concatenate([r["err"] for r in rows])
    rot = np.concatenate([r["rot"] for r in rows])
    vel = np.concatenate([r["vel"] for r in rows])
    frames = np.array([r["frames"] for r in rows], dtype=np.float64)
    return {"clips": len(rows), "frames": int(frames.sum()),
            "mpjpe_mm": float(1000 * err.mean()), "mpjpe_cm": float(100 * err.mean()),
            "end_effector_mm": float(1000 * err[:, END_EFFECTORS].mean()),
            "mpjre_deg": float(rot.mean()), "mpjve_cm_s": float(100 * vel.mean()),
            "jitter_km_s3": float(np.average([r["jitter"] for r in rows], weights=frames)),
            "jitter_true_km_s3": float(np.average([r["jitter_true"] for r in rows], weights=frames)),
            "foot_skate_cm_s": float(np.nanmean([r["skate"] for r in rows])),
            "foot_skate_true_cm_s": float(np.nanmean([r["skate_true"] for r in rows])),
            "lowest_sole_cm": float(100 * min(r["lowest_sole"] for r in rows)),
            "frames_below_floor": float(np.average([r["below_floor"] for r in rows], weights=frames)),
            "per_joint_mm": [round(float(v), 1) for v in 1000 * err.mean(axis=0)],
            "flagged_frames": int(sum(r["failed"].sum() for r in rows)), **worst(rows)}


def on_body(motion, scale: float):
    return retarget_to_body(motion, default_measurements("neutral", AVERAGE_HEIGHT_M * scale))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="build/corpus")
    parser.add_argument("--split", default="test")
    parser.add_argument("--max-clips", type=int, default=None, help="only the first N clips (a quick look)")
    parser.add_argument("--solvers", default="six_point,analytic,three_point," + ",".join(CLEAN_ONLY))
    parser.add_argument("--cases", default=",".join(CASES), help="a subset of " + ",".join(CASES))
    args = parser.parse_args(argv)
    try:
        motions = load_corpus(args.corpus, args.split)[:args.max_clips]
    except CorpusMissingError as exc:
        print(f"skipped: {exc}")
        print(json.dumps({"skipped": str(exc)}))
        return 0
    solvers = args.solvers.split(",")
    wanted = set(args.cases.split(","))
    results: dict = {}
    header = (f"{'solver':<20} {'case':<8} {'source':<11} {'clips':>5} {'MPJPE mm':>9} {'EE mm':>7} {'MPJRE':>6} "
              f"{'MPJVE cm/s':>10} {'jitter':>7} {'(true)':>7} {'skate cm/s':>10} {'(true)':>6} {'low cm':>6}")
    print(header)
    for solver in solvers:
        cases = {}
        if "clean" in wanted:
            cases["clean"] = [(m, evaluate(m, solver)) for m in motions]
        if solver not in CLEAN_ONLY:
            if "noisy" in wanted:
                cases["noisy"] = [(m, evaluate(m, solver, noisy=True, seed=i)) for i, m in enumerate(motions)]
            if "noisy8hz" in wanted:
                cases["noisy8hz"] = [(m, evaluate(m, solver, noisy=True, seed=i, smoothing_hz=SMOOTHING_HZ))
                                     for i, m in enumerate(motions)]
            for name, scale in (("short", 0.85), ("tall", 1.15)):
                if name in wanted:
                    cases[name] = [(m, evaluate(on_body(m, scale), solver)) for m in motions]
        results[solver] = {}
        for case, rows in cases.items():
            by_source: dict = {}
            for m, row in rows:
                by_source.setdefault(m.metadata.get("corpus_source", "?"), []).append(row)
            table = {src: summarise(r) for src, r in sorted(by_source.items())}
            table["all"] = summarise([r for _, r in rows])
            results[solver][case] = table
            for src, s in table.items():
                if case != "clean" and src != "all":
                    continue
                print(f"{solver:<20} {case:<8} {src:<11} {s['clips']:>5} {s['mpjpe_mm']:>9.2f} {s['end_effector_mm']:>7.2f} "
                      f"{s['mpjre_deg']:>6.2f} {s['mpjve_cm_s']:>10.2f} {s['jitter_km_s3']:>7.3f} {s['jitter_true_km_s3']:>7.3f} "
                      f"{s['foot_skate_cm_s']:>10.2f} {s['foot_skate_true_cm_s']:>6.2f} {s['lowest_sole_cm']:>6.2f}")
        for case, table in results[solver].items():
            w = table["all"]
            at = w["max_joint_error_at"]
            print(f"{solver:<20} {case:<8} worst frames: head {w['head_max_mm']:.3f} mm off its target "
                  f"({w['head_max_clip']}; {w['head_max_unflagged_mm']:.3f} mm on unflagged frames), "
                  f"largest joint error {w['max_joint_error_cm']:.1f} cm "
                  f"({at['joint']}, frame {at['frame']} of {at['clip']}); {w['flagged_frames']} of {w['frames']} "
                  f"frames flagged as input no pose fits")
        if "clean" in results[solver]:
            print(f"{solver} per-joint MPJPE (mm, clean):", results[solver]["clean"]["all"]["per_joint_mm"])

    keys = ("mpjpe_mm", "mpjpe_cm", "end_effector_mm", "mpjre_deg", "mpjve_cm_s", "jitter_km_s3", "foot_skate_cm_s",
            "lowest_sole_cm", "frames_below_floor")
    worst_keys = ("head_max_mm", "head_max_clip", "head_max_unflagged_mm", "max_joint_error_cm", "max_joint_error_at",
                  "flagged_frames")

    def entry_of(table):
        out = {k: round(table["all"][k], 3) for k in keys}
        out.update({k: (round(table["all"][k], 3) if isinstance(table["all"][k], float) else table["all"][k])
                    for k in worst_keys})
        return out

    summary = {}
    for solver in solvers:
        res = results[solver]
        first = "clean" if "clean" in res else next(iter(res))
        entry = entry_of(res[first])
        entry["case"] = first
        entry["per_source"] = {src: {k: round(v[k], 3) for k in keys} for src, v in res[first].items() if src != "all"}
        for case in CASES:
            if case in res and case != first:
                entry[case] = entry_of(res[case])
        summary[solver] = entry
    gaps = {}
    for solver, target in TARGETS.items():
        if solver in summary:
            gaps[solver] = {k: round(summary[solver][k] - v, 3) for k, v in target.items() if k in summary[solver]}
    print("gap to targets (positive = missed by):", gaps)
    print(json.dumps({**summary, "targets": TARGETS, "gaps": gaps, "split": args.split, "clips": len(motions)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
