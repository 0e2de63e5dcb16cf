"""What the rendering scripts share: a scene frame rendered to an RGBA array, and an array saved as PNG,
both through Blender (no image library needed)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy
import numpy as np


def render_still(frame: int) -> np.ndarray:
    """The scene's camera view of ``frame``, (height, width, 4) floats, top row first."""
    bpy.context.scene.frame_set(frame)
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / f"{frame}.png")
        bpy.context.scene.render.filepath = path
        bpy.ops.render.render(write_still=True)
        image = bpy.data.images.load(path)
        width, height = image.size
        pixels = np.array(image.pixels[:], dtype=np.float32).reshape(height, width, 4)[::-1]
        bpy.data.images.remove(image)
    return pixels


def save_png(pixels: np.ndarray, out: Path) -> None:
    """(height, width, 3 or 4) floats in 0-1, top row first, written as a PNG."""
    height, width = pixels.shape[:2]
    if pixels.shape[2] == 3:
        pixels = np.concatenate([pixels, np.ones((height, width, 1), dtype=np.float32)], axis=2)
    image = bpy.data.images.new(Path(out).stem, width, height, alpha=True)
    image.pixels.foreach_set(np.ascontiguousarray(pixels[::-1], dtype=np.float32).ravel())
    image.filepath_raw = str(out)
    image.file_format = "PNG"
    image.save()
