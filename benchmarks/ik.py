"""Analytic IK on exact joints: round trip accuracy on real mocap, and batched speed on one core.

Ground truth is the corpus TEST split (``--corpus build/corpus`` when it has been built; otherwise
the test-split clips are made in memory from ``--data`` exactly as ``training/build_corpus.convert``
makes them: read, ``skeleton_from_rig``, retarget, resample to 60 fps; nothing is written). For every
clip: joints = FK(rotations, translation, the clip's skeleton); ``solve_ik`` on those joints with the
same skeleton; FK of the solution. Reported, pooled over all frames of all clips:

- MPJPE (mm, mean and max over frames and joints) of the solved FK joints; target <= 0.5 mm;
- bone-direction error (deg) of the 23 joint-to-joint bones; the leaf segments (head, feet, hands:
  joint -> head top / toe tip / finger tip) are listed apart, joints say nothing about them;
- global rotation error (deg, geodesic between the true and solved global joint rotations) of the
  19 joints that have a child, per joint (median, mean, p95) and overall; target <= 0.5 deg. Joints
  are split into "observable" from joint positions with the hinge model (pelvis, spine1-3, hips,
  knees, shoulders, elbows) and "twist not observable" (ankles, wrists, neck, collars: nothing in
  the 24 joint centres tells their twist about their bone);
- all of it with the default hinge axes (``DEFAULT_HINGE_AXES``) and with the corpus's convention
  (``estimate_hinge_axes`` on the TRAIN split's rotations, never the test split's; original clips,
  not the mirrored copies); a third convention, "source axes", estimates the axes on the train clips
  of the clip's own source (pooled train axes where a source has no train clips);
- per source: MPJPE and overall rotation error;
- the same round trip when the skeleton is unknown and estimated from the joints by
  ``skeleton_from_landmarks(joints, valid)`` (PASE): MPJPE mm;
- speed: batched ``solve_ik`` frames/s on one core (BLAS and OpenMP limited to one thread), on the
  concatenated test joints cut into 20,000-frame batches, and 100,000 frames in one call, best of
  5; target >= 100,000 frames/s.

Prints tables, then, last, one JSON line. Exits 0 with a message when neither the corpus nor the
shared data is there.

    .venv/bin/python benchmarks/ik.py [--corpus build/corpus] [--data ../shared/data] [--max-clips N]
"""

from __future__ import annotations

import os

# One core: must be set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.kinematics.ik import DEFAULT_HINGE_AXES, estimate_hinge_axes, solve_ik  # noqa: E402
from sparse_mocap_addon.core.landmarks.skeleton import skeleton_from_landmarks  # noqa: E402
from sparse_mocap_addon.core.kinematics.metrics import geodesic_deg  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import (JOINT_INDEX, JOINT_NAMES, LEAVES, PARENTS,  # noqa: E402
                                                         forward_kinematics)

TARGET_MPJPE_MM = 0.5
TARGET_ROTATION_DEG = 0.5
TARGET_FPS = 100_000
BATCH = 20_000
BIG_BATCH = 100_000
REPEATS = 5

NON_LEAVES = tuple(j for j in range(len(JOINT_NAMES)) if j not in LEAVES)           # the 19 with a child
OBSERVABLE = tuple(JOINT_INDEX[n] for n in (
    "pelvis", "spine1", "spine2", "spine3", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow"))
UNOBSERVABLE = tuple(JOINT_INDEX[n] for n in (
    "left_ankle", "right_ankle", "left_wrist", "right_wrist", "neck", "left_collar", "right_collar"))
assert sorted(OBSERVABLE + UNOBSERVABLE) == list(NON_LEAVES)
BONES = tuple(range(1, len(JOINT_NAMES)))                                          # bone parent -> j
CONVENTIONS = ("default", "corpus", "source")


# ------------------------------------------------------------------------------------------------
# ground truth: corpus clips, from the built corpus or made in memory from the shared data

def _pick(items: list, max_clips: int | None, key) -> list:
    """At most ``max_clips`` items, taken round-robin over sources (so every source is in)."""
    if max_clips is None or len(items) <= max_clips:
        return items
    by_source = defaultdict(list)
    for item in items:
        by_source[key(item)].append(item)
    picked, queues = [], [by_source[s] for s in sorted(by_source)]
    while len(picked) < max_clips:
        for queue in queues:
            if queue and len(picked) < max_clips:
                picked.append(queue.pop(0))
    return picked


def load_split(split: str, corpus: Path | None, data: Path | None, max_clips: int | None = None,
               log=print) -> tuple[list[tuple[str, str, Motion]], str] | None:
    """``[(source, name, Motion)]`` of one corpus split (original clips, no mirrored copies) and where
    they came from, or None when neither the corpus nor the shared data is there."""
    manifest = corpus / "manifest.json" if corpus is not None else None
    if manifest is not None and manifest.is_file():
        entries = [e for e in json.loads(manifest.read_text())["clips"]
                   if e["split"] == split and not e.get("mirrored")]
        entries = _pick(sorted(entries, key=lambda e: e["file"]), max_clips, lambda e: e["source"])
        clips = [(e["source"], Path(e["file"]).stem, Motion.load(corpus / e["file"])) for e in entries]
        return clips, f"corpus {corpus}"
    if data is None or not data.is_dir():
        return None
    from sparse_mocap_addon.core.kinematics.resample import resample_motion
    from sparse_mocap_addon.core.mocap.retarget import retarget
    from sparse_mocap_addon.core.mocap.rig_body import skeleton_from_rig
    from training.build_corpus import TARGET_FPS as CORPUS_FPS
    from training.build_corpus import discover, read_take

    takes = _pick([t for t in discover(data) if t.split == split], max_clips, lambda t: t.source)
    log(f"building {len(takes)} {split} clips in memory from {data} (no corpus at {corpus})")
    clips = []
    for take in takes:
        source = read_take(take)                      # as training/build_corpus.convert, unsaved
        skeleton, _ = skeleton_from_rig(source)
        clips.append((take.source, take.name, resample_motion(retarget(source, skeleton), CORPUS_FPS)))
    return clips, f"built in memory from {data}"


def corpus_hinge_axes(train: list[tuple[str, str, Motion]]) -> tuple[dict, dict]:
    """The corpus's hinge axes (all train clips) and per source (sources with train clips)."""
    pooled = estimate_hinge_axes(np.concatenate([m.rotations for _, _, m in train]))
    per_source = {}
    for source in sorted({s for s, _, _ in train}):
        per_source[source] = estimate_hinge_axes(np.concatenate([m.rotations for s, _, m in train if s == source]))
    return pooled, per_source


# ------------------------------------------------------------------------------------------------
# measurements

def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between vectors (..., 3), atan2 form (precise near 0)."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.degrees(np.arctan2(cross, np.einsum("...i,...i->...", a, b)))


def _leaf_segments(positions, global_rot, skeleton) -> np.ndarray:
    """(T, L, 3) joint -> segment end vectors of the leaves (head top, toe tips, finger tips)."""
    return np.stack([global_rot[:, j] @ skeleton.leaf_tip(j) for j in LEAVES], axis=1)


LIMBS = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"),
         ("left_shoulder", "left_elbow", "left_wrist"), ("right_shoulder", "right_elbow", "right_wrist"))
BEND_BINS = ((0.0, 8.0), (8.0, 25.0), (25.0, 180.1))   # the IK's untrusted / partly / fully trusted bends


def _limb_bends(joints: np.ndarray) -> np.ndarray:
    """(T, 4) bend angle (deg) at the knees and elbows: 0 = straight."""
    return np.stack([_angle_deg(joints[:, JOINT_INDEX[m]] - joints[:, JOINT_INDEX[a]],
                                joints[:, JOINT_INDEX[b]] - joints[:, JOINT_INDEX[m]]) for a, m, b in LIMBS], axis=1)


def roundtrip(motion: Motion, hinge_axes: dict[str, dict]) -> dict:
    """Per convention: position error (T, 24) m, rotation error (T, 19) deg; bone and leaf errors."""
    joints, true_rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    true_bones = joints[:, BONES] - joints[:, PARENTS[list(BONES)]]
    true_leaves = _leaf_segments(joints, true_rot, motion.skeleton)
    out = {"bend": _limb_bends(joints)}
    for name, axes in hinge_axes.items():
        result = solve_ik(joints, motion.skeleton, hinge_axes=axes)
        pos, rot = forward_kinematics(result.rotations, result.translation, motion.skeleton)
        out[name] = {
            "position_m": np.linalg.norm(pos - joints, axis=-1),
            "rotation_deg": geodesic_deg(true_rot[:, NON_LEAVES], rot[:, NON_LEAVES]),
            "bone_deg": _angle_deg(true_bones, pos[:, BONES] - pos[:, PARENTS[list(BONES)]]),
            "leaf_deg": _angle_deg(true_leaves, _leaf_segments(pos, rot, motion.skeleton)),
        }
    return out


def pase_roundtrip(motion: Motion, hinge_axes: dict) -> np.ndarray:
    """Position error (T, 24) m when the skeleton is estimated from the joints themselves."""
    joints = motion.joint_positions()
    valid = np.ones(joints.shape[:2], dtype=bool)
    skeleton = skeleton_from_landmarks(joints, valid).skeleton
    result = solve_ik(joints, skeleton, valid, hinge_axes=hinge_axes)
    return np.linalg.norm(result.positions - joints, axis=-1)


def _stats(values: np.ndarray) -> dict:
    values = np.asarray(values).ravel()
    return {"median": float(np.median(values)), "mean": float(values.mean()),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}


def _at_least(joints: np.ndarray, frames: int) -> np.ndarray:
    """``joints`` repeated end to end until there are at least ``frames``."""
    return np.concatenate([joints] * int(np.ceil(frames / len(joints)))) if len(joints) < frames else joints


def _best_seconds(run) -> float:
    best = np.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def speed(joints: np.ndarray, skeleton) -> tuple[float, float, int]:
    """Best-of-``REPEATS`` frames/s of ``solve_ik``: every test frame in ``BATCH``-frame calls (the last
    one shorter), and ``BIG_BATCH`` frames in one call; and the number of frames of the first.

    One skeleton for all (the speed does not depend on it; the clips' own are used for accuracy)."""
    frames = _at_least(joints, BATCH)
    big = _at_least(joints, BIG_BATCH)[:BIG_BATCH]
    solve_ik(frames[:1000], skeleton)   # warm-up

    def batched():
        for s in range(0, len(frames), BATCH):
            solve_ik(frames[s:s + BATCH], skeleton)

    return len(frames) / _best_seconds(batched), BIG_BATCH / _best_seconds(lambda: solve_ik(big, skeleton)), len(frames)


# ------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus",
                        help="a built corpus (default build/corpus); when absent the clips are built from --data")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--max-clips", type=int, default=None, help="at most this many test clips (quick runs)")
    parser.add_argument("--skip-speed", action="store_true", help="accuracy only")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    log = lambda *a: print(*a, file=sys.stderr)  # noqa: E731
    loaded = load_split("test", args.corpus, args.data, args.max_clips, log)
    if loaded is None:
        print(f"skipped: neither a built corpus ({args.corpus}) nor the shared data folder ({args.data}) is there")
        return 0
    test, origin = loaded
    if not test:
        print(f"skipped: no test clips in {origin}")
        return 0
    train, _ = load_split("train", args.corpus, args.data, None, log)
    pooled_axes, source_axes = corpus_hinge_axes(train)

    errors = defaultdict(lambda: defaultdict(list))      # convention -> kind -> [arrays]
    by_source = defaultdict(lambda: defaultdict(list))   # source -> key -> [arrays]
    pase, bends = [], []
    for source, _, motion in test:
        axes = {"default": DEFAULT_HINGE_AXES, "corpus": pooled_axes,
                "source": source_axes.get(source, pooled_axes)}
        result = roundtrip(motion, axes)
        bends.append(result.pop("bend"))
        for conv, kinds in result.items():
            for kind, arr in kinds.items():
                errors[conv][kind].append(arr)
                by_source[source][f"{conv}_{kind}"].append(arr)
        p = pase_roundtrip(motion, pooled_axes)
        pase.append(p)
        by_source[source]["pase_position_m"].append(p)
    cat = {conv: {kind: np.concatenate(arrs) for kind, arrs in kinds.items()} for conv, kinds in errors.items()}
    pase_mm = np.concatenate(pase) * 1000.0
    frames = sum(m.num_frames for _, _, m in test)
    obs = [NON_LEAVES.index(j) for j in OBSERVABLE]
    unobs = [NON_LEAVES.index(j) for j in UNOBSERVABLE]

    print(f"IK round trip on exact joints: {len(test)} test clips, {frames} frames at 60 fps ({origin}); "
          f"hinge axes from {len(train)} train clips")
    print("corpus hinge axes (train split): " + ", ".join(
        f"{k} ({v[0]:+.3f}, {v[1]:+.3f}, {v[2]:+.3f})" for k, v in pooled_axes.items()))
    print()
    summary = {}
    header = (f"{'hinge axes':<10}{'MPJPE mean':>11}{'max':>8}{'bone dir':>9}{'max':>8}"
              f"{'rot all':>9}{'med':>7}{'p95':>7}{'observ.':>9}{'med':>7}{'p95':>7}{'twist':>8}{'med':>7}{'p95':>7}")
    print("summary (mm, deg; rot = global rotation error of the 19 joints with a child)")
    print(header)
    for conv in CONVENTIONS:
        c = cat[conv]
        pos_mm = c["position_m"] * 1000.0
        row = {
            "mpjpe_mm": float(pos_mm.mean()), "mpjpe_max_mm": float(pos_mm.max()),
            "bone_direction_deg": _stats(c["bone_deg"]), "leaf_direction_deg": _stats(c["leaf_deg"]),
            "rotation_deg": _stats(c["rotation_deg"]),
            "observable_rotation_deg": _stats(c["rotation_deg"][:, obs]),
            "unobservable_twist_deg": _stats(c["rotation_deg"][:, unobs]),
        }
        summary[conv] = row
        r, o, u = row["rotation_deg"], row["observable_rotation_deg"], row["unobservable_twist_deg"]
        b = row["bone_direction_deg"]
        print(f"{conv:<10}{row['mpjpe_mm']:>11.1e}{row['mpjpe_max_mm']:>8.0e}{b['mean']:>9.0e}{b['max']:>8.0e}"
              f"{r['mean']:>9.2f}{r['median']:>7.2f}{r['p95']:>7.1f}"
              f"{o['mean']:>9.2f}{o['median']:>7.2f}{o['p95']:>7.1f}"
              f"{u['mean']:>8.2f}{u['median']:>7.2f}{u['p95']:>7.1f}")
    leaf = summary["default"]["leaf_direction_deg"]
    print(f"leaf segments (head top, toe tips, finger tips; not in the joints): mean {leaf['mean']:.1f} deg, "
          f"median {leaf['median']:.1f}, p95 {leaf['p95']:.1f}")
    print()

    print("per joint: global rotation error (deg) median / mean / p95; bone direction error of the bone "
          "ending at the joint (deg, max)")
    print(f"{'joint':<16}{'group':<8}" + "".join(f"{c + ' med':>13}{'mean':>7}{'p95':>7}" for c in CONVENTIONS)
          + f"{'bone max':>10}")
    per_joint = {}
    for k, j in enumerate(NON_LEAVES):
        name = JOINT_NAMES[j]
        group = "obs" if j in OBSERVABLE else "twist"
        per_joint[name] = {"group": "observable" if j in OBSERVABLE else "twist_unobservable"}
        line = f"{name:<16}{group:<8}"
        for conv in CONVENTIONS:
            s = _stats(cat[conv]["rotation_deg"][:, k])
            per_joint[name][conv] = {key: round(s[key], 4) for key in ("median", "mean", "p95")}
            line += f"{s['median']:>13.2f}{s['mean']:>7.2f}{s['p95']:>7.1f}"
        bone_max = float(cat["default"]["bone_deg"][:, j - 1].max()) if j > 0 else float("nan")
        per_joint[name]["bone_direction_max_deg"] = None if j == 0 else bone_max
        print(line + (f"{bone_max:>10.0e}" if j > 0 else f"{'-':>10}"))
    print()

    bend = np.concatenate(bends)
    print("hips and shoulders by the bend of their limb (the twist cue is the bend plane; the IK ignores it "
          "below 8 deg and trusts it fully from 25 deg): global rotation error, corpus axes, deg")
    print(f"{'joint':<16}" + "".join(f"{f'bend {lo:g}-{min(hi, 180):g}':>22}" for lo, hi in BEND_BINS))
    print(f"{'':<16}" + "".join(f"{'frames':>8}{'mean':>7}{'p95':>7}" for _ in BEND_BINS))
    by_bend = {}
    for k, (root, _, _) in enumerate(LIMBS):
        col = NON_LEAVES.index(JOINT_INDEX[root])
        line = f"{root:<16}"
        by_bend[root] = {}
        for lo, hi in BEND_BINS:
            sel = (bend[:, k] >= lo) & (bend[:, k] < hi)
            err = cat["corpus"]["rotation_deg"][sel, col]
            stats = {"fraction": float(sel.mean()), "mean": float(err.mean()) if err.size else float("nan"),
                     "p95": float(np.percentile(err, 95)) if err.size else float("nan")}
            by_bend[root][f"{lo:g}-{min(hi, 180):g}"] = stats
            line += f"{stats['fraction']:>8.0%}{stats['mean']:>7.2f}{stats['p95']:>7.1f}"
        print(line)
    print()

    print("per source (rotation error: mean over the 19 joints and all frames, deg)")
    print(f"{'source':<12}{'clips':>6}{'frames':>8}{'MPJPE mm':>10}{'max':>8}{'rot default':>13}"
          f"{'rot corpus':>12}{'rot source':>12}{'obs corpus':>12}{'PASE mm':>9}{'max':>7}")
    per_source = {}
    clips_per_source = defaultdict(int)
    for source, _, _ in test:
        clips_per_source[source] += 1
    for source in sorted(by_source):
        d = {k: np.concatenate(v) for k, v in by_source[source].items()}
        pos = d["default_position_m"] * 1000.0
        pase_s = d["pase_position_m"] * 1000.0
        row = {
            "clips": clips_per_source[source], "frames": int(len(pos)),
            "mpjpe_mm": float(pos.mean()), "mpjpe_max_mm": float(pos.max()),
            "rotation_deg": float(d["default_rotation_deg"].mean()),
            "rotation_corpus_axes_deg": float(d["corpus_rotation_deg"].mean()),
            "rotation_source_axes_deg": float(d["source_rotation_deg"].mean()),
            "observable_rotation_corpus_axes_deg": float(d["corpus_rotation_deg"][:, obs].mean()),
            "pase_mpjpe_mm": float(pase_s.mean()), "pase_mpjpe_max_mm": float(pase_s.max()),
        }
        per_source[source] = row
        print(f"{source:<12}{row['clips']:>6}{row['frames']:>8}{row['mpjpe_mm']:>10.1e}{row['mpjpe_max_mm']:>8.0e}"
              f"{row['rotation_deg']:>13.2f}{row['rotation_corpus_axes_deg']:>12.2f}"
              f"{row['rotation_source_axes_deg']:>12.2f}{row['observable_rotation_corpus_axes_deg']:>12.2f}"
              f"{row['pase_mpjpe_mm']:>9.2f}{row['pase_mpjpe_max_mm']:>7.1f}")
    print()
    pase_per_joint = pase_mm.mean(axis=0)
    worst = np.argsort(pase_per_joint)[::-1][:5]
    print(f"PASE skeleton (estimated from the joints, left/right pooled) round trip: MPJPE {pase_mm.mean():.2f} mm "
          f"(median {np.median(pase_mm):.2f}, p95 {np.percentile(pase_mm, 95):.2f}, max {pase_mm.max():.1f}); "
          "worst joints " + ", ".join(f"{JOINT_NAMES[j]} {pase_per_joint[j]:.1f}" for j in worst))

    fps = big_fps = None
    batched_frames = 0
    if not args.skip_speed:
        joints = np.concatenate([m.joint_positions() for _, _, m in test])
        fps, big_fps, batched_frames = speed(joints, test[0][2].skeleton)
        print(f"speed (one thread, best of {REPEATS}): {fps:,.0f} frames/s on {batched_frames} test frames in "
              f"{BATCH:,}-frame batches; {big_fps:,.0f} frames/s for {BIG_BATCH:,} frames in one call "
              f"(target {TARGET_FPS:,})")

    d, c = summary["default"], summary["corpus"]
    targets_met = {
        "mpjpe": d["mpjpe_mm"] <= TARGET_MPJPE_MM and c["mpjpe_mm"] <= TARGET_MPJPE_MM,
        "rotation_default_axes": d["rotation_deg"]["mean"] <= TARGET_ROTATION_DEG,
        "rotation_corpus_axes": c["rotation_deg"]["mean"] <= TARGET_ROTATION_DEG,
        "observable_rotation_corpus_axes": c["observable_rotation_deg"]["mean"] <= TARGET_ROTATION_DEG,
        "speed": None if fps is None else bool(fps >= TARGET_FPS),
    }
    print("targets: " + ", ".join(f"{k} {'met' if v else ('skipped' if v is None else 'MISSED')}"
                                  for k, v in targets_met.items()))
    print(f"({time.perf_counter() - started:.0f} s)")
    result = {
        "benchmark": "ik",
        "clips": len(test), "frames": int(frames), "ground_truth": origin, "train_clips_for_axes": len(train),
        "frames_per_second": None if fps is None else round(fps),
        "frames_per_second_100k_one_call": None if big_fps is None else round(big_fps),
        "roundtrip_mpjpe_mm": d["mpjpe_mm"], "roundtrip_mpjpe_max_mm": d["mpjpe_max_mm"],
        "roundtrip_mpjpe_corpus_axes_mm": c["mpjpe_mm"],
        "bone_direction_error_deg": d["bone_direction_deg"]["mean"],
        "bone_direction_error_max_deg": d["bone_direction_deg"]["max"],
        "rotation_error_deg": d["rotation_deg"]["mean"],
        "rotation_error_median_deg": d["rotation_deg"]["median"],
        "rotation_error_corpus_axes_deg": c["rotation_deg"]["mean"],
        "rotation_error_source_axes_deg": summary["source"]["rotation_deg"]["mean"],
        "observable_rotation_error_deg": d["observable_rotation_deg"]["mean"],
        "observable_rotation_error_corpus_axes_deg": c["observable_rotation_deg"]["mean"],
        "unobservable_twist_error_deg": d["unobservable_twist_deg"]["mean"],
        "unobservable_twist_error_corpus_axes_deg": c["unobservable_twist_deg"]["mean"],
        "leaf_direction_error_deg": d["leaf_direction_deg"]["mean"],
        "pase_roundtrip_mpjpe_mm": float(pase_mm.mean()), "pase_roundtrip_mpjpe_max_mm": float(pase_mm.max()),
        "corpus_hinge_axes": {k: [round(x, 4) for x in v] for k, v in pooled_axes.items()},
        "summary": summary, "per_joint": per_joint, "per_source": per_source, "by_limb_bend_corpus_axes": by_bend,
        "targets": {"mpjpe_mm": TARGET_MPJPE_MM, "rotation_deg": TARGET_ROTATION_DEG, "frames_per_second": TARGET_FPS},
        "targets_met": targets_met, "threads": 1,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
