"""Speed of the six-IMU poser's numpy runtime (``inference/imu_poser.py``) on one CPU core.

Offline: frames/s of ``ImuPoser.run`` on a long sequence (the network alone, in its default
batched lanes and, for comparison, sequentially with ``lanes=1``) and of the whole
``reconstruct_imu`` pipeline (features, network, sensor bones, smoothing, rotations, forward
kinematics, root translation, floor, feet stage), with the bidirectional offline model it runs by
default (mirror-averaged: the network runs twice, ``ImuSolveOptions.mirror_average``), with that
model run once (``mirror_average=False``) and with the causal one (``offline_model=False``, what
the stream runs). Streaming: milliseconds per frame of
``PoserStream.step`` (the network: one frame in, one pose out) and of ``ImuStream.step``, the whole
live loop per frame: holding dropped samples, features, the network step, sensor bones, the One
Euro filter, rotations, forward kinematics, the root tracker and the floor (median and 99th
percentile over the streamed frames). Inputs are the virtual sensors of the demo walk, tiled.
Targets (issue 16): the whole offline pipeline >= 12,000 frames/s; the live loop <= 1 ms per frame
median, p99 <= 2 ms. Timings are wall clock on one core: on a machine shared with other work they
are slower and noisier (best of ``--repeats`` offline; the percentiles include any preemption).
Last stdout line: JSON with ``offline_frames_per_second``, ``pipeline_frames_per_second``,
``stream_ms_per_frame`` and ``stream_pipeline_ms_per_frame`` (+ ``_p99``).

    python benchmarks/imu_speed.py [--frames 20000] [--stream-frames 2000] [--repeats 5] [--model full]
"""

from __future__ import annotations

import os

# One core: must be set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sparse_mocap_addon.core.body.measurements import BodyMeasurements  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.imu.recording import ImuRecording  # noqa: E402
from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, features, virtual_imus  # noqa: E402
from sparse_mocap_addon.pipelines.imu import ImuSolveOptions, ImuStream, reconstruct_imu  # noqa: E402
from sparse_mocap_addon.inference.imu_poser import LANES, ImuPoser, has_offline_model  # noqa: E402

MEASUREMENTS = BodyMeasurements(height=1.75, sex="male")


def tiled_recording(frames: int) -> ImuRecording:
    rec = corrupt(virtual_imus(demo_motion(seconds=10.0)), CorruptionModel(drop_rate=0.0), np.random.default_rng(0))
    reps = -(-frames // rec.num_frames)
    tile = lambda a: np.concatenate([a] * reps)[:frames]  # noqa: E731
    return ImuRecording(sensors=rec.sensors, orientation=tile(rec.orientation), acceleration=tile(rec.acceleration),
                        fps=rec.fps, valid=tile(rec.valid), world="core", source="demo walk (tiled)")


def best_seconds(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--stream-frames", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="full")
    args = parser.parse_args(argv)

    poser = ImuPoser.load(kind=args.model)                # causal: what the stream runs
    offline_poser = ImuPoser.load(kind=args.model, offline=True) if has_offline_model(args.model) else poser
    rec = tiled_recording(args.frames)
    x, valid = features(rec).astype(np.float32), rec.valid.astype(np.float32)
    poser.run(x[:200], valid[:200], MEASUREMENTS)                                   # warm-up
    net_s = best_seconds(lambda: poser.run(x, valid, MEASUREMENTS), args.repeats)
    sequential_s = best_seconds(lambda: poser.run(x, valid, MEASUREMENTS, lanes=1), args.repeats)
    offline_net_s = best_seconds(lambda: offline_poser.run(x, valid, MEASUREMENTS), args.repeats)
    options = ImuSolveOptions(model=args.model, offline_model=True)
    pipe_s = best_seconds(lambda: reconstruct_imu(rec, MEASUREMENTS, options, poser=offline_poser), args.repeats)
    once = replace(options, mirror_average=False)
    once_s = best_seconds(lambda: reconstruct_imu(rec, MEASUREMENTS, once, poser=offline_poser), args.repeats)
    causal = replace(options, offline_model=False)
    causal_s = best_seconds(lambda: reconstruct_imu(rec, MEASUREMENTS, causal, poser=poser), args.repeats)
    # Without the feet stage (issue 15): the pipeline the issue-16 baseline (4,600-6,800 frames/s) measured.
    no_feet = replace(causal, feet=replace(options.feet, enabled=False))
    no_feet_s = best_seconds(lambda: reconstruct_imu(rec, MEASUREMENTS, no_feet, poser=poser), args.repeats)

    stream = poser.stream(MEASUREMENTS)
    for t in range(50):                                                               # warm-up
        stream.step(x[t], valid[t])
    stream.reset()
    n = min(args.stream_frames, len(x))
    per_frame = np.empty(n)
    for t in range(n):
        t0 = time.perf_counter()
        stream.step(x[t], valid[t])
        per_frame[t] = time.perf_counter() - t0
    live = ImuStream(MEASUREMENTS, options, poser=poser)
    for t in range(50):                                                               # warm-up
        live.step(rec.orientation[t], rec.acceleration[t], rec.valid[t])
    live.reset()
    live_ms = np.empty(n)
    for t in range(n):
        t0 = time.perf_counter()
        live.step(rec.orientation[t], rec.acceleration[t], rec.valid[t])
        live_ms[t] = time.perf_counter() - t0

    offline_fps = args.frames / net_s
    sequential_fps = args.frames / sequential_s
    offline_model_fps = args.frames / offline_net_s
    pipeline_fps = args.frames / pipe_s
    once_fps = args.frames / once_s
    causal_fps = args.frames / causal_s
    no_feet_fps = args.frames / no_feet_s
    stream_ms = float(np.median(per_frame) * 1e3)
    stream_p99 = float(np.percentile(per_frame, 99) * 1e3)
    live_median, live_p99 = float(np.median(live_ms) * 1e3), float(np.percentile(live_ms, 99) * 1e3)
    rows = [
        (f"offline network ({LANES} lanes), frames/s", f"{offline_fps:,.0f}", ""),
        ("offline network, sequential (lanes=1), frames/s", f"{sequential_fps:,.0f}", ""),
        (f"offline network, {'bidirectional offline model' if offline_poser.bidirectional else 'same model'}, "
         "frames/s", f"{offline_model_fps:,.0f}", ""),
        ("offline whole pipeline (reconstruct_imu, offline model mirror-averaged: the default, feet stage included), "
         "frames/s", f"{pipeline_fps:,.0f}", ">= 12,000"),
        ("offline whole pipeline, offline model run once (mirror_average=False), frames/s", f"{once_fps:,.0f}", ">= 12,000"),
        ("offline whole pipeline, causal model (offline_model=False), frames/s", f"{causal_fps:,.0f}", ">= 12,000"),
        ("offline whole pipeline, causal model, without the feet stage, frames/s", f"{no_feet_fps:,.0f}", ""),
        ("stream network step, ms/frame (median)", f"{stream_ms:.3f}", ""),
        ("stream network step, ms/frame (p99)", f"{stream_p99:.3f}", ""),
        ("live loop (ImuStream.step, whole frame), ms/frame (median)", f"{live_median:.3f}", "<= 1"),
        ("live loop (ImuStream.step, whole frame), ms/frame (p99)", f"{live_p99:.3f}", "<= 2"),
    ]
    print(f"IMU poser '{args.model}' (hidden {poser.metadata['hyperparameters']['hidden']}), numpy {np.__version__}, "
          f"one core, {platform.processor() or platform.machine()}; {args.frames} frames offline, {n} streamed",
          file=sys.stderr)
    for name, value, target in rows:
        print(f"  {name:<100} {value:>10}  {target}", file=sys.stderr)
    print("  (live loop: held samples, features, network step, sensor bones, One Euro filter, rotations, FK, "
          "root tracker, floor)", file=sys.stderr)
    print(json.dumps({"offline_frames_per_second": round(offline_fps, 1), "stream_ms_per_frame": round(stream_ms, 4),
                      "offline_sequential_frames_per_second": round(sequential_fps, 1), "lanes": LANES,
                      "offline_model_network_frames_per_second": round(offline_model_fps, 1),
                      "offline_model": offline_poser.bidirectional,
                      "pipeline_frames_per_second": round(pipeline_fps, 1),
                      "pipeline_once_frames_per_second": round(once_fps, 1),
                      "pipeline_causal_frames_per_second": round(causal_fps, 1),
                      "pipeline_without_feet_stage_frames_per_second": round(no_feet_fps, 1),
                      "stream_ms_per_frame_p99": round(stream_p99, 4),
                      "stream_pipeline_ms_per_frame": round(live_median, 4),
                      "stream_pipeline_ms_per_frame_p99": round(live_p99, 4),
                      "model": args.model, "frames": args.frames}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
