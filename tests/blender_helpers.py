"""Helpers shared by the Blender operator tests (real bpy module): import after
``pytest.importorskip("bpy")``."""

from __future__ import annotations

import bpy
import numpy as np

from sparse_mocap_addon.blender import compat


def counts():
    """How many objects, armatures, meshes and actions the file holds (nothing left behind: unchanged)."""
    return {kind: len(getattr(bpy.data, kind)) for kind in ("objects", "armatures", "meshes", "actions")}


def key_frames(obj, data_path="location", index=0):
    """(frames, values) of the keys on ``obj``'s F-curve ``data_path[index]``."""
    curve = next(c for c in compat.action_fcurves(obj) if c.data_path == data_path and c.array_index == index)
    co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
    curve.keyframe_points.foreach_get("co", co)
    return co[0::2], co[1::2]


def select_only(*objects, active):
    """Select exactly ``objects``, with ``active`` the active object."""
    for obj in bpy.context.selected_objects:
        obj.select_set(False)
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = active


def fail_after(monkeypatch, module, name, message):
    """Patch ``module.name`` to do its work and then raise ``ValueError(message)`` (a failure halfway)."""
    real = getattr(module, name)

    def failing(*args, **kwargs):
        real(*args, **kwargs)
        raise ValueError(message)

    monkeypatch.setattr(module, name, failing)


def count_frame_changes():
    """A list that grows by one each time the scene changes frame (frame_set), and the handler to remove."""
    calls = []

    def handler(scene, *args):
        calls.append(scene.frame_current)

    bpy.app.handlers.frame_change_pre.append(handler)
    return calls, handler
