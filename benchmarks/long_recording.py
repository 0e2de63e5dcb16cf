"""Memory and time of a long six-IMU recording through the CLI to FBX (issue 17, item 4).

The recording is real motion made long: the TransPose example (1,760 frames of a real Noitom
six-IMU recording, 60 fps, from ``../shared/data``) played forwards and backwards in turn until it
lasts ``--minutes`` (default 60: 216,000 frames), written as a TransPose-style ``.npz``
(``acc``, ``ori``, ``fps``) that ``--imu`` reads. Each measurement runs in a fresh subprocess, so its
peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own:

- **cli**: ``sparse_mocap_addon.cli.main(["--imu", FILE, "--fbx", OUT, "--quiet"])``, the user's
  command, timed whole: ``seconds`` and ``peak_rss_mb``.
- **stages**: the same calls the CLI makes, one stage at a time, with the seconds of each and the
  peak memory reached by its end: read (``read_imu``), calibrate (none for a recording already in
  the core frame, as this one is), reconstruct (``reconstruct_imu``, gap filling), bake (Blender's
  empty scene, the armature, ``bake_motion``) and export (``export_fbx``, Blender's FBX writer).

Targets (issue 17): a 1-hour recording in <= 1.5 GB peak and <= 2 minutes. Timings are wall clock
on a machine that may be shared: run it twice and report the range.
Prints a human summary to stderr and one JSON line last on stdout: ``frames``, ``seconds``,
``peak_rss_mb``, ``stages`` (seconds per stage) and ``stage_peak_rss_mb`` (peak by the stage's end).

    python benchmarks/long_recording.py [--minutes 60] [--skip-cli] [--skip-stages]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT.parent / "shared" / "data" / "imu_real" / "transpose_example"
FPS = 60.0
TARGET_PEAK_MB = 1500.0
TARGET_SECONDS = 120.0


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux). Linux carries
    the peak across fork and exec, so every worker is started by this script's small parent."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    """This process's resident memory now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_long_recording(path: Path, frames: int) -> Path:
    """The TransPose example, forwards then backwards in turn (no jump at the joins), cut to
    ``frames``, as a float32 .npz the IMU reader takes."""
    import numpy as np

    from sparse_mocap_addon.core.imu.formats import read_imu

    example = read_imu(EXAMPLE)
    index = np.arange(frames) % (2 * example.num_frames)
    index = np.where(index < example.num_frames, index, 2 * example.num_frames - 1 - index)
    np.savez(path, acc=example.acceleration[index].astype(np.float32),
             ori=example.orientation[index].astype(np.float32), fps=np.float64(FPS))
    return path


def write_worker(recording: str, frames: str) -> dict:
    write_long_recording(Path(recording), int(frames))
    return {"frames": int(frames)}


# The calls ``cli.main`` makes for ``--imu FILE --fbx OUT``, timed where they are looked up (the CLI
# imports them when it runs): (stage, module, function).
STAGE_CALLS = (
    ("read", "sparse_mocap_addon.blender.imu_solve", "read_recording"),
    ("calibrate", "sparse_mocap_addon.core.imu.calibration", "calibrate"),
    ("calibrate", "sparse_mocap_addon.core.imu.calibration", "apply_calibration"),
    ("reconstruct", "sparse_mocap_addon.pipelines.imu", "reconstruct_imu"),
    ("gap_fill", "sparse_mocap_addon.inference.gap_fill", "fill_reconstruction"),
    ("bake", "sparse_mocap_addon.blender.bake", "bake_motion"),
    ("export", "sparse_mocap_addon.blender.export", "export_fbx"),
)
STAGES = ("read", "calibrate", "reconstruct", "gap_fill", "blender_setup", "bake", "export")


def cli_worker(recording: str, fbx: str, simplify: str) -> dict:
    """``cli.main(["--imu", FILE, "--fbx", OUT, "--quiet"])`` with each stage's call timed, and the
    peak memory reached by its end (the CLI bakes a long take as samples, ``bake.keys_for``).
    ``simplify`` (a number, or "preset"): the FBX writer's ``bake_anim_simplify_factor`` instead of
    the exporter's own choice (an experiment)."""
    import importlib

    from sparse_mocap_addon import cli
    from sparse_mocap_addon.blender import export

    if simplify != "preset":
        export.LONG_TAKE_SIMPLIFY = float(simplify)
        for options in export.FBX_PRESETS.values():
            options["bake_anim_simplify_factor"] = float(simplify)

    seconds = dict.fromkeys(STAGES, 0.0)
    peaks, before = {}, {}

    def timed(stage, function):
        def call(*args, **kwargs):
            before.setdefault(stage, round(rss_mb(), 1))
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - started
                peaks[stage] = round(peak_rss_mb(), 1)
        return call

    for stage, module, name in STAGE_CALLS:
        owner = importlib.import_module(module)
        setattr(owner, name, timed(stage, getattr(owner, name)))
    started = time.perf_counter()
    status = cli.main(["--imu", recording, "--fbx", fbx, "--quiet"])
    total = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"the CLI failed with status {status}")
    # Blender's start, the empty scene and the armature: the time between the reconstruction and the bake.
    seconds["blender_setup"] = total - sum(seconds.values())
    return {"seconds": round(total, 2), "peak_rss_mb": round(peak_rss_mb(), 1),
            "stages": {k: round(v, 2) for k, v in seconds.items()}, "stage_peak_rss_mb": peaks,
            "stage_start_rss_mb": before, "fbx_simplify": simplify,
            "fbx_writer_mb": round(peaks["export"] - before["export"], 1),
            "fbx_mb": round(Path(fbx).stat().st_size / 2**20, 1)}


def run_worker(kind: str, *values) -> dict:
    """One worker in a fresh interpreter; its last stdout line is its JSON."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, __file__, f"--{kind}-worker", *map(str, values)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"the {kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(label: str, run: dict) -> None:
    print(f"  {label}: {run['seconds']:.1f} s (target <= {TARGET_SECONDS:g}), peak {run['peak_rss_mb']:.0f} MB (target <= "
          f"{TARGET_PEAK_MB:g})"
          + ("" if run["fbx_simplify"] == "preset" else f"; FBX simplify factor {run['fbx_simplify']}"), file=sys.stderr)
    for stage, seconds in run["stages"].items():
        peak = run["stage_peak_rss_mb"].get(stage)
        print(f"    {stage:<14} {seconds:7.2f} s" + (f"   peak by its end {peak:7.0f} MB" if peak else ""), file=sys.stderr)
    print(f"    Blender's FBX writer took {run['fbx_writer_mb']:.0f} MB over what was held before it", file=sys.stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--fbx-simplify", default="preset",
                        help="an experiment: the FBX writer's bake_anim_simplify_factor (default: the exporter's "
                             "choice, 0.001 for a long take)")
    parser.add_argument("--cli-worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--write-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for kind, worker in (("cli", cli_worker), ("write", write_worker)):
        values = getattr(args, f"{kind}_worker")
        if values:
            print(json.dumps(worker(*values)))
            return 0
    if not EXAMPLE.is_dir():
        print(f"skipped: the TransPose example is not in {EXAMPLE}", file=sys.stderr)
        return 0

    frames = int(round(args.minutes * 60 * FPS))
    result = {"frames": frames, "minutes": args.minutes}
    with tempfile.TemporaryDirectory(prefix="long_recording_") as folder:
        recording, fbx = Path(folder) / "long.npz", Path(folder) / "long.fbx"
        run_worker("write", recording, frames)
        result.update(run_worker("cli", recording, fbx, args.fbx_simplify))
    print(f"{frames} frames ({args.minutes:g} min at {FPS:g} fps) of the TransPose example, through the CLI to FBX:",
          file=sys.stderr)
    summary("the CLI", result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
