"""Accuracy of the six-IMU poser on the corpus's test split (issue 5), from the committed weights.

Protocol: every test clip (held-out performers, 60 fps) gets six virtual IMUs (``core/imu/synth``) on
its own skeleton, once clean and once through the corruption model (``CorruptionModel()``, seeded
per clip); the network gets the wearer's four measurements of that skeleton. Side by side in the
same run: the full model, the no-shape ablation and the LSTM baseline (``assets/``; all causal: the
full one is what the live stream runs), and ``offline``: the full model's bidirectional variant
(``inference/imu_poser.OFFLINE_WEIGHT_FILES``), which ``reconstruct_imu`` runs by default
(``ImuSolveOptions.offline_model``), averaged with its answer on the recording's mirror image as
``reconstruct_imu`` does by default (``ImuSolveOptions.mirror_average``); ``offline_once`` is the same
model run once, to show what the mirroring buys.

Metrics (TransPose / PIP / FIP conventions; ``joint_set.ignored`` = pelvis, wrists, hands, ankles,
feet get identity local rotations in both prediction and truth, the root rotation too):

- **SIP** (deg): root-relative global rotation error of the hips and shoulders (1, 2, 16, 17);
- **angle** (deg): the same over the 15 body joints (TransPose's ``joint_set.reduced``);
- **position** (cm): mean joint position error of all 24 joints, root at the origin, both poses on
  the true skeleton;
- **jitter** (km/s^3): mean third time derivative of the predicted root-relative joint positions
  (the truth's is printed for reference);
- **root drift 10 s** (m): ``core/imu/root.root_drift`` over 10-s windows every 1 s of clips at
  least 10 s long: the distance between the predicted and true root displacement (translation by
  ``core/imu/root.root_translation`` from the network's contact probabilities, or the pose-only
  ``kinematic_contact`` for the baseline, fused with the pelvis acceleration and, from a model that
  estimates it, the network's root velocity, as ``reconstruct_imu`` does).

Worst cases beside the means, for the models held to the targets: the 95th percentile and the
largest per-frame angle and position errors, and the median and largest 10-s drift window.

Prints one table per condition (rows: model x source, then all), then as the last stdout line the
JSON of ``reconstruct_imu``'s default model on corrupted sensors (``offline`` where it was run, else
``full``): ``model``, ``sip_deg``, ``angle_deg``, ``position_cm``, ``jitter_km_s3``,
``root_drift_10s_m``; the causal full model's (the live stream's) under ``causal``; and every row
under ``table``.

    python benchmarks/imu_accuracy.py [--corpus build/corpus] [--split test] [--seed 0]
"""

from __future__ import annotations

import os

# One BLAS thread: the work is small matrices per frame, and multi-threaded OpenBLAS starves next
# to other busy processes (a 6 s run took over 10 minutes beside two training jobs).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.imu.recording import SIX_SENSORS, fill_dropped  # noqa: E402
from sparse_mocap_addon.core.imu.root import (RootOptions, kinematic_contact, root_drift_errors,  # noqa: E402
                                              root_translation)
from sparse_mocap_addon.core.kinematics.metrics import geodesic_deg  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import quat_to_matrix  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import PARENTS, forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, features, virtual_imus  # noqa: E402
from sparse_mocap_addon.pipelines.imu import (DEFAULT_SMOOTHING_HZ, ImuSolveOptions, sensor_bone_rotations,  # noqa: E402
                                              smooth_rotations, smooth_rotations_online)
from sparse_mocap_addon.inference.imu_poser import (KINDS, OFFLINE_WEIGHT_FILES, WEIGHT_FILES, ImuPoser,  # noqa: E402
                                                    has_offline_model, local_quaternions, relative_globals,
                                                    world_root_velocity)
from training.imu_dataset import ROOT, CorpusMissingError, load_corpus, measurement_vector  # noqa: E402

# The offline model's rows: as reconstruct_imu runs it by default (mirror-averaged), and run once.
OFFLINE_ROWS = ("offline", "offline_once")
MIRRORED = ImuSolveOptions().mirror_average

SIP_JOINTS = (1, 2, 16, 17)
BODY_JOINTS = (1, 2, 3, 4, 5, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19)     # TransPose joint_set.reduced
IGNORED = (0, 7, 8, 10, 11, 20, 21, 22, 23)                           # TransPose joint_set.ignored
TARGETS = {"sip_deg": 13.5, "angle_deg": 8.5, "position_cm": 4.7, "jitter_km_s3": 0.3}
ONLINE_ARGS: list = []
ESTIMATED_VELOCITY = [True]    # fuse a model's root-velocity estimate (--no-estimated-velocity: not)
METRICS = ("sip_deg", "angle_deg", "position_cm", "jitter_km_s3", "root_drift_10s_m")


def eval_pose(local: np.ndarray, skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative globals (T, 24, 3, 3) and joint positions (T, 24, 3) with the ignored joints'
    (and the root's) local rotations set to identity."""
    local = local.copy()
    local[:, list(IGNORED)] = np.eye(3)
    T = len(local)
    glob = np.empty_like(local)
    glob[:, 0] = local[:, 0]
    for j in range(1, 24):
        glob[:, j] = glob[:, PARENTS[j]] @ local[:, j]
    offsets = skeleton.offsets
    pos = np.zeros((T, 24, 3))
    for j in range(1, 24):
        pos[:, j] = pos[:, PARENTS[j]] + glob[:, PARENTS[j]] @ offsets[j]
    return glob, pos


def jitter_values(pos: np.ndarray, fps: float) -> np.ndarray:
    third = pos[3:] - 3 * pos[2:-1] + 3 * pos[1:-2] - pos[:-3]
    return np.linalg.norm(third, axis=-1).mean(axis=1) * fps ** 3 / 1000.0     # per window, km/s^3


def evaluate_clip(poser: ImuPoser, motion, recording, vector, smoothing_hz: float, sensor_bones: bool,
                  use_acceleration: bool = True, mirror: bool = False) -> dict:
    """Per-frame errors and the drift windows of one clip (``mirror``: the network's answer averaged
    with its answer on the mirror image, ``ImuSolveOptions.mirror_average``)."""
    held = fill_dropped(recording) if not recording.valid.all() else recording
    out = poser.run(features(held), recording.valid, vector, mirror=mirror)
    pelvis = SIX_SENSORS.index("pelvis")
    pose_6d = sensor_bone_rotations(out.pose_6d, held.orientation) if sensor_bones else out.pose_6d
    if smoothing_hz < 0:                          # the live stream's causal filter
        pose_6d = smooth_rotations_online(pose_6d, motion.fps, *ONLINE_ARGS)
    else:
        pose_6d = smooth_rotations(pose_6d, motion.fps, smoothing_hz)
    pred_quat = local_quaternions(held.orientation[:, pelvis], relative_globals(pose_6d))
    pred_local = quat_to_matrix(pred_quat)
    true_local = quat_to_matrix(motion.rotations)
    g_pred, p_pred = eval_pose(pred_local, motion.skeleton)
    g_true, p_true = eval_pose(true_local, motion.skeleton)
    err = geodesic_deg(g_pred, g_true)                                          # (T, 24)
    result = {"frames": motion.num_frames,
              "sip": err[:, list(SIP_JOINTS)].mean(1), "angle": err[:, list(BODY_JOINTS)].mean(1),
              "position": np.linalg.norm(p_pred - p_true, axis=-1).mean(1) * 100.0,
              "jitter": jitter_values(p_pred, motion.fps), "jitter_true": jitter_values(p_true, motion.fps),
              "drift": np.zeros(0)}
    if motion.duration >= 10.0:
        world_rel, _ = forward_kinematics(pred_quat, np.zeros((motion.num_frames, 3)), motion.skeleton)
        options = RootOptions.for_skeleton(motion.skeleton)
        contact = out.contact if out.contact is not None else kinematic_contact(world_rel, motion.fps, options)
        acc = held.acceleration[:, pelvis] if use_acceleration else None
        velocity = None
        if out.root_velocity is not None and ESTIMATED_VELOCITY[0]:   # as the pipeline does
            velocity = world_root_velocity(held.orientation[:, pelvis], out.root_velocity)
        translation = root_translation(world_rel, contact, motion.fps, acc, options, estimated_velocity=velocity)
        result["drift"] = root_drift_errors(translation, motion.translation, motion.fps, seconds=10.0)
    return result


def summarise(results: list[dict]) -> dict:
    cat = lambda key: np.concatenate([r[key] for r in results]) if results else np.zeros(0)  # noqa: E731
    drift = cat("drift")
    angle, position = cat("angle"), cat("position")
    return {"sip_deg": float(cat("sip").mean()), "angle_deg": float(angle.mean()),
            "position_cm": float(position.mean()), "jitter_km_s3": float(cat("jitter").mean()),
            "root_drift_10s_m": float(drift.mean()) if drift.size else float("nan"),
            # Worst cases beside the means: per frame (angle, position) and per 10-s window (drift).
            "angle_deg_p95": float(np.percentile(angle, 95)) if angle.size else float("nan"),
            "angle_deg_max": float(angle.max()) if angle.size else float("nan"),
            "position_cm_p95": float(np.percentile(position, 95)) if position.size else float("nan"),
            "position_cm_max": float(position.max()) if position.size else float("nan"),
            "root_drift_10s_m_median": float(np.median(drift)) if drift.size else float("nan"),
            "root_drift_10s_m_max": float(drift.max()) if drift.size else float("nan"),
            "truth_jitter_km_s3": float(cat("jitter_true").mean()), "frames": int(sum(r["frames"] for r in results)),
            "drift_windows": int(drift.size)}


def _smoothing_text(hz: float) -> str:
    if hz < 0:
        return "live stream's causal One Euro filter"
    return f"rotations low-passed at {hz:g} Hz (offline)" if hz else "raw network output"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus")
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", choices=KINDS + OFFLINE_ROWS, default=None,
                        help="offline: the full model's bidirectional variant, mirror-averaged as reconstruct_imu "
                             "does; offline_once: run once (default: all there are)")
    parser.add_argument("--smoothing-hz", type=float, default=DEFAULT_SMOOTHING_HZ,
                        help="offline zero-phase low-pass of the rotations, as reconstruct_imu does (0: the raw "
                             "network output; -1: the live stream's causal One Euro filter, as ImuStream does)")
    parser.add_argument("--online-filter", type=float, nargs=2, default=None, metavar=("MIN_CUTOFF", "BETA"),
                        help="One Euro parameters for --smoothing-hz -1 (default: the pipeline's)")
    parser.add_argument("--network-bones", action="store_true",
                        help="keep the network's elbows, knees and head instead of the sensors' orientations")
    parser.add_argument("--no-acceleration", action="store_true",
                        help="root translation from the contacts alone (no pelvis acceleration)")
    parser.add_argument("--no-estimated-velocity", action="store_true",
                        help="ignore a model's root-velocity estimate (the root from contacts and acceleration)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="a folder holding the weight files (default: the committed assets)")
    args = parser.parse_args(argv)
    ONLINE_ARGS[:] = args.online_filter or []
    ESTIMATED_VELOCITY[0] = not args.no_estimated_velocity
    if args.models is None:
        offline = (has_offline_model("full") if args.weights is None
                   else (args.weights / OFFLINE_WEIGHT_FILES["full"]).is_file())
        args.models = list(KINDS) + (list(OFFLINE_ROWS) if offline else [])
    try:
        motions = load_corpus(args.corpus, args.split)
    except CorpusMissingError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    def load(name):
        kind, offline = ("full", True) if name in OFFLINE_ROWS else (name, False)
        if args.weights is None:
            return ImuPoser.load(kind=kind, offline=offline)
        return ImuPoser.load(args.weights / (OFFLINE_WEIGHT_FILES if offline else WEIGHT_FILES)[kind])
    posers = {name: load(name) for name in args.models}
    conditions = {"corrupted": CorruptionModel(), "clean": None}
    table = {}
    for cond, model in conditions.items():
        per = {kind: {} for kind in posers}
        for i, motion in enumerate(motions):
            rec = virtual_imus(motion)
            if model is not None:
                rec = corrupt(rec, model, np.random.default_rng([args.seed, i]))
            vector = measurement_vector(motion)
            source = motion.metadata.get("corpus_source", "?")
            for kind, poser in posers.items():
                per[kind].setdefault(source, []).append(evaluate_clip(poser, motion, rec, vector, args.smoothing_hz,
                                                                      not args.network_bones, not args.no_acceleration,
                                                                      mirror=kind == "offline" and MIRRORED))
        for kind in posers:
            rows = {src: summarise(res) for src, res in sorted(per[kind].items())}
            rows["all"] = summarise([r for res in per[kind].values() for r in res])
            table.setdefault(cond, {})[kind] = rows

    for cond in conditions:
        print(f"\n{args.split} split, {cond} sensors ({len(motions)} clips), "
              f"{_smoothing_text(args.smoothing_hz)}:",
              file=sys.stderr)
        print(f"  {'model':<10} {'source':<12} {'frames':>7} {'SIP deg':>8} {'angle deg':>9} {'pos cm':>7} "
              f"{'jitter':>7} {'drift10s m':>10} {'(truth jitter)':>14}", file=sys.stderr)
        for kind in posers:
            for src, row in table[cond][kind].items():
                print(f"  {kind:<10} {src:<12} {row['frames']:>7} {row['sip_deg']:>8.2f} {row['angle_deg']:>9.2f} "
                      f"{row['position_cm']:>7.2f} {row['jitter_km_s3']:>7.3f} {row['root_drift_10s_m']:>10.3f} "
                      f"{row['truth_jitter_km_s3']:>14.3f}", file=sys.stderr)
    for name, title in (("full", "full model (causal: the live stream's)"),
                        ("offline", "offline model (bidirectional, mirror-averaged: reconstruct_imu's default)")):
        rows = table["corrupted"].get(name, {}).get("all")
        if rows is None:
            continue
        print(f"\n{title}, corrupted sensors, against the targets:", file=sys.stderr)
        for key, target in TARGETS.items():
            verdict = "met" if rows[key] <= target else f"MISSED by {rows[key] - target:.2f}"
            print(f"  {key:<14} {rows[key]:8.3f}  target <= {target}  {verdict}", file=sys.stderr)
        print(f"  worst cases: angle per frame p95 {rows['angle_deg_p95']:.1f} / max {rows['angle_deg_max']:.1f} deg; "
              f"position per frame p95 {rows['position_cm_p95']:.1f} / max {rows['position_cm_max']:.1f} cm; "
              f"root drift per 10-s window median {rows['root_drift_10s_m_median']:.2f} / max "
              f"{rows['root_drift_10s_m_max']:.2f} m", file=sys.stderr)
        for other in ("no_shape", "baseline"):
            if other in table["corrupted"]:
                ref = table["corrupted"][other]["all"]
                worse = [k for k in METRICS if not rows[k] < ref[k]]
                print(f"  better than {other} on every metric: {'yes' if not worse else 'no (' + ', '.join(worse) + ')'}",
                      file=sys.stderr)
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    corrupted = table["corrupted"]
    figures = {name: {k: round(corrupted[name]["all"][k], 4) for k in METRICS}
               for name in ("full", "offline") if name in corrupted}
    default = "offline" if "offline" in figures else "full"
    summary = {"model": default, **figures[default]} if default in figures else {}
    if default == "offline" and "full" in figures:
        summary["causal"] = figures["full"]
    print(json.dumps({**summary, "smoothing_hz": args.smoothing_hz, "table": table}, default=lambda v: round(float(v), 4)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
