"""Build and validate the installable extension zip with Blender's own extension tool.

The tool (``blender_ext.py``) ships inside the bpy wheel; nothing here zips files by hand.
Usage: python scripts/build_extension.py [--output-dir dist]   (prints the zip's path last)
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "sparse_mocap_addon"


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


def build(output_dir: Path) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    run_tool("validate", str(SOURCE))
    manifest = (SOURCE / "blender_manifest.toml").read_text()
    version = next(line.split("=")[1].strip().strip('"') for line in manifest.splitlines()
                   if line.startswith("version"))
    zip_path = output_dir / f"sparse_mocap-{version}.zip"
    run_tool("build", "--source-dir", str(SOURCE), "--output-filepath", str(zip_path))
    run_tool("validate", str(zip_path))
    return zip_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    print(build(args.output_dir))


if __name__ == "__main__":
    main()
