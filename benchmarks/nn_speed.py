"""Speed of the numpy neural-network runtime (``inference/nn.py``) on one CPU core.

A 2-layer unidirectional LSTM (input 72, hidden 256, float32, random weights), and the same GRU:
offline frames/s over a 10,000-frame sequence (``forward``: sequential, and in ``--lanes`` batched
segments, ``forward(x, lanes=...)``, with the largest difference to the sequential output), and
streaming latency per frame (``step`` one frame at a time, state carried). ``--torch`` adds torch
(one thread) for comparison. Prints a table to stderr and, as the last stdout line, one JSON object.

    python benchmarks/nn_speed.py [--frames 10000] [--stream-frames 2000] [--repeats 3] [--lanes 8] [--torch]
"""

from __future__ import annotations

import os

# One core: must be set before numpy (or torch) is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from sparse_mocap_addon.inference.nn import GRU, LSTM  # noqa: E402

INPUT, HIDDEN, LAYERS = 72, 256, 2


def random_rnn_state_dict(gates: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """torch's default initialisation, U(-1/sqrt(H), 1/sqrt(H)), in torch's key layout."""
    bound = 1.0 / np.sqrt(HIDDEN)
    arrays = {}
    for layer in range(LAYERS):
        in_size = INPUT if layer == 0 else HIDDEN
        for name, shape in ((f"weight_ih_l{layer}", (gates * HIDDEN, in_size)),
                            (f"weight_hh_l{layer}", (gates * HIDDEN, HIDDEN)),
                            (f"bias_ih_l{layer}", (gates * HIDDEN,)), (f"bias_hh_l{layer}", (gates * HIDDEN,))):
            arrays[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return arrays


def time_offline(run, x, repeats: int) -> float:
    """Best seconds of ``repeats`` whole-sequence runs."""
    run(x[:100])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(x)
        best = min(best, time.perf_counter() - t0)
    return best


def time_stream(step, x) -> np.ndarray:
    """Seconds per streamed frame (state carried from frame to frame)."""
    state = None
    for t in range(min(50, len(x))):  # warm-up
        _, state = step(x[t], state)
    state = None
    times = np.empty(len(x))
    clock = time.perf_counter
    for t in range(len(x)):
        t0 = clock()
        _, state = step(x[t], state)
        times[t] = clock() - t0
    return times


def summarise(offline_s: float, frames: int, stream: np.ndarray, lanes_s: float | None = None,
              lanes_error: float | None = None) -> dict:
    lanes = {} if lanes_s is None else {"offline_lanes_frames_per_second": round(frames / lanes_s),
                                        "lanes_max_abs_difference": float(f"{lanes_error:.2e}")}
    return {
        "offline_frames_per_second": round(frames / offline_s), **lanes,
        "stream_ms_per_frame": round(float(stream.mean()) * 1e3, 4),
        "stream_ms_p50": round(float(np.percentile(stream, 50)) * 1e3, 4),
        "stream_ms_p99": round(float(np.percentile(stream, 99)) * 1e3, 4),
    }


def torch_rows(args, x, stream_x) -> dict:
    import torch

    torch.set_num_threads(1)
    rows = {}
    for kind in ("LSTM", "GRU"):
        module = getattr(torch.nn, kind)(INPUT, HIDDEN, LAYERS, batch_first=True).eval()
        xt = torch.from_numpy(x)
        with torch.no_grad():
            offline = time_offline(lambda s: module(s if isinstance(s, torch.Tensor) else torch.from_numpy(s)),
                                   xt, args.repeats)

            def step(frame, state):
                y, state = module(torch.from_numpy(frame)[None], state)
                return y, state

            stream = time_stream(step, stream_x)
        rows[f"torch_{kind.lower()}"] = summarise(offline, len(x), stream)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000, help="offline sequence length")
    parser.add_argument("--stream-frames", type=int, default=2_000, help="frames streamed one at a time")
    parser.add_argument("--repeats", type=int, default=3, help="offline runs (best is kept)")
    parser.add_argument("--lanes", type=int, default=8, help="batched segments of the offline lanes run")
    parser.add_argument("--torch", action="store_true", help="also time torch (one thread) for comparison")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.frames, INPUT)).astype(np.float32)
    stream_x = x[:args.stream_frames]
    rows = {}
    for name, klass, gates in (("lstm", LSTM, 4), ("gru", GRU, 3)):
        rnn = klass(random_rnn_state_dict(gates, rng))
        offline = time_offline(rnn.forward, x, args.repeats)
        laned = time_offline(lambda s: rnn.forward(s, lanes=args.lanes), x, args.repeats)
        error = float(np.abs(rnn.forward(x, lanes=args.lanes)[0] - rnn.forward(x)[0]).max())
        stream = time_stream(rnn.step, stream_x)
        rows[name] = summarise(offline, args.frames, stream, laned, error)
    if args.torch:
        rows.update(torch_rows(args, x, stream_x))

    header = (f"{'model':<12}{'offline frames/s':>18}{f'in {args.lanes} lanes':>14}{'stream ms/frame':>17}"
              f"{'p50 ms':>9}{'p99 ms':>9}")
    print(f"numpy runtime, {LAYERS}-layer unidirectional, input {INPUT}, hidden {HIDDEN}, float32, one thread; "
          f"offline over {args.frames} frames, streaming over {len(stream_x)} frames", file=sys.stderr)
    print(header, file=sys.stderr)
    for name, row in rows.items():
        laned = row.get("offline_lanes_frames_per_second")
        print(f"{name:<12}{row['offline_frames_per_second']:>18,}{'-' if laned is None else f'{laned:,}':>14}"
              f"{row['stream_ms_per_frame']:>17.4f}{row['stream_ms_p50']:>9.4f}{row['stream_ms_p99']:>9.4f}",
              file=sys.stderr)
    result = {
        "benchmark": "nn_speed",
        "layers": LAYERS, "input_size": INPUT, "hidden_size": HIDDEN, "dtype": "float32",
        "offline_frames": args.frames, "stream_frames": len(stream_x),
        **rows,
        "offline_frames_per_second": rows["lstm"]["offline_frames_per_second"],
        "offline_lanes_frames_per_second": rows["lstm"]["offline_lanes_frames_per_second"], "lanes": args.lanes,
        "stream_ms_per_frame": rows["lstm"]["stream_ms_per_frame"],
        "threads": 1,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
