"""What the CLI tests share: the FBX file's takes read by ufbx (an independent reader, not Blender)
and one check that an output opens as the take it should be."""

from __future__ import annotations

import json
import subprocess
import sys

from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES

from .fbx_reader import read_fbx

# ufbx in a child process that leaves with os._exit (see fbx_reader.py for why).
_TAKES = r"""
import json, os, sys
import ufbx
scene = ufbx.load_file(sys.argv[1])
sys.stdout.write(json.dumps([stack.name for stack in scene.anim_stacks]))
sys.stdout.flush()
os._exit(0)
"""


def fbx_takes(path) -> list[str]:
    """The names of the FBX file's takes (animation stacks), as ufbx reads them."""
    result = subprocess.run([sys.executable, "-c", _TAKES, str(path)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"ufbx could not read {path}: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout)


def check_fbx(path, take: str, frames: int | None = None, fps: float | None = None):
    """Assert that ``path`` opens in ufbx as one take named ``take`` on the SMPL bones (with
    ``frames`` frames at ``fps`` when given); returns ufbx's summary."""
    summary = read_fbx(path)
    assert fbx_takes(path) == [take]
    assert set(JOINT_NAMES) <= set(summary.bones)     # (the Unreal preset adds a root bone)
    if frames is not None:
        assert summary.frames == frames
    if fps is not None:
        assert abs(summary.fps - fps) < 1e-6
    return summary


def only_paths(result, *paths) -> None:
    """The CLI's stdout is exactly the paths written, one a line (Blender's chatter went to stderr)."""
    assert result.stdout.splitlines() == [str(p) for p in paths], result.stdout
