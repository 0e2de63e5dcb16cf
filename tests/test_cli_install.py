"""`pip install .` gives the `sparse-mocap` command and an importable library, with every
sub-package and the shipped weights, usable from any folder (not only the repository root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")
pytest.importorskip("setuptools", reason="installing from the source tree needs setuptools")


def test_pip_install_gives_the_command_the_subpackages_and_the_weights(tmp_path):
    # A copy of what the build reads, so the build's own folders never land in the repository.
    source, target, elsewhere = tmp_path / "source", tmp_path / "target", tmp_path / "elsewhere"
    source.mkdir()
    elsewhere.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "sparse_mocap_addon", source / "sparse_mocap_addon",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr

    installed = target / "sparse_mocap_addon"
    shipped = sorted(p.relative_to(ROOT / "sparse_mocap_addon").as_posix()
                     for p in (ROOT / "sparse_mocap_addon").rglob("*")
                     if p.is_file() and p.suffix in (".py", ".npz", ".toml") and "__pycache__" not in p.parts)
    assert shipped and all((installed / name).is_file() for name in shipped), \
        [name for name in shipped if not (installed / name).is_file()]

    env = {**os.environ, "PYTHONPATH": str(target)}
    check = subprocess.run([sys.executable, "-c", "import sparse_mocap_addon.core.kinematics.motion, "
                            "sparse_mocap_addon.pipelines.imu as p; print(p.__file__)"], capture_output=True, text=True,
                           cwd=elsewhere,
                           env=env, timeout=120)
    assert check.returncode == 0 and check.stdout.strip().startswith(str(installed)), check.stderr
    fbx = elsewhere / "walk.fbx"
    run = subprocess.run([str(target / "bin" / "sparse-mocap"), "--demo", "--demo-seconds", "0.5", "--quiet",
                          "--fbx", "walk.fbx"], capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["walk.fbx"] and fbx.is_file()
