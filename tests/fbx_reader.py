"""Read an FBX file with ufbx (an independent reader, not Blender) into plain Python values.

The ufbx 0.0.5 bindings (the only release on PyPI) crash while tearing down their wrapper objects
(freeing a scene, iterating a node list twice, reading ``parent``). The reading itself is sound,
so it runs in a child Python process that prints the values as JSON and then leaves with
``os._exit`` before any teardown; the test process never holds a ufbx object.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

_CHILD = r"""
import json, os, sys
import ufbx

path, samples = sys.argv[1], json.loads(sys.argv[2])
scene = ufbx.load_file(path)
settings, anim = scene.settings, scene.anim
fps = float(settings.frames_per_second)
begin, end = float(anim.time_begin), float(anim.time_end)
nodes = list(scene.nodes)
out = {
    "unit_meters": float(settings.unit_meters),
    "up": settings.axes.up.name,
    "front": settings.axes.front.name,
    "fps": fps,
    "frames": int(round((end - begin) * fps)) + 1,
    "bones": [n.name for n in nodes if n.bone is not None],
    "depths": {n.name: int(n.node_depth) for n in nodes},
    "scales": {n.name: list(n.local_transform.scale) for n in nodes},
    "world_positions": [],
}
for name, frame in samples:
    evaluated = ufbx.evaluate_scene(scene, anim, begin + frame / fps)
    node = evaluated.find_node(name)
    if node is None:
        sys.stderr.write(f"{path}: no node named {name!r}\n")
        sys.stderr.flush()
        os._exit(3)
    out["world_positions"].append([name, frame, list(node.node_to_world.c3)])
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""


@dataclass
class FbxSummary:
    unit_meters: float
    up: str                 # ufbx CoordinateAxis name, e.g. "POSITIVE_Y"
    front: str
    fps: float
    frames: int
    bones: list
    depths: dict            # node name -> depth below the scene root
    scales: dict            # node name -> local scale (3,)
    world_positions: dict   # (node name, frame) -> (3,) world position in file units


def read_fbx(path, samples=()) -> FbxSummary:
    """``samples``: (node name, frame index) pairs whose world positions are wanted."""
    samples = [[str(name), int(frame)] for name, frame in samples]
    result = subprocess.run([sys.executable, "-c", _CHILD, str(path), json.dumps(samples)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"ufbx could not read {path}: {result.stderr.strip()[-500:]}")
    data = json.loads(result.stdout)
    data["scales"] = {k: np.array(v) for k, v in data["scales"].items()}
    data["world_positions"] = {(n, f): np.array(p) for n, f, p in data["world_positions"]}
    return FbxSummary(**data)
