"""Speed of the tracker solvers (issue 6) on one core: offline frames per second and streamed
milliseconds per frame, from the committed weights.

Input: clean virtual trackers on the corpus's test clips (or, without the corpus, the built-in
demo walk repeated), joint-level targets at 60 fps.

- **offline** (``solve_targets``: the plausibility check, network, guessed targets and foot
  planting (three-point), analytic IK, the feet stage; whole clips in one call): frames per second,
  best of ``--repeats`` over all the frames, with the offline (bidirectional) model as the pipeline
  runs it by default (mirror-averaged: the network on the targets and on their mirror image), run
  once (``mirror_average=False``) and with the causal model (``offline_model=False``);
- **stream** (``TrackerStream.step``, one frame at a time, everything between a frame of tracker
  samples in and the local rotations + root position out: the plausibility check, the network step
  (features, recurrent layers, decoding), guessed pelvis/feet and their foot planting
  (three-point), the analytic IK (spine, collars, limbs), quaternions; not the offline-only feet
  stage and smoothing, nor any Blender work): median and 99th-percentile milliseconds per frame
  (after 30 warm-up frames), and the network step alone;
- the analytic six-point IK alone, offline.

Single BLAS thread (the targets are for one core). Targets (issue 16): >= 12,000 frames/s offline,
a median <= 1 ms and a 99th percentile <= 2 ms per streamed frame, for either solver. Wall-clock
times: on a machine busy with other work they are slower (compare within one run). The last
stdout line is JSON with ``six_point`` and ``three_point``, each holding
``offline_frames_per_second``, ``stream_ms_per_frame`` (median) and ``stream_p99_ms``.

    python benchmarks/tracker_speed.py [--corpus build/corpus] [--frames 20000] [--stream-frames 600]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.trackers.synth import default_mountings, joint_targets, virtual_trackers  # noqa: E402
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, THREE_POINT  # noqa: E402
from sparse_mocap_addon.pipelines.trackers import (TrackerSolveOptions, TrackerStream, load_tracker_poser,  # noqa: E402
                                                   solve_targets)
from training.imu_dataset import CorpusMissingError, load_corpus  # noqa: E402

TARGETS = {"offline_frames_per_second": 12000.0, "stream_ms_per_frame": 1.0, "stream_p99_ms": 2.0}
NAMES = {"six_point": SIX_POINT, "three_point": THREE_POINT, "analytic": SIX_POINT}


def clips(corpus: str, frames: int):
    try:
        motions = load_corpus(corpus, "test")
        source = "corpus test split"
    except CorpusMissingError:
        motions = [demo_motion(seconds=20.0)]
        source = "demo walk (no corpus)"
    out, total = [], 0
    while total < frames:
        for m in motions:
            out.append(m)
            total += m.num_frames
            if total >= frames:
                break
    return out, source


def targets_of(motion, names) -> dict:
    mountings = default_mountings(motion.skeleton, names)
    return joint_targets(virtual_trackers(motion, names, mountings), mountings)


def offline_fps(prepared, mode: str, repeats: int, offline_model: bool = True, mirror_average: bool = True) -> float:
    options = TrackerSolveOptions(mode=mode, offline_model=offline_model, mirror_average=mirror_average)
    frames = sum(len(t["head"][0]) for t, _ in prepared)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for targets, skeleton in prepared:
            solve_targets(targets, skeleton, 60.0, options)
        best = min(best, time.perf_counter() - start)
    return frames / best


def stream_ms(motion, names, mode: str, frames: int, warmup: int = 30) -> tuple[float, float, float, float]:
    """(median ms per TrackerStream.step, its 99th percentile, median ms per network step alone,
    its 99th percentile)."""
    targets = targets_of(motion, names)
    pos = np.stack([targets[n][0] for n in names], axis=1)
    rot = np.stack([targets[n][1] for n in names], axis=1)
    frames = min(frames, len(pos))
    stream = TrackerStream(motion.skeleton, names, TrackerSolveOptions(mode=mode))
    times = []
    for t in range(frames):
        start = time.perf_counter()
        stream.step(pos[t], rot[t])
        times.append(time.perf_counter() - start)
    net = [float("nan")]
    if mode != "analytic":
        stepper = load_tracker_poser(mode).stream(motion.skeleton)
        valid = np.ones(len(names), bool)
        net = []
        for t in range(frames):
            start = time.perf_counter()
            stepper.step(pos[t], rot[t], valid)
            net.append(time.perf_counter() - start)
        net = net[warmup:]
    ms = 1000 * np.asarray(times[warmup:])
    net_ms = 1000 * np.asarray(net)
    return (float(np.median(ms)), float(np.percentile(ms, 99)), float(np.median(net_ms)),
            float(np.percentile(net_ms, 99)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="build/corpus")
    parser.add_argument("--frames", type=int, default=20000, help="offline frames timed")
    parser.add_argument("--stream-frames", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    motions, source = clips(args.corpus, args.frames)
    longest = max(motions, key=lambda m: m.num_frames)
    print(f"input: {source}, {sum(m.num_frames for m in motions)} frames offline, stream on a "
          f"{longest.num_frames}-frame clip")
    result = {}
    for mode in ("six_point", "three_point", "analytic"):
        names = NAMES[mode]
        prepared = [(targets_of(m, names), m.skeleton) for m in motions]
        fps = offline_fps(prepared, mode, args.repeats)
        # The offline model run once (no mirror image), and the causal model offline too
        # (offline_model=False: what the stream runs, in whole clips).
        once = offline_fps(prepared, mode, args.repeats, mirror_average=False) if mode != "analytic" else None
        causal = offline_fps(prepared, mode, args.repeats, offline_model=False) if mode != "analytic" else None
        ms, p99, net_ms, net_p99 = stream_ms(longest, names, mode, args.stream_frames)
        result[mode] = {"offline_frames_per_second": round(fps, 1),
                        "offline_once_frames_per_second": None if once is None else round(once, 1),
                        "offline_causal_frames_per_second": None if causal is None else round(causal, 1),
                        "stream_ms_per_frame": round(ms, 3),
                        "stream_p99_ms": round(p99, 3),
                        "stream_network_ms_per_frame": None if np.isnan(net_ms) else round(net_ms, 3),
                        "stream_network_p99_ms": None if np.isnan(net_p99) else round(net_p99, 3)}
        causal_text = "" if causal is None else f" ({once:,.0f} run once, {causal:,.0f} with the causal model)"
        print(f"{mode:<12} offline {fps:>9,.0f} frames/s{causal_text}   stream {ms:6.3f} ms/frame median, "
              f"{p99:6.3f} p99   (network step {net_ms:.3f} ms median, {net_p99:.3f} p99)")
    gaps = {mode: {key: round(result[mode][key] - target, 3) for key, target in TARGETS.items()}
            for mode in ("six_point", "three_point")}
    print("gap to targets (fps: surplus if positive; ms: over if positive):", gaps)
    print(json.dumps({**result, "targets": TARGETS, "gaps": gaps, "input": source}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
