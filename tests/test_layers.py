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


# What each of core's concerns may import besides itself: the basics below everything, the feet and
# body stages below the inputs, and no input concern importing another (LAYOUT: imports fall down).
ALLOWED_CORE_IMPORTS = {
    "io": set(),
    "kinematics": {"io"},
    "feet": {"io", "kinematics"},
    "body": {"io", "kinematics", "feet"},
    "gaps": {"io", "kinematics"},
    "mocap": {"io", "kinematics", "feet", "body"},
    "landmarks": {"io", "kinematics", "feet", "body"},
    "imu": {"io", "kinematics", "feet", "body"},
    "trackers": {"io", "kinematics", "feet", "body"},
}


def _core_imports(path: Path) -> set[str]:
    """The core concerns (first folder or module under core/) that ``path`` imports."""
    import ast

    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    package = ["sparse_mocap_addon", *parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = (package[:len(package) - node.level + 1] + (node.module or "").split(".")) if node.level \
                else node.module.split(".")
            base = [b for b in base if b]
            if base[:1] == ["sparse_mocap_addon"] and base[1:2] != ["core"]:
                found.add(base[1] if len(base) > 1 else "sparse_mocap_addon")
            elif base[:2] == ["sparse_mocap_addon", "core"] and len(base) > 2:
                found.add(base[2])
    return found


def test_core_concerns_import_only_downwards():
    offenders = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        concern = path.relative_to(PACKAGE / "core").with_suffix("").parts[0]
        if concern == "__init__":
            continue
        assert concern in ALLOWED_CORE_IMPORTS, f"{path}: core/{concern} is not a known concern; add it to the table"
        bad = _core_imports(path) - ALLOWED_CORE_IMPORTS[concern] - {concern}
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE)} imports {sorted(bad)}")
    assert offenders == []
