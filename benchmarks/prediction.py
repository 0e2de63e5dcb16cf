"""Motion prediction and gap filling (issue 7): accuracy on CMU-Mocap and the corpus, and speed.

1. **CMU-Mocap prediction** (``training/cmu_benchmark.py`` for the protocol): 10 frames in, 25 out,
   MPJPE in the benchmark's own units and frame convention at 80 / 160 / 320 / 400 / 560 / 1000 ms,
   per action and averaged over the 6 test actions present, with all test windows (the setting
   of the published PGBIG / KSOF tables) and with LTD's 8 windows per action; published numbers
   beside. The committed weights are ``benchmarks/weights/cmu_prediction*.npz`` (their predictions,
   and those of the mirrored input, are averaged).
2. **Gap filling** on the corpus's test split: holes of 0.25, 0.5 and 1 s cut into every clip at
   fixed places (one every ``--spacing`` seconds, at least one second from the ends), filled with
   the shipped gap filler and with slerp; MPJPE over the filled frames (mm) and the jump in joint
   velocity at the seams (m/s, the truth's own value beside it). Also "forward only": the same
   network when the frames after the hole are not known (live use), and both without the network
   ("bridge_only": the velocity-matched bridge alone).
3. **Speed** on one core (one BLAS thread): CMU predictions per second at batch 1 of the ensemble
   behind the accuracy table (``predictions_per_second_batch1``: every network on the input and its
   mirror image, averaged; target: at least siMLPe's own loop, about 100/s on this machine), one
   network alone at batches of 1 and 256, and filled gaps per second.

Targets: below KSOF at every horizon it reports; gap filling at least 30 % below slerp at 0.5 s.
The last stdout line is JSON with ``cmu_mpjpe_mm`` (6 horizons, mean over the available actions)
and ``gap_fill_vs_slerp_0_5s`` (our error / slerp's).

    python benchmarks/prediction.py [--data ../shared/data/cmu_expmap] [--corpus build/corpus]

Comparing gap-filler weights (a candidate against the shipped one, checked on validation first):

    python benchmarks/prediction.py --gaps-only --split validation --gap-weights build/weights/exp/x.npz
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.gaps import seam_velocity_jump  # noqa: E402
from sparse_mocap_addon.inference.gap_fill import fill_motion_gaps  # noqa: E402
from sparse_mocap_addon.inference.motion_predictor import (BridgeOnly, GapFiller, load_motion_mlp,  # noqa: E402
                                                           shipped_gap_filler)
from training import cmu_benchmark as cb  # noqa: E402
from training.imu_dataset import CorpusMissingError, load_corpus  # noqa: E402
from training.train_prediction import ARCHITECTURE, numpy_predictor  # noqa: E402

CMU_WEIGHTS = sorted((ROOT / "benchmarks" / "weights").glob("cmu_prediction*.npz"))   # averaged
GAP_SECONDS = (0.25, 0.5, 1.0)


def cmu_figures(data: Path, weights: list) -> dict:
    models = [load_motion_mlp(path, ARCHITECTURE)[0] for path in weights]
    predict = numpy_predictor(models)
    out = {"weights": [str(Path(p).resolve().relative_to(ROOT)) if Path(p).resolve().is_relative_to(ROOT) else str(p)
                       for p in weights]}
    for sampling in ("all", "eight"):
        windows = cb.test_windows(data, sampling)
        out[sampling] = cb.evaluate(predict, windows)
    return out


def print_cmu(figures: dict) -> None:
    horizons = " ".join(f"{ms:>7d}" for ms in cb.HORIZONS_MS)
    for sampling, label in (("all", "all test windows"), ("eight", "8 windows per action, seed 1234567890")):
        report = figures[sampling]
        print(f"\nCMU-Mocap MPJPE (benchmark mm, 38-joint mean), {label}")
        print(f"{'action':<14}{horizons}  windows")
        for action, row in report["actions"].items():
            print(f"{action:<14}" + " ".join(f"{v:7.2f}" for v in row["mm"]) + f"  {row['windows']}")
        print(f"{'mean (ours)':<14}" + " ".join(f"{v:7.2f}" for v in report["mean_mm"]))
        print(f"{'25-joint mean':<14}" + " ".join(f"{v:7.2f}" for v in report["mean_mm_25_joints"]))
        if sampling == "all":
            for name, row in cb.PUBLISHED.items():
                print(f"{name + ' (8 act.)':<14}" + " ".join("      -" if v is None else f"{v:7.2f}" for v in row))
            print(f"published on the same {len(report['actions'])} actions:")
            for name, row in cb.published_on(list(report["actions"])).items():
                print(f"{name:<14}" + " ".join("      -" if v is None else f"{v:7.2f}" for v in row))


def gap_positions(num_frames: int, fps: float, gap: int, spacing_s: float) -> list:
    """Hole starts: one every ``spacing_s`` seconds, at least a second from either end."""
    margin = int(fps)
    starts = np.arange(margin, num_frames - margin - gap, int(spacing_s * fps))
    return [(int(s), int(s) + gap) for s in starts]


def gap_figures(corpus: Path, spacing_s: float, max_clips: int | None, *, split: str = "test",
                weights: Path | None = None) -> dict | None:
    """``weights``: a gap-filler file to measure instead of the shipped one."""
    try:
        motions = load_corpus(corpus, split)
    except CorpusMissingError as exc:
        print(f"gap filling skipped: {exc}")
        return None
    motions = motions[:max_clips] if max_clips else motions
    filler = GapFiller.load(weights) if weights else shipped_gap_filler()
    fillers = {"predictor": filler, "bridge_only": BridgeOnly(filler.model, filler.meta)}
    methods = ("slerp", "predictor", "bridge_only", "forward_only", "forward_only_bridge_only")
    figures = {}
    for seconds in GAP_SECONDS:
        sums = {k: [] for k in methods}
        seams = {k: [] for k in methods + ("truth",)}
        holes = 0
        for motion in motions:
            gap = int(round(seconds * motion.fps))
            gaps = gap_positions(motion.num_frames, motion.fps, gap, spacing_s)
            if not gaps:
                continue
            holes += len(gaps)
            missing = np.zeros(motion.num_frames, dtype=bool)
            for a, b in gaps:
                missing[a:b] = True
            truth = motion.joint_positions()
            seams["truth"].append(seam_velocity_jump(truth, gaps, motion.fps))
            for method in methods:
                network = fillers["bridge_only" if method.endswith("bridge_only") else "predictor"]
                if method.startswith("forward_only"):
                    filled = _forward_only(motion, gaps, network)
                else:
                    filled = fill_motion_gaps(motion, missing, method="slerp" if method == "slerp" else "predictor",
                                              max_gap_seconds=seconds + 0.01, predictor=network).motion
                positions = filled.joint_positions()
                sums[method].append(np.linalg.norm(positions - truth, axis=-1)[missing].mean(axis=-1))
                seams[method].append(seam_velocity_jump(positions, gaps, motion.fps))
        row = {"holes": holes}
        for method, errors in sums.items():
            row[f"{method}_mm"] = round(float(np.concatenate(errors).mean()) * 1000, 2)
        for method, jumps in seams.items():
            row[f"{method}_seam_jump_m_per_s"] = round(float(np.mean(jumps)), 3)
        row["predictor_vs_slerp"] = round(row["predictor_mm"] / row["slerp_mm"], 3)
        figures[f"{seconds:g}s"] = row
    figures["clips"] = len(motions)
    return figures


def _forward_only(motion, gaps, filler):
    """Each hole filled from the past alone (everything after the hole's start treated as unknown)."""
    from sparse_mocap_addon.inference.motion_predictor import predict_gaps

    result = motion
    for start, stop in gaps:
        cut = result.__class__(result.fps, result.rotations[:stop], result.translation[:stop], result.skeleton)
        filled = predict_gaps(cut, [(start, stop)], predictor=filler)
        rotations, translation = result.rotations.copy(), result.translation.copy()
        rotations[start:stop], translation[start:stop] = filled.rotations[start:stop], filled.translation[start:stop]
        result = result.__class__(result.fps, rotations, translation, result.skeleton)
    return result


def speed_figures(weights: list, repeats: int = 5) -> dict:
    """The ensemble of the accuracy table at batch 1 (``len(weights)`` networks x 2 mirror images;
    per-call median, best of ``repeats`` rounds of 40 calls: robust to a shared machine), then one
    network without mirror averaging at batches of 1 and 256 (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    ensemble = numpy_predictor([load_motion_mlp(path, ARCHITECTURE)[0] for path in weights])
    observed = rng.normal(size=(1, cb.INPUT_FRAMES, 75)) * 100
    ensemble(observed)
    per_call = min(float(np.median([_timed(ensemble, observed) for _ in range(40)])) for _ in range(repeats))
    out = {"predictions_per_second_batch1": round(1.0 / per_call, 1), "ensemble_networks": len(weights)}
    model, _ = load_motion_mlp(weights[0], ARCHITECTURE)
    predict = numpy_predictor(model, mirror_average=False)
    for batch in (1, 256):
        observed = rng.normal(size=(batch, cb.INPUT_FRAMES, 75)) * 100
        predict(observed)
        best = min(_timed(predict, observed) for _ in range(repeats))
        out[f"cmu_predictions_per_second_batch_{batch}"] = round(batch / best, 1)
    filler = shipped_gap_filler()
    from sparse_mocap_addon.core.body.demo import demo_motion
    motion = demo_motion(seconds=60.0)
    gaps = gap_positions(motion.num_frames, motion.fps, int(0.5 * motion.fps), 3.0)
    missing = np.zeros(motion.num_frames, dtype=bool)
    for a, b in gaps:
        missing[a:b] = True
    fill_motion_gaps(motion, missing, predictor=filler)
    best = min(_timed(lambda: fill_motion_gaps(motion, missing, predictor=filler)) for _ in range(repeats))
    out["gaps_filled_per_second_0_5s"] = round(len(gaps) / best, 1)
    return out


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cmu_expmap")
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus")
    parser.add_argument("--weights", type=Path, nargs="+", default=CMU_WEIGHTS,
                        help="CMU predictor weight files (their predictions are averaged)")
    parser.add_argument("--spacing", type=float, default=3.0, help="seconds between holes")
    parser.add_argument("--max-clips", type=int, default=None)
    parser.add_argument("--split", default="test", choices=("train", "validation", "test"),
                        help="corpus split the gap filling is measured on")
    parser.add_argument("--gap-weights", type=Path, default=None,
                        help="gap-filler weights to measure (default: the shipped ones)")
    parser.add_argument("--gaps-only", action="store_true", help="only the gap-filling figures (no CMU, no speed)")
    args = parser.parse_args(argv)
    if args.gap_weights is not None and not args.gap_weights.is_file():
        parser.error(f"--gap-weights {args.gap_weights} is not a file")
    result = {}
    if args.gaps_only:
        result["cmu_mpjpe_mm"] = None
    elif args.data.is_dir() and args.weights:
        cmu = cmu_figures(args.data, args.weights)
        print_cmu(cmu)
        result["cmu_mpjpe_mm"] = cmu["all"]["mean_mm"]
        result["cmu_mpjpe_mm_eight_windows"] = cmu["eight"]["mean_mm"]
        result["cmu_actions"] = {a: r["mm"] for a, r in cmu["all"]["actions"].items()}
        same = cb.published_on(list(cmu["all"]["actions"]))
        result["published_on_same_actions"] = same
        ksof = [v for v in cb.PUBLISHED["KSOF"] if v is not None]
        result["below_ksof_8_action_mean_at_every_reported_horizon"] = all(
            ours < theirs for ours, theirs in zip(result["cmu_mpjpe_mm"], ksof))
        result["below_ksof_estimate_on_same_actions"] = all(
            ours < theirs for ours, theirs in zip(result["cmu_mpjpe_mm"], same["KSOF (est.)"]) if theirs is not None)
    else:
        print(f"CMU-Mocap prediction skipped: {args.data} is not a folder (the shared data is absent)"
              if args.weights else "CMU-Mocap prediction skipped: no benchmarks/weights/cmu_prediction*.npz")
        result["cmu_mpjpe_mm"] = None
    gaps = gap_figures(args.corpus, args.spacing, args.max_clips, split=args.split, weights=args.gap_weights)
    if gaps:
        result["gap_weights"] = str(args.gap_weights) if args.gap_weights else "shipped"
        result["gap_split"] = args.split
        print(f"\nGap filling, corpus {args.split} split (MPJPE over the filled frames, mm; seam velocity jump, m/s)")
        for key, row in gaps.items():
            if key != "clips":
                print(f"  {key}: {json.dumps(row)}")
        result["gap_filling"] = gaps
        result["gap_fill_vs_slerp_0_5s"] = gaps["0.5s"]["predictor_vs_slerp"]
    else:
        result["gap_fill_vs_slerp_0_5s"] = None
    result["speed_one_core"] = speed_figures(args.weights) if args.weights and not args.gaps_only else None
    result["predictions_per_second_batch1"] = (result["speed_one_core"] or {}).get("predictions_per_second_batch1")
    if result["predictions_per_second_batch1"] is not None:
        print(f"\nSpeed, one core: the {len(args.weights)}-network ensemble (x 2 mirror images) at batch 1: "
              f"{result['predictions_per_second_batch1']:,.0f} predictions/s (target >= 100)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
