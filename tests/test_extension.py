"""The installable extension: built and validated by Blender's own tool, installed, enabled, used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--output-dir", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def test_zip_holds_the_add_on_only(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert any(n.startswith("core/") for n in names) and any(n.startswith("operators/") for n in names)
    assert not [n for n in names if n.split("/")[0] in {"tests", "training", "benchmarks", "scripts"}]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_manifest_fields(extension_zip):
    import tomllib

    manifest = tomllib.loads(zipfile.ZipFile(extension_zip).read("blender_manifest.toml").decode())
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"] == "sparse_mocap"
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert manifest["permissions"]["files"]
    # Optional in the schema: no website until the project has one (never a placeholder address).
    assert "example" not in manifest.get("website", "") and "invalid" not in manifest.get("website", "")


_INSTALL_AND_USE = r"""
import json, sys
import bpy

zip_path = sys.argv[1]
report = {}
report["install"] = list(bpy.ops.extensions.package_install_files(
    filepath=zip_path, repo="user_default", enable_on_install=True))
module = "bl_ext.user_default.sparse_mocap"
report["enabled"] = module in bpy.context.preferences.addons
report["panel_tab"] = getattr(bpy.types, "SPARSE_MOCAP_PT_subject").bl_category
scene = bpy.context.scene
scene.sparse_mocap_new_subject.height = 1.64
report["operator"] = list(bpy.ops.sparse_mocap.create_armature())
obj = bpy.context.active_object
report["armature"] = [obj.name, obj.type, len(obj.data.bones), round(obj.sparse_mocap_subject.height, 4)]
report["bake"] = list(bpy.ops.sparse_mocap.bake_demo(seconds=1.0))
bpy.ops.preferences.addon_disable(module=module)
report["disabled"] = module not in bpy.context.preferences.addons
report["leftover_types"] = [n for n in dir(bpy.types) if n.startswith("SPARSE_MOCAP")]
report["leftover_props"] = hasattr(bpy.types.Object, "sparse_mocap_subject")
print("REPORT" + json.dumps(report))
"""


def test_install_enable_run_disable(extension_zip, tmp_path):
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, "-c", _INSTALL_AND_USE, str(extension_zip)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("REPORT"))
    report = json.loads(line[len("REPORT"):])
    assert report["install"] == ["FINISHED"]
    assert report["enabled"]
    assert report["panel_tab"] == "Sparse Mocap"
    assert report["operator"] == ["FINISHED"]
    assert report["armature"] == ["Subject", "ARMATURE", 24, 1.64]
    assert report["bake"] == ["FINISHED"]
    assert report["disabled"]
    assert report["leftover_types"] == []
    assert report["leftover_props"] is False
    installed = tmp_path / "blender_user" / "extensions" / "user_default" / "sparse_mocap"
    assert (installed / "blender_manifest.toml").is_file()


# The video build's wheels, installed by Blender into the extension's own site-packages, must be what
# the add-on imports: the venv's copies of the same packages are hidden from this process.
_VIDEO_FROM_EXTENSION = r"""
import importlib.abc, importlib.machinery, json, sys

BUNDLED = ("mediapipe", "cv2", "google", "absl", "attr", "attrs", "flatbuffers", "matplotlib")


class OnlyFromExtension(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in BUNDLED:
            return None
        for entry in (p for p in sys.path if "extensions" in p):
            spec = importlib.machinery.PathFinder.find_spec(name, [entry] if path is None else path)
            if spec is not None:
                return spec
        raise ImportError(name + " is not in the extension's own site-packages")


sys.meta_path.insert(0, OnlyFromExtension())
import bpy
import numpy as np

report = {"install": list(bpy.ops.extensions.package_install_files(
    filepath=sys.argv[1], repo="user_default", enable_on_install=True))}
import cv2, mediapipe
from mediapipe.python.solutions import pose
report["files"] = [mediapipe.__file__, cv2.__file__]
with pose.Pose(static_image_mode=True) as detector:
    detector.process(np.zeros((256, 256, 3), dtype=np.uint8))
report["ran"] = True
print("REPORT" + json.dumps(report))
"""


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64",
                    reason="the test installs the linux-x64 build of the video extension")
def test_the_video_build_carries_working_wheels(tmp_path):
    out = tmp_path / "dist"
    build = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--video",
                            "--platforms", "linux-x64", "--output-dir", str(out)], capture_output=True, text=True,
                           timeout=900)
    assert build.returncode == 0, build.stderr[-2000:]
    zip_path = Path(build.stdout.strip().splitlines()[-1])
    assert zip_path.name.endswith("linux_x64.zip")
    names = zipfile.ZipFile(zip_path).namelist()
    assert any(n.startswith("wheels/mediapipe-0.10.14") for n in names)
    assert not any(n.startswith("wheels/numpy-") for n in names)             # Blender ships numpy
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    result = subprocess.run([sys.executable, "-c", _VIDEO_FROM_EXTENSION, str(zip_path)], capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(next(l for l in result.stdout.splitlines() if l.startswith("REPORT"))[len("REPORT"):])
    assert report["install"] == ["FINISHED"] and report["ran"]
    assert all("blender_user/extensions" in path for path in report["files"])
