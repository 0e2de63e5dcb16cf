"""The dependency rule: core, inference and pipelines import neither bpy, mathutils nor torch, and core's
concerns import each other only downwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sparse_mocap_addon"


def test_core_inference_and_pipelines_import_without_blender_or_torch():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for layer in ("core", "inference", "pipelines") for p in (PACKAGE / layer).rglob("*.py")
    )
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m.removesuffix('.__init__'))\n"
        "bad = sorted(m for m in ('bpy', 'mathutils', 'bmesh', 'torch') if m in sys.modules)\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(modules) >= 6


def test_importing_the_package_does_not_load_blender():
    code = "import sys, sparse_mocap_addon; sys.exit('bpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_no_keyframe_insert_in_the_add_on():
    offenders = [str(p) for p in PACKAGE.rglob("*.py") if "keyframe_insert(" in p.read_text()]
    assert offenders == []
