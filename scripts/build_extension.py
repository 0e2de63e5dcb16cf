"""Build and validate the installable extension zip with Blender's own extension tool.

The tool (``blender_ext.py``) ships inside the bpy wheel; nothing here zips files by hand.

Two builds:

- the default: the add-on alone, one zip for every platform (no video import: its panel names what
  is missing);
- ``--video``: one zip per platform with the wheels the video path imports bundled the way Blender
  extensions carry them (``wheels = [...]`` and ``platforms = [...]`` in the manifest, built with
  ``--split-platforms``): MediaPipe 0.10.14 (its pose models are inside the wheel) and what
  ``mediapipe.python.solutions.pose`` imports (OpenCV headless, protobuf, absl-py, attrs,
  flatbuffers, matplotlib with its own dependencies), each at the version ``requirements.txt`` and
  ``scripts/setup.sh`` pin. numpy is not bundled: Blender ships it. The wheels are fetched with
  ``pip download`` from the package registry at build time (never at run time), per platform.

Usage: python scripts/build_extension.py [--output-dir dist] [--video [--platforms linux-x64 ...]]
(prints the zip paths last, one per line)
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "sparse_mocap_addon"
# Blender's platform names -> the wheel platform tags pip downloads for (Blender 4.2+ runs Python 3.11).
PLATFORMS = {
    "linux-x64": "manylinux2014_x86_64",
    "windows-x64": "win_amd64",
    "macos-arm64": "macosx_11_0_arm64",
    "macos-x64": "macosx_11_0_x86_64",
}
PYTHON_VERSION = "3.11"
# What the video path imports, besides mediapipe itself (installed without its declared
# dependencies: jax, jaxlib, sounddevice and opencv-contrib-python are never imported by it).
VIDEO_PACKAGES = ("opencv-python-headless", "protobuf", "absl-py", "attrs", "flatbuffers", "matplotlib")
# Blender ships these; a bundled copy would shadow Blender's own.
SHIPPED_WITH_BLENDER = ("numpy",)


def blender_ext_tool() -> Path:
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: the bpy module is not installed; run scripts/setup.sh first")
    bpy_dir = Path(next(iter(spec.submodule_search_locations)))
    tools = sorted(bpy_dir.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not tools:
        raise SystemExit(f"error: Blender's extension tool was not found under {bpy_dir}")
    return tools[-1]


def run_tool(*args: str) -> str:
    result = subprocess.run([sys.executable, str(blender_ext_tool()), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: blender_ext {args[0]} failed: {(result.stdout + result.stderr).strip()}")
    return result.stdout


def manifest_version(source: Path) -> str:
    manifest = (source / "blender_manifest.toml").read_text()
    return next(line.split("=")[1].strip().strip('"') for line in manifest.splitlines() if line.startswith("version"))


def build(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    run_tool("validate", str(SOURCE))
    zip_path = output_dir / f"sparse_mocap-{manifest_version(SOURCE)}.zip"
    run_tool("build", "--source-dir", str(SOURCE), "--output-filepath", str(zip_path))
    run_tool("validate", str(zip_path))
    return zip_path


# -- the video build ----------------------------------------------------------------------------------

def pinned_versions() -> dict:
    """Package -> version, as requirements.txt pins them and setup.sh installs mediapipe."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    mediapipe = re.search(r"--no-deps\s+mediapipe==([^\s]+)", (ROOT / "scripts" / "setup.sh").read_text())
    if mediapipe is None:
        raise SystemExit("error: scripts/setup.sh no longer installs mediapipe==<version> with --no-deps")
    pins["mediapipe"] = mediapipe.group(1)
    missing = [name for name in VIDEO_PACKAGES if name not in pins]
    if missing:
        raise SystemExit(f"error: requirements.txt pins no version of {', '.join(missing)}")
    return pins


def _pip_download(args: list, into: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--python-version", PYTHON_VERSION, "--dest", str(into), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"error: pip download {' '.join(args)} failed: {result.stderr.strip()[-800:]}")


def download_wheels(platforms, into: Path) -> list[Path]:
    """The video path's wheels for every platform in ``platforms`` (pure-Python ones once)."""
    pins = pinned_versions()
    for platform in platforms:
        tag = ["--platform", PLATFORMS[platform]]
        _pip_download([*tag, "--no-deps", f"mediapipe=={pins['mediapipe']}"], into)
        _pip_download([*tag, *(f"{name}=={pins[name]}" for name in VIDEO_PACKAGES)], into)
    wheels = sorted(into.glob("*.whl"))
    return [w for w in wheels if not w.name.lower().startswith(tuple(f"{n}-" for n in SHIPPED_WITH_BLENDER))]


def build_video(output_dir: Path, platforms) -> list[Path]:
    """One zip per platform, the video wheels inside (see the module docstring)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / "sparse_mocap"
        shutil.copytree(SOURCE, staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        wheel_dir = staged / "wheels"
        wheel_dir.mkdir()
        wheels = download_wheels(platforms, Path(folder) / "download")
        for wheel in wheels:
            shutil.copy2(wheel, wheel_dir / wheel.name)
        manifest = staged / "blender_manifest.toml"
        listed = ",\n".join(f'  "./wheels/{w.name}"' for w in wheels)
        text = manifest.read_text().replace(
            "\n[permissions]",
            f"\nplatforms = [{', '.join(repr(p).replace(chr(39), chr(34)) for p in platforms)}]\n"
            f"wheels = [\n{listed},\n]\n\n[permissions]")
        manifest.write_text(text)
        run_tool("validate", str(staged))
        out = run_tool("build", "--source-dir", str(staged), "--output-dir", str(output_dir), "--split-platforms")
    zips = sorted(output_dir.glob(f"sparse_mocap-{manifest_version(SOURCE)}-*.zip"))
    for zip_path in zips:
        run_tool("validate", str(zip_path))
    if not zips:
        raise SystemExit(f"error: blender_ext built no platform zip: {out.strip()}")
    return zips


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--video", action="store_true",
                        help="bundle the video path's wheels: one zip per platform (fetched with pip download)")
    parser.add_argument("--platforms", nargs="+", choices=sorted(PLATFORMS), default=sorted(PLATFORMS),
                        help="the platforms of a --video build (default: all four)")
    args = parser.parse_args(argv)
    if args.video:
        for zip_path in build_video(args.output_dir, args.platforms):
            print(zip_path)
    else:
        print(build(args.output_dir))


if __name__ == "__main__":
    main()
