"""Speed of read + retarget for a long BVH take (issue 3 target: at least 20,000 frames/s).

Measures, best of several runs, the time to read a BVH file and retarget it onto a personalised
SMPL-24 skeleton. The "long BVH" is every shared cgspeed/Poser-style CMU BVH take (cmu62,
cmu_misc_bvh, cmu_salsa) joined end to end into one file, written once to a temporary folder;
without the shared data it is a 20,000-frame demo walk written as BVH. The Character Creator rig
(cmu_bvh, 100 joints with fingers and twist bones) is reported on its own line: it carries three
times the channels per frame.

Last line: JSON with ``frames_per_second`` (the long BVH) and the per-file figures.

    .venv/bin/python benchmarks/retarget.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.mocap.formats.bvh import read_bvh, write_bvh  # noqa: E402
from sparse_mocap_addon.core.mocap.retarget import retarget  # noqa: E402
from sparse_mocap_addon.core.mocap.source import SourceMotion  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
REPEATS = 5


def _long_take(folder: Path) -> Path:
    """One long BVH: the shared takes of one rig joined, or a synthetic walk."""
    takes = sorted((DATA / "cmu62").glob("*.bvh*"))
    if takes:
        sources = [read_bvh(p) for p in takes]
        joined = SourceMotion(sources[0].skeleton, sources[0].fps,
                              np.concatenate([s.rotations for s in sources]),
                              np.concatenate([s.root_position for s in sources]), source="cmu62 joined")
        label = f"{len(takes)} cmu62 takes joined ({sources[0].skeleton.num_joints} joints)"
    else:
        walk = demo_motion(seconds=20000 / 60.0)
        joined = SourceMotion.from_motion(walk, "demo walk")
        label = "synthetic demo walk (SMPL-24 rig)"
    path = folder / "long.bvh"
    write_bvh(path, joined)
    return path, label


def _time(path: Path, skeleton) -> tuple[float, int]:
    best = np.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        source = read_bvh(path)
        retarget(source, skeleton)
        best = min(best, time.perf_counter() - start)
    return best, source.num_frames


def main() -> int:
    skeleton = skeleton_from_measurements(BodyMeasurements(height=1.75, sex="neutral"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        long_path, label = _long_take(Path(tmp))
        seconds, frames = _time(long_path, skeleton)
        fps = frames / seconds
        print(f"long BVH, {label}: {frames} frames in {seconds * 1000:.0f} ms = {fps:,.0f} frames/s")
    for name, pattern in (("cmu_salsa", "cmu_salsa/60_09*.bvh*"), ("cmu_misc_bvh", "cmu_misc_bvh/131_02*.bvh*"),
                          ("cmu_bvh (CC rig)", "cmu_bvh/005/005_01*.bvh*")):
        paths = sorted(DATA.glob(pattern))
        if paths:
            s, n = _time(paths[0], skeleton)
            results[name] = n / s
            print(f"{name} {paths[0].name}: {n} frames, {n / s:,.0f} frames/s")
    print(f"target 20,000 frames/s: {'met' if fps >= 20000 else 'MISSED'}")
    print(json.dumps({"frames_per_second": fps, "frames": frames, "file": label, "per_file": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
