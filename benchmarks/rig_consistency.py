"""One motion whatever rig it came through, one body per performer, feet on the floor (issue 15).

Measured on the shared mocap data with the product's own readers and retargeter:

- **Same take, two rigs** (``SAME_TAKE_PAIRS``: every take the shared data holds on two rigs): both
  reads retargeted, resampled to 60 fps, aligned in time (the frame offset within +-1 s with the
  smallest median angle), then the angle between the two world directions of each of the 23 SMPL
  bones in every frame: median and 95th percentile over bones and frames. Twice: on one body (the
  1.75 m table skeleton: the motion alone) and on the skeletons the corpus gives each read (the
  performer's, pooled over their takes, ``--per-take`` for one skeleton per file as before issue 15).
  Also the stature each read gets (per take and pooled).
- **Twist by source**: per source, the median twist (degrees, about the joint's own bone: the
  first child's rest offset, the leaf tip for the head, hands and feet) of every joint's local
  rotation on the frames where the performer stands upright (straight vertical legs, upright
  trunk, hips slower than 0.5 m/s: knees bent less than 25 deg, legs and trunk within 20 and 25 deg
  of vertical); per joint the spread is the largest difference between sources;
  the worst joint is reported.
- **Performer stature, split half**: for every identified performer with at least 4 takes, the
  skeleton estimated from every other take (sorted by name) against the one from the rest; the
  largest stature difference (cm).
- **Feet** on every path (``benchmarks/feet_paths.py`` when present): deepest sole below the floor,
  highest contact foot above it, skating in contact.

Targets: same take median <= 3 deg, p95 <= 8 deg, stature within 1 cm; twist spread <= 5 deg for
every joint; split half <= 1 cm; feet: below <= 1 cm, float in contact <= 1 cm, skate <= 2 cm/s.

Prints tables and, last, one JSON line. Skips (exit 0 with a message) when the data is absent.

    .venv/bin/python benchmarks/rig_consistency.py [--data ../shared/data] [--max-takes N] [--skip-feet]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.kinematics.resample import resample_motion  # noqa: E402
from sparse_mocap_addon.core.mocap.retarget import retarget  # noqa: E402
from sparse_mocap_addon.core.mocap.rig_body import skeleton_from_rig  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import (JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS,  # noqa: E402
                                                         children)
from training.build_corpus import SOURCES, discover, read_take  # noqa: E402

try:                                   # one skeleton per performer (issue 15); absent before it
    from sparse_mocap_addon.core.mocap.rig_body import measure_take, performer_body
except ImportError:                    # pragma: no cover - the "before" figures
    measure_take = performer_body = None

J = JOINT_INDEX
FPS = 60.0
# (source, take name) pairs that are one CMU take read through two rigs. The first is named in the
# data's README; the second was found by frame count (310 frames at 120 fps) and checked by motion
# (limb directions 0.9 deg apart at offset 0, 13 deg or more at any other).
SAME_TAKE_PAIRS = (
    (("cmu_bvh", "001_01"), ("cmu_fbx", "01_01_cmu")),
    (("cmu_expmap", "train_walking_extra_walking_13"), ("cmu_fbx", "08_02_cmu")),
)
TARGETS = {"same_take_median_deg": 3.0, "same_take_p95_deg": 8.0, "same_take_stature_cm": 1.0,
           "twist_spread_deg": 5.0, "split_half_cm": 1.0}
MAX_OFFSET_S = 1.0


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _angle_deg(a, b):
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def bone_directions(motion) -> np.ndarray:
    p = motion.joint_positions()
    return _unit(p[:, 1:] - p[:, PARENTS[1:]])


def aligned_angles(a, b) -> tuple[np.ndarray, int]:
    """Angles (T, 23) between the bone directions of two 60 fps motions at the best frame offset."""
    da, db = bone_directions(a), bone_directions(b)
    best = None
    for offset in range(-int(MAX_OFFSET_S * FPS), int(MAX_OFFSET_S * FPS) + 1):
        x = da[max(offset, 0):]
        y = db[max(-offset, 0):]
        n = min(len(x), len(y))
        if n < FPS:
            continue
        angles = _angle_deg(x[:n], y[:n])
        score = float(np.median(angles))
        if best is None or score < best[0]:
            best = (score, offset, angles)
    return best[2], best[1]


def standing_frames(motion) -> np.ndarray:
    """Frames where the performer stands upright and still (SMPL joints)."""
    p = motion.joint_positions()
    up = np.array((0.0, 1.0, 0.0))
    ok = np.ones(len(p), dtype=bool)
    for side in ("left", "right"):
        hip, knee, ankle = (p[:, J[f"{side}_{n}"]] for n in ("hip", "knee", "ankle"))
        ok &= (_angle_deg(knee - hip, ankle - knee) < 25.0) & (_angle_deg(ankle - hip, -up) < 20.0)
    trunk = p[:, J["neck"]] - p[:, J["pelvis"]]
    ok &= _angle_deg(trunk, np.broadcast_to(up, trunk.shape)) < 25.0
    speed = np.linalg.norm(np.gradient(p[:, 0], axis=0), axis=-1) * motion.fps
    return np.flatnonzero(ok & (speed < 0.5))


def twist_axes(skeleton) -> np.ndarray:
    """(24, 3) unit bone axis of each joint in its own rest frame (first child, or leaf tip)."""
    axes = np.zeros((NUM_JOINTS, 3))
    for j in range(NUM_JOINTS):
        kids = children(j)
        if j == J["spine3"]:
            kids = [J["neck"]]
        vec = skeleton.offsets[kids[0]] if kids else skeleton.leaf_tip(j)
        axes[j] = vec / np.linalg.norm(vec)
    return axes


def twists_deg(motion, frames) -> np.ndarray:
    """(K, 24) twist of each joint's local rotation about its bone (degrees, -180..180)."""
    q = motion.rotations[frames]
    axes = twist_axes(motion.skeleton)
    along = np.einsum("kjc,jc->kj", q[..., 1:], axes)
    return np.degrees(2.0 * np.arctan2(along, q[..., 0]) + np.pi) % 360.0 - 180.0


def performer_skeletons(takes, per_take: bool, log) -> dict:
    """performer -> (Skeleton, per-take statures) over every take of each performer in ``takes``."""
    by_performer = defaultdict(list)
    for take in takes:
        by_performer[take.performer].append(take)
    result = {}
    for performer, group in sorted(by_performer.items()):
        if per_take or performer_body is None:
            result[performer] = None
            continue
        bodies = [measure_take(read_take(t)) for t in group]
        result[performer] = performer_body(bodies)[0]
        log(f"  performer {performer}: {len(group)} takes, stature {result[performer].stature():.3f} m")
    return result


def same_take(data: Path, per_take: bool, log) -> dict:
    takes = {(t.source, t.name): t for t in discover(data)}
    pairs = [(takes[a], takes[b]) for a, b in SAME_TAKE_PAIRS if a in takes and b in takes]
    involved = {t.performer for pair in pairs for t in pair}
    performers = performer_skeletons([t for t in takes.values() if t.performer in involved], per_take, log)
    table = skeleton_from_measurements(default_measurements("neutral", 1.75))
    rows, pooled = [], {"one_body": [], "corpus": []}
    for a, b in pairs:
        reads = []
        for take in (a, b):
            source = read_take(take)
            own, _ = skeleton_from_rig(source)
            corpus = performers.get(take.performer) or own
            reads.append({"take": take, "own_stature": own.stature(), "corpus_stature": corpus.stature(),
                          "one_body": resample_motion(retarget(source, table), FPS),
                          "corpus": resample_motion(retarget(source, corpus), FPS)})
        row = {"pair": [f"{t.source}/{t.name}" for t in (a, b)],
               "stature_per_take_cm": abs(reads[0]["own_stature"] - reads[1]["own_stature"]) * 100.0,
               "stature_corpus_cm": abs(reads[0]["corpus_stature"] - reads[1]["corpus_stature"]) * 100.0,
               "statures_per_take_m": [r["own_stature"] for r in reads],
               "statures_corpus_m": [r["corpus_stature"] for r in reads]}
        for body in ("one_body", "corpus"):
            angles, offset = aligned_angles(reads[0][body], reads[1][body])
            pooled[body].append(angles.ravel())
            row[body] = {"offset_frames": offset, "median_deg": float(np.median(angles)),
                         "p95_deg": float(np.percentile(angles, 95)),
                         "per_bone_median_deg": {JOINT_NAMES[j + 1]: round(float(np.median(angles[:, j])), 2)
                                                 for j in range(NUM_JOINTS - 1)}}
        rows.append(row)
    summary = {body: {"median_deg": float(np.median(np.concatenate(v))), "p95_deg": float(np.percentile(np.concatenate(v), 95))}
               for body, v in pooled.items() if v}
    return {"pairs": rows, "summary": summary,
            "stature_per_take_max_cm": max((r["stature_per_take_cm"] for r in rows), default=None),
            "stature_corpus_max_cm": max((r["stature_corpus_cm"] for r in rows), default=None)}


def twist_by_source(data: Path, max_takes: int | None, log) -> dict:
    medians, frames_used = {}, {}
    for source in SOURCES:
        takes = [t for t in discover(data, [source])]
        if max_takes is not None:
            takes = takes[::max(1, len(takes) // max_takes)][:max_takes]
        values = []
        for take in takes:
            src = read_take(take)
            motion = resample_motion(retarget(src, skeleton_from_rig(src)[0]), FPS)
            frames = standing_frames(motion)
            if len(frames):
                values.append(twists_deg(motion, frames))
        if not values:
            continue
        stacked = np.concatenate(values)
        medians[source] = np.median(stacked, axis=0)
        frames_used[source] = int(len(stacked))
        log(f"  twist: {source} {len(takes)} takes, {len(stacked)} standing frames")
    joints = [j for j in range(1, NUM_JOINTS)]
    spread = {JOINT_NAMES[j]: float(max(m[j] for m in medians.values()) - min(m[j] for m in medians.values()))
              for j in joints}
    worst = max(spread, key=spread.get)
    return {"standing_frames": frames_used, "median_by_source_deg": {s: {JOINT_NAMES[j]: round(float(m[j]), 2)
                                                                      for j in joints} for s, m in medians.items()},
            "spread_deg": spread, "worst_joint": worst, "worst_spread_deg": spread[worst]}


def split_half(data: Path, log) -> dict:
    by_performer = defaultdict(list)
    for take in discover(data):
        if take.source != "cmu_expmap":        # the benchmark's performers are not identified
            by_performer[take.performer].append(take)
    rows = {}
    for performer, takes in sorted(by_performer.items()):
        if len(takes) < 4:
            continue
        takes = sorted(takes, key=lambda t: t.name)
        statures = []
        for half in (takes[0::2], takes[1::2]):
            sources = [read_take(t) for t in half]
            if performer_body is not None:
                statures.append(performer_body([measure_take(s) for s in sources])[0].stature())
            else:                                # before issue 15: one skeleton per take
                statures.append(float(np.median([skeleton_from_rig(s)[0].stature() for s in sources])))
        per_take = [skeleton_from_rig(read_take(t))[0].stature() for t in takes] if performer_body is None else None
        rows[performer] = {"takes": len(takes), "statures_m": statures, "diff_cm": abs(statures[0] - statures[1]) * 100.0}
        if per_take is not None:
            rows[performer]["per_take_range_cm"] = (max(per_take) - min(per_take)) * 100.0
        log(f"  split half: {performer} {len(takes)} takes, {statures[0]:.3f} / {statures[1]:.3f} m")
    worst = max(rows, key=lambda k: rows[k]["diff_cm"]) if rows else None
    return {"performers": rows, "worst_performer": worst, "max_cm": rows[worst]["diff_cm"] if worst else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--max-takes", type=int, default=12, help="takes per source for the twist figures")
    parser.add_argument("--per-take", action="store_true", help="one skeleton per file (as before issue 15)")
    parser.add_argument("--skip-feet", action="store_true", help="retarget figures only")
    parser.add_argument("--max-clips", type=int, default=None, help="test clips per source for the feet paths")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"skipped: the shared data folder {args.data} is absent")
        return 0
    started = time.perf_counter()
    log = lambda *a: print(*a, file=sys.stderr)  # noqa: E731

    pairs = same_take(args.data, args.per_take, log)
    print("same take through two rigs (bone directions after time alignment, deg; statures m)")
    for row in pairs["pairs"]:
        print(f"  {row['pair'][0]} vs {row['pair'][1]}")
        for body in ("one_body", "corpus"):
            r = row[body]
            worst = sorted(r["per_bone_median_deg"].items(), key=lambda kv: -kv[1])[:4]
            print(f"    {body:<9} offset {r['offset_frames']:+d}  median {r['median_deg']:.2f}  p95 {r['p95_deg']:.2f}"
                  f"  worst bones " + ", ".join(f"{k} {v:.1f}" for k, v in worst))
        print(f"    stature per take {row['statures_per_take_m'][0]:.3f} / {row['statures_per_take_m'][1]:.3f}"
              f" (diff {row['stature_per_take_cm']:.1f} cm); corpus {row['statures_corpus_m'][0]:.3f} / "
              f"{row['statures_corpus_m'][1]:.3f} (diff {row['stature_corpus_cm']:.1f} cm)")
    for body, s in pairs["summary"].items():
        print(f"  all pairs, {body}: median {s['median_deg']:.2f} deg, p95 {s['p95_deg']:.2f} deg")

    twist = twist_by_source(args.data, args.max_takes, log)
    print("\nmedian twist on standing frames by source (deg), joints with the largest spread")
    sources = list(twist["median_by_source_deg"])
    print(f"  {'joint':<16}" + "".join(f"{s[:11]:>12}" for s in sources) + f"{'spread':>9}")
    for joint in sorted(twist["spread_deg"], key=lambda k: -twist["spread_deg"][k])[:10]:
        print(f"  {joint:<16}" + "".join(f"{twist['median_by_source_deg'][s][joint]:>12.1f}" for s in sources)
              + f"{twist['spread_deg'][joint]:>9.1f}")

    halves = split_half(args.data, log)
    print("\nperformer stature from two halves of their takes (m)")
    for performer, row in halves["performers"].items():
        extra = f", one skeleton per take ranges {row['per_take_range_cm']:.1f} cm" if "per_take_range_cm" in row else ""
        print(f"  {performer:<12} {row['takes']:>3} takes  {row['statures_m'][0]:.3f} / {row['statures_m'][1]:.3f}"
              f"  diff {row['diff_cm']:.2f} cm{extra}")

    feet = None
    if not args.skip_feet:
        try:
            from benchmarks.feet_paths import measure_paths
        except ImportError:
            log("feet: benchmarks/feet_paths.py is not there; skipped")
        else:
            feet = measure_paths(args.data, args.max_clips, log)

    if feet is not None:
        print("\nfeet per path after the feet stage (cm, cm, cm/s; the truth's contacts)")
        for path, figures in feet["paths"].items():
            if "after" in figures:
                a = figures["after"]
                print(f"  {path:<28} below floor {a['foot_below_floor_max_cm']:6.2f}  contact float "
                      f"{a['foot_float_in_contact_max_cm']:6.2f}  skate {a['foot_skate_cm_per_s']:6.2f}")

    corpus = pairs["summary"].get("corpus", {})
    result = {
        "benchmark": "rig_consistency",
        "skeletons": "one per take" if args.per_take or performer_body is None else "one per performer",
        "same_take_bone_direction_median_deg": corpus.get("median_deg"),
        "same_take_bone_direction_p95_deg": corpus.get("p95_deg"),
        "same_take_bone_direction_one_body_median_deg": pairs["summary"].get("one_body", {}).get("median_deg"),
        "same_take_bone_direction_one_body_p95_deg": pairs["summary"].get("one_body", {}).get("p95_deg"),
        "same_take_stature_diff_cm": pairs["stature_corpus_max_cm"],
        "same_take_stature_diff_per_take_cm": pairs["stature_per_take_max_cm"],
        "twist_median_spread_deg": twist["worst_spread_deg"], "twist_worst_joint": twist["worst_joint"],
        "performer_stature_split_half_cm": halves["max_cm"], "split_half_worst_performer": halves["worst_performer"],
        "same_take": pairs, "twist": twist, "split_half": halves,
        "targets": TARGETS, "seconds": round(time.perf_counter() - started, 1),
    }
    if feet is not None:
        # Headline: the worst path after the feet stage; per path below it (the truth's contacts).
        result.update(feet["worst"])
        result["feet_worst_path"] = feet["worst_path"]
        result["feet_per_path"] = {path: figures["after"] for path, figures in feet["paths"].items()
                                   if "after" in figures}
        result["feet"] = {k: v for k, v in feet.items() if k not in ("rows", "takes")}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
