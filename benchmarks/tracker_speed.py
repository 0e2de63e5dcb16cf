"""Speed of the tracker solvers (issue 6) on one core: offline frames per second and streamed
milliseconds per frame, from the committed weights.

Input: clean virtual trackers on the corpus's test clips (or, without the corpus, the built-in
demo walk repeated), joint-level targets at 60 fps.

- **offline** (``solve_targets``: network + analytic IK + foot planting, whole clips in one call):
  frames per second, best of ``--repeats`` over all the frames;
- **stream** (``TrackerStream.step``, one frame at a time: network step, guessed targets, IK):
  median milliseconds per frame (after 30 warm-up frames), and the network step alone;
- the analytic six-point IK alone, offline.

Single BLAS thread (the targets are for one core). Targets (issue 6): >= 5,000 frames/s offline and
<= 1 ms per streamed frame for either solver. The last stdout line is JSON with ``six_point`` and
``three_point``, each holding ``offline_frames_per_second`` and ``stream_ms_per_frame``.

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

from sparse_mocap_addon.core.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.tracker_synth import default_mountings, joint_targets, virtual_trackers  # noqa: E402
from sparse_mocap_addon.core.trackers import SIX_POINT, THREE_POINT  # noqa: E402
from sparse_mocap_addon.inference.tracker_pipeline import (TrackerSolveOptions, TrackerStream,  # noqa: E402
                                                           load_tracker_poser, solve_targets)
from training.imu_dataset import CorpusMissingError, load_corpus  # noqa: E402

TARGETS = {"offline_frames_per_second": 5000.0, "stream_ms_per_frame": 1.0}
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


def offline_fps(prepared, mode: str, repeats: int) -> float:
    options = TrackerSolveOptions(mode=mode)
    frames = sum(len(t["head"][0]) for t, _ in prepared)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for targets, skeleton in prepared:
            solve_targets(targets, skeleton, 60.0, options)
        best = min(best, time.perf_counter() - start)
    return frames / best


def stream_ms(motion, names, mode: str, frames: int, warmup: int = 30) -> tuple[float, float]:
    """(median ms per TrackerStream.step, median ms per network step alone)."""
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
    net_ms = float("nan")
    if mode != "analytic":
        net = load_tracker_poser(mode).stream(motion.skeleton)
        valid = np.ones(len(names), bool)
        net_times = []
        for t in range(frames):
            start = time.perf_counter()
            net.step(pos[t], rot[t], valid)
            net_times.append(time.perf_counter() - start)
        net_ms = 1000 * float(np.median(net_times[warmup:]))
    return 1000 * float(np.median(times[warmup:])), net_ms


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
        ms, net_ms = stream_ms(longest, names, mode, args.stream_frames)
        result[mode] = {"offline_frames_per_second": round(fps, 1), "stream_ms_per_frame": round(ms, 3),
                        "stream_network_ms_per_frame": None if np.isnan(net_ms) else round(net_ms, 3)}
        print(f"{mode:<12} offline {fps:>9,.0f} frames/s   stream {ms:6.3f} ms/frame   (network step {net_ms:.3f} ms)")
    gaps = {mode: {"offline_frames_per_second": round(result[mode]["offline_frames_per_second"] - TARGETS[
        "offline_frames_per_second"], 1), "stream_ms_per_frame": round(result[mode]["stream_ms_per_frame"] - TARGETS[
            "stream_ms_per_frame"], 3)} for mode in ("six_point", "three_point")}
    print("gap to targets (fps: surplus if positive; ms: over if positive):", gaps)
    print(json.dumps({**result, "targets": TARGETS, "gaps": gaps, "input": source}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
