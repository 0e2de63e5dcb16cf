#!/usr/bin/env bash
# Create .venv (Python 3.11, needed by the bpy 5.0.1 wheel) and install requirements.txt into it.
# Safe to run again: pip only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && \
     "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    python_bin=$candidate
    break
  fi
done
if [ -z "$python_bin" ]; then
  echo "error: Python 3.11 is required (the bpy 5.0.1 wheel is built for it)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python_bin --version)" >&2
  "$python_bin" -m venv .venv
fi
echo "setup: installing requirements.txt (bpy is about 375 MB the first time)" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# MediaPipe Pose without its declared dependencies (jax, jaxlib, sounddevice, opencv-contrib-python:
# unused by mediapipe.solutions.pose); what it does import is in requirements.txt.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps mediapipe==0.10.14
.venv/bin/python -c 'from mediapipe.python.solutions import pose; import cv2'
.venv/bin/python -c 'import bpy, ufbx, numpy; print("setup: ready, Blender", bpy.app.version_string, file=__import__("sys").stderr)'
