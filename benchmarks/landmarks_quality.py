"""Landmarks -> armature quality: noisy synthetic landmarks with ground truth, and real Pose2Sim data.

**Noisy** (ground truth known). The corpus TEST clips (``--corpus build/corpus``, or built in memory
from ``--data`` as ``benchmarks/ik.py`` does; ``--max-clips`` caps them): the SMPL-24 joints from FK,
plus Gaussian noise of sigma = 1 cm and 3 cm per coordinate, with 10 % of the points dropped at
random (NaN, valid False); the seed is fixed per clip. ``solve_targets`` on
``JointTargets(positions=noisy, valid=mask, cues={}, fps=60)`` with the skeleton estimated from the
landmarks (the default), in four settings:

- "before filtering": ``SolveOptions(strength=0, feet=False)``: gap filling only;
- "offline 0.5": the default zero-phase Butterworth (strength 0.5, 6 Hz), feet off;
- "online 0.5": One Euro at strength 0.5 (causal), feet off;
- "defaults": every default (offline 0.5 and ground + foot locking), for reference. The ground is
  then estimated from the solved soles and put at y = 0, but the corpus clips keep their source's
  floor (not always at y = 0), so that constant shift is also reported undone ("ground shift
  undone"): what is left is what the foot locking itself changes.

Reported: MPJPE (mm) of the solved FK joints against the clean joints, jitter (km/s^3, mean norm of
the third derivative) of the solved joints; the raw noisy landmarks' MPJPE and jitter (valid points
only) and the clean truth's jitter for reference; whether filtering lowers both MPJPE and jitter.

**Real** (no ground truth). The Pose2Sim TRC files in ``<data>/landmarks_real/pose2sim/trc/`` (the
balancing trial raw and Butterworth-filtered, the 12-frame static trial): ``read_landmarks`` ->
``solve_landmarks`` with the defaults, and with ``SolveOptions(feet=False)``. Reported:

- bone-length coefficient of variation (%): BEFORE on the raw landmark segments (hip-knee,
  knee-ankle, shoulder-elbow, elbow-wrist, ankle-heel, ankle-big toe per side, hip-hip,
  shoulder-shoulder), AFTER on the same segments of the armature (SMPL joints; ankle-heel = ankle to
  the sole's heel point, ankle-big toe = ankle to the SMPL foot joint between the toes); the
  armature's bones are rigid, only shoulder-shoulder can change (the collars turn);
- fit error: mean distance (mm) between the armature's hips, knees, ankles, shoulders, elbows and
  wrists and the landmark-derived SMPL targets (raw, unfiltered; shifted by the solve's ground
  shift so both stand on the same floor), with the defaults, without the foot lock, and with
  neither filter nor lock (what the rigid skeleton alone costs: landmark bones stretch);
- foot skating (``metrics.foot_skating_cm``: cm of horizontal motion per frame while in contact;
  contact from ``contact.detect_foot_contact``, one ground for all points of a set): raw sole
  markers (heel, big toe, small toe) vs the solved armature's sole points
  (``feet.foot_floor_points``: heel, ball, toe tip) with the feet locked (the default) and without
  (``feet=False``); and like for like, the ankles (raw ankle marker vs armature ankle joint) over
  the frames where the raw markers say that foot is planted; plus the ground shift and the contact
  fractions.

Prints tables, then, last, one JSON line. Exits 0 with a message when the data is absent.

    .venv/bin/python benchmarks/landmarks_quality.py [--corpus build/corpus] [--data ../shared/data] [--max-clips N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.ik import load_split  # noqa: E402
from sparse_mocap_addon.core.feet.contact import detect_foot_contact, estimate_ground_height  # noqa: E402
from sparse_mocap_addon.core.feet.soles import foot_floor_points  # noqa: E402
from sparse_mocap_addon.core.landmarks.formats import read_landmarks  # noqa: E402
from sparse_mocap_addon.pipelines.landmarks import SolveOptions, solve_landmarks, solve_targets  # noqa: E402
from sparse_mocap_addon.core.landmarks.targets import JointTargets, joint_targets  # noqa: E402
from sparse_mocap_addon.core.landmarks.sequence import orient  # noqa: E402
from sparse_mocap_addon.core.kinematics.metrics import bone_length_cv, jitter_km_s3, mpjpe  # noqa: E402
from sparse_mocap_addon.core.feet.metrics import foot_skating_cm  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, forward_kinematics  # noqa: E402

SIGMAS_M = (0.01, 0.03)
DROP_FRACTION = 0.10
SEED = 20240611
DEFAULT_MAX_CLIPS = 89          # the whole test split; about a minute on one core
FPS = 60.0
SETTINGS = {
    "before filtering": SolveOptions(strength=0.0, feet=False),
    "offline 0.5": SolveOptions(strength=0.5, filter_mode="offline", feet=False),
    "online 0.5": SolveOptions(strength=0.5, filter_mode="online", feet=False),
    "defaults": SolveOptions(),
}
J = JOINT_INDEX
SIDES = ("left", "right")
# (label, raw landmark a, raw landmark b, armature point a, armature point b); armature points are
# SMPL joint names or "<side>_sole_heel" (the heel point of feet.foot_floor_points).
SEGMENTS = [
    *[(f"{s[0].upper()} {a}-{b}", f"{s}_{a}", f"{s}_{b}", f"{s}_{a}", f"{s}_{b}")
      for s in SIDES for a, b in (("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"), ("elbow", "wrist"))],
    *[(f"{s[0].upper()} ankle-heel", f"{s}_ankle", f"{s}_heel", f"{s}_ankle", f"{s}_sole_heel") for s in SIDES],
    *[(f"{s[0].upper()} ankle-big toe", f"{s}_ankle", f"{s}_big_toe", f"{s}_ankle", f"{s}_foot") for s in SIDES],
    ("hip-hip", "left_hip", "right_hip", "left_hip", "right_hip"),
    ("shoulder-shoulder", "left_shoulder", "right_shoulder", "left_shoulder", "right_shoulder"),
]
FIT_JOINTS = tuple(J[f"{s}_{p}"] for s in SIDES for p in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"))
SOLE_MARKERS = ("heel", "big_toe", "small_toe")


# ------------------------------------------------------------------------------------------------
# noisy landmarks with ground truth

def noisy_joints(truth: np.ndarray, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    noisy = truth + rng.normal(0.0, sigma, truth.shape)
    valid = rng.random(truth.shape[:2]) >= DROP_FRACTION
    noisy[~valid] = np.nan
    return noisy, valid


def noisy_benchmark(clips) -> dict:
    """Per sigma and setting: frame-weighted MPJPE (mm) and jitter (km/s^3) over the clips."""
    sums = defaultdict(lambda: defaultdict(float))
    truth_jitter, frames_total = 0.0, 0
    seconds = defaultdict(float)
    for source, name, motion in clips:
        truth = motion.joint_positions()
        frames = len(truth)
        frames_total += frames
        truth_jitter += jitter_km_s3(truth, motion.fps) * frames
        for sigma in SIGMAS_M:
            seed = zlib.crc32(f"{SEED}:{name}:{sigma}".encode())
            noisy, valid = noisy_joints(truth, sigma, seed)
            key = f"{sigma * 100:g} cm"
            sums[key]["raw_mpjpe_mm"] += mpjpe(noisy, truth, valid) * 1000.0 * frames
            sums[key]["raw_jitter_km_s3"] += jitter_km_s3(noisy, motion.fps) * frames
            targets = JointTargets(positions=noisy, valid=valid, cues={}, recipes={}, fps=motion.fps)
            for setting, options in SETTINGS.items():
                start = time.perf_counter()
                solved, report = solve_targets(targets, options, name)
                seconds[setting] += time.perf_counter() - start
                joints = solved.joint_positions()
                sums[key][f"{setting}|mpjpe_mm"] += mpjpe(joints, truth) * 1000.0 * frames
                sums[key][f"{setting}|jitter_km_s3"] += jitter_km_s3(joints, motion.fps) * frames
                if "feet" in report:
                    # The corpus clips keep their source's floor, not always y = 0: undo the
                    # constant ground shift to see what the locking itself does.
                    shift = np.array((0.0, report["feet"]["ground_shift_m"], 0.0))
                    undone = f"{setting}, ground shift undone"
                    sums[key][f"{undone}|mpjpe_mm"] += mpjpe(joints - shift, truth) * 1000.0 * frames
                    sums[key][f"{undone}|jitter_km_s3"] += jitter_km_s3(joints, motion.fps) * frames
                    sums[key]["defaults|abs_ground_shift_mm"] += abs(shift[1]) * 1000.0 * frames
    out = {"clips": len(clips), "frames": frames_total, "truth_jitter_km_s3": truth_jitter / frames_total,
           "solve_seconds": {k: round(v, 2) for k, v in seconds.items()}}
    for key, values in sums.items():
        out[key] = {k: v / frames_total for k, v in values.items()}
    return out


# ------------------------------------------------------------------------------------------------
# real landmarks

def _raw_points(seq) -> dict:
    return {name: seq.points[:, seq.index(name)] for name in seq.names}


def _armature_points(motion) -> dict:
    positions, rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    points = {name: positions[:, j] for name, j in J.items()}
    soles = foot_floor_points(positions, rot, motion.skeleton)            # (T, 2 sides, heel/ball/toe, 3)
    for f, side in enumerate(SIDES):
        for k, part in enumerate(("heel", "ball", "toe")):
            points[f"{side}_sole_{part}"] = soles[:, f, k]
    return points


def _cv_percent(points: dict, a: str, b: str) -> float:
    stacked = np.stack((points[a], points[b]), axis=1)
    return float(bone_length_cv(stacked, [(0, 1)])[0] * 100.0)


def _fit_mm(joints: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(T, 12) distance (mm) of the FIT_JOINTS of the armature from their landmark targets."""
    return np.linalg.norm(joints[:, FIT_JOINTS] - targets[:, FIT_JOINTS], axis=-1) * 1000.0


def _skating(points: np.ndarray, fps: float, contact: np.ndarray | None = None):
    """Skating of (T, F, 3) points, their contact (own detection with one ground when not given)."""
    if contact is None:
        ground = estimate_ground_height(points, fps=fps)
        contact = detect_foot_contact(points, fps, ground_height=ground)
    return foot_skating_cm(points, contact), contact


def real_benchmark(path: Path) -> dict:
    seq = orient(read_landmarks(path))
    fps = seq.fps
    raw = _raw_points(seq)
    targets = joint_targets(seq).positions
    motion, report = solve_landmarks(read_landmarks(path))
    unlocked, _ = solve_landmarks(read_landmarks(path), SolveOptions(feet=False))
    unfiltered, _ = solve_landmarks(read_landmarks(path), SolveOptions(strength=0.0, feet=False))
    arm, arm_unlocked = _armature_points(motion), _armature_points(unlocked)
    out = {"frames": seq.num_frames, "fps": fps}

    out["segments"] = {label: {"cv_before_pct": _cv_percent(raw, ra, rb), "cv_after_pct": _cv_percent(arm, aa, ab)}
                       for label, ra, rb, aa, ab in SEGMENTS if ra in raw and rb in raw}
    out["cv_before_pct"] = float(np.mean([s["cv_before_pct"] for s in out["segments"].values()]))
    out["cv_after_pct"] = float(np.mean([s["cv_after_pct"] for s in out["segments"].values()]))

    shift = report.get("feet", {}).get("ground_shift_m", 0.0)
    solved = np.stack([arm[n] for n in J], axis=1)
    lifted = targets + np.array((0.0, shift, 0.0))
    fit = _fit_mm(solved, lifted)
    fit_unlocked = _fit_mm(unlocked.joint_positions(), targets)
    fit_unfiltered = _fit_mm(unfiltered.joint_positions(), targets)
    out["fit_error_mm"] = float(np.nanmean(fit))
    out["fit_error_max_mm"] = float(np.nanmax(fit))
    out["fit_error_without_lock_mm"] = float(np.nanmean(fit_unlocked))
    out["fit_error_unfiltered_without_lock_mm"] = float(np.nanmean(fit_unfiltered))
    out["fit_error_per_joint_mm"] = {JOINT_NAMES[j]: float(np.nanmean(fit[:, k])) for k, j in enumerate(FIT_JOINTS)}

    raw_soles = np.stack([raw[f"{s}_{m}"] for s in SIDES for m in SOLE_MARKERS], axis=1)
    arm_soles = np.stack([arm[f"{s}_sole_{p}"] for s in SIDES for p in ("heel", "ball", "toe")], axis=1)
    unl_soles = np.stack([arm_unlocked[f"{s}_sole_{p}"] for s in SIDES for p in ("heel", "ball", "toe")], axis=1)
    skate_raw, contact_raw = _skating(raw_soles, fps)
    skate_arm, contact_arm = _skating(arm_soles, fps)
    skate_unl, contact_unl = _skating(unl_soles, fps)
    # Like for like: the ankles over the frames where the raw sole markers say the foot is planted.
    planted = contact_raw.reshape(len(contact_raw), 2, len(SOLE_MARKERS)).any(axis=2)
    ankles = {label: np.stack([pts[f"{s}_ankle"] for s in SIDES], axis=1)
              for label, pts in (("raw", raw), ("solved", arm), ("solved_without_lock", arm_unlocked))}
    out["skating"] = {
        "soles_cm_per_frame": {"raw": skate_raw["mean_cm_per_frame"], "solved": skate_arm["mean_cm_per_frame"],
                               "solved_without_lock": skate_unl["mean_cm_per_frame"]},
        "soles_contact_frame_pairs": {"raw": skate_raw["contact_frames"], "solved": skate_arm["contact_frames"],
                                      "solved_without_lock": skate_unl["contact_frames"]},
        "ankles_cm_per_frame": {k: foot_skating_cm(v, planted)["mean_cm_per_frame"] for k, v in ankles.items()},
        "ankle_contact_frame_pairs": int(foot_skating_cm(ankles["raw"], planted)["contact_frames"]),
    }
    per_foot = lambda c: c.reshape(len(c), 2, -1).any(axis=2).mean(axis=0).round(3).tolist()  # noqa: E731
    out["contact_fraction"] = {"raw": per_foot(contact_raw), "solved": per_foot(contact_arm),
                               "solved_without_lock": per_foot(contact_unl),
                               "pipeline": report.get("feet", {}).get("contact_fraction")}
    out["ground_shift_m"] = shift
    out["pinned_runs"] = report.get("feet", {}).get("pinned_runs")
    out["stature_m"] = motion.skeleton.stature()
    return out


# ------------------------------------------------------------------------------------------------

def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--max-clips", type=int, default=DEFAULT_MAX_CLIPS,
                        help=f"test clips for the noisy part (default {DEFAULT_MAX_CLIPS}, round-robin over sources)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    log = lambda *a: print(*a, file=sys.stderr)  # noqa: E731
    result = {"benchmark": "landmarks_quality"}

    loaded = load_split("test", args.corpus, args.data, args.max_clips, log)
    if loaded is None:
        print(f"noisy part skipped: neither a built corpus ({args.corpus}) nor the shared data ({args.data}) is there")
    else:
        clips, origin = loaded
        noisy = noisy_benchmark(clips)
        result["noisy"] = dict(noisy, ground_truth=origin)
        print(f"noisy landmarks: {noisy['clips']} test clips, {noisy['frames']} frames ({origin}); "
              f"SMPL-24 joints + N(0, sigma) per coordinate, {DROP_FRACTION:.0%} of points dropped; "
              f"skeleton from the landmarks")
        print(f"truth jitter {noisy['truth_jitter_km_s3']:.3f} km/s^3")
        print(f"{'sigma':<7}{'setting':<31}{'MPJPE mm':>10}{'jitter km/s^3':>15}")
        verdict = {}
        for sigma in SIGMAS_M:
            key = f"{sigma * 100:g} cm"
            row = noisy[key]
            print(f"{key:<7}{'raw landmarks':<31}{row['raw_mpjpe_mm']:>10.2f}{row['raw_jitter_km_s3']:>15.2f}")
            for setting in [*SETTINGS, "defaults, ground shift undone"]:
                print(f"{'':<7}{setting:<31}{row[f'{setting}|mpjpe_mm']:>10.2f}{row[f'{setting}|jitter_km_s3']:>15.2f}")
            print(f"{'':<7}(defaults: mean |ground shift| {row['defaults|abs_ground_shift_mm']:.1f} mm)")
            for setting in ("offline 0.5", "online 0.5"):
                lower_mpjpe = row[f"{setting}|mpjpe_mm"] < row["before filtering|mpjpe_mm"]
                lower_jitter = row[f"{setting}|jitter_km_s3"] < row["before filtering|jitter_km_s3"]
                verdict[f"{key} {setting}"] = bool(lower_mpjpe and lower_jitter)
                print(f"{'':<7}  {setting} vs before filtering: lowers MPJPE {_yes(lower_mpjpe)}, "
                      f"lowers jitter {_yes(lower_jitter)}")
        result["noisy"]["filter_lowers_mpjpe_and_jitter"] = verdict
        print(f"solve time per setting (s, all clips and sigmas): {noisy['solve_seconds']}")
        print()

    trc = args.data / "landmarks_real" / "pose2sim" / "trc"
    files = sorted(trc.glob("*.trc")) if trc.is_dir() else []
    if not files:
        print(f"real part skipped: no Pose2Sim TRC files in {trc}")
    result["real"] = {}
    for path in files:
        r = real_benchmark(path)
        result["real"][path.name] = r
        print(f"{path.name}: {r['frames']} frames at {r['fps']:g} fps; stature {r['stature_m']:.3f} m; "
              f"ground shift {r['ground_shift_m'] * 100:+.1f} cm; pinned runs {r['pinned_runs']}")
        print(f"  {'segment':<20}{'CV before %':>12}{'CV after %':>12}")
        for label, s in r["segments"].items():
            print(f"  {label:<20}{s['cv_before_pct']:>12.2f}{s['cv_after_pct']:>12.4f}")
        print(f"  {'mean':<20}{r['cv_before_pct']:>12.2f}{r['cv_after_pct']:>12.4f}")
        print(f"  fit error (armature vs landmark targets, hips..wrists): {r['fit_error_mm']:.1f} mm mean, "
              f"{r['fit_error_max_mm']:.1f} max; without foot lock {r['fit_error_without_lock_mm']:.1f} mm; "
              f"unfiltered and without lock {r['fit_error_unfiltered_without_lock_mm']:.1f} mm; per joint (defaults) "
              + ", ".join(f"{k} {v:.0f}" for k, v in r["fit_error_per_joint_mm"].items()))
        s, c = r["skating"], r["contact_fraction"]
        print(f"  foot skating cm/frame in contact: soles raw {s['soles_cm_per_frame']['raw']:.3f} "
              f"({s['soles_contact_frame_pairs']['raw']} pairs), solved {s['soles_cm_per_frame']['solved']:.3f} "
              f"({s['soles_contact_frame_pairs']['solved']}), without lock "
              f"{s['soles_cm_per_frame']['solved_without_lock']:.3f} "
              f"({s['soles_contact_frame_pairs']['solved_without_lock']})")
        print(f"  ankles over the raw planted frames ({s['ankle_contact_frame_pairs']} pairs): raw "
              f"{s['ankles_cm_per_frame']['raw']:.3f}, solved {s['ankles_cm_per_frame']['solved']:.3f}, "
              f"without lock {s['ankles_cm_per_frame']['solved_without_lock']:.3f}")
        print(f"  contact fraction (left, right): raw {c['raw']}, solved {c['solved']}, without lock "
              f"{c['solved_without_lock']}, pipeline's own {c['pipeline']}")
        print()

    raw_trials = [f.name for f in files if "Balancing" in f.name and "filt" not in f.name]
    key = raw_trials[0] if raw_trials else (files[0].name if files else None)
    if key:
        r = result["real"][key]
        result["real_summary"] = {
            "file": key, "cv_before_pct": r["cv_before_pct"], "cv_after_pct": r["cv_after_pct"],
            "fit_error_mm": r["fit_error_mm"],
            "skating_raw_cm": r["skating"]["soles_cm_per_frame"]["raw"],
            "skating_solved_cm": r["skating"]["soles_cm_per_frame"]["solved"],
            "skating_solved_without_lock_cm": r["skating"]["soles_cm_per_frame"]["solved_without_lock"],
            "ankle_skating_raw_cm": r["skating"]["ankles_cm_per_frame"]["raw"],
            "ankle_skating_solved_cm": r["skating"]["ankles_cm_per_frame"]["solved"],
            "ankle_skating_solved_without_lock_cm": r["skating"]["ankles_cm_per_frame"]["solved_without_lock"],
            "ground_shift_m": r["ground_shift_m"],
        }
    if "noisy" in result:
        n = result["noisy"]
        result["noisy_summary"] = {
            key: {"before_mpjpe_mm": n[key]["before filtering|mpjpe_mm"],
                  "after_mpjpe_mm": n[key]["offline 0.5|mpjpe_mm"],
                  "online_mpjpe_mm": n[key]["online 0.5|mpjpe_mm"], "defaults_mpjpe_mm": n[key]["defaults|mpjpe_mm"],
                  "defaults_ground_shift_undone_mpjpe_mm": n[key]["defaults, ground shift undone|mpjpe_mm"],
                  "before_jitter_km_s3": n[key]["before filtering|jitter_km_s3"],
                  "after_jitter_km_s3": n[key]["offline 0.5|jitter_km_s3"],
                  "online_jitter_km_s3": n[key]["online 0.5|jitter_km_s3"],
                  "raw_mpjpe_mm": n[key]["raw_mpjpe_mm"], "raw_jitter_km_s3": n[key]["raw_jitter_km_s3"]}
            for key in (f"{s * 100:g} cm" for s in SIGMAS_M)
        }
        result["noisy_summary"]["truth_jitter_km_s3"] = n["truth_jitter_km_s3"]
        result["filter_lowers_mpjpe_and_jitter"] = all(n["filter_lowers_mpjpe_and_jitter"].values())
    print(f"({time.perf_counter() - started:.0f} s)")
    print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
