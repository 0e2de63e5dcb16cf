"""Building Blender data that several modules make: an armature's bones in Edit Mode, and a mesh
skinned to an armature (the default body, the user's SMPL body)."""

from __future__ import annotations

import contextlib

import bpy
import numpy as np

from .coords import core_to_blender_vectors


@contextlib.contextmanager
def editing_bones(context, obj):
    """``obj``'s edit bones, in Edit Mode for the duration of the ``with``; the previously active
    object (and its mode) comes back afterwards, whatever happens."""
    view_layer = context.view_layer
    previous_active = view_layer.objects.active
    previous_mode = previous_active.mode if previous_active else "OBJECT"
    if previous_active is not None and previous_mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        yield obj.data.edit_bones
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        if previous_active is not None and previous_active.name in view_layer.objects:
            view_layer.objects.active = previous_active
            if previous_mode != "OBJECT":
                bpy.ops.object.mode_set(mode=previous_mode)


def skinned_mesh(armature_obj, vertices: np.ndarray, faces, weights: np.ndarray, bone_names, collection=None):
    """A mesh object ``<armature>_body`` (``vertices`` in the core frame) parented to ``armature_obj``
    and deformed by it (an Armature modifier), one vertex group per bone of ``bone_names`` from the
    columns of ``weights`` (vertices, bones)."""
    mesh = bpy.data.meshes.new(armature_obj.name + "_body")
    faces = faces.tolist() if isinstance(faces, np.ndarray) else faces
    mesh.from_pydata(core_to_blender_vectors(vertices).tolist(), [], faces)
    mesh.shade_smooth()
    mesh.validate()
    mesh.update()
    body = bpy.data.objects.new(armature_obj.name + "_body", mesh)
    (collection or bpy.context.scene.collection).objects.link(body)
    body.parent = armature_obj
    for j, bone_name in enumerate(bone_names):
        group = body.vertex_groups.new(name=bone_name)
        members = np.flatnonzero(weights[:, j] > 0.0)
        # One call per distinct weight (a rigidly skinned body: one call per bone).
        values, which = np.unique(weights[members, j], return_inverse=True)
        for k, value in enumerate(values):
            group.add(members[which == k].tolist(), float(value), "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = armature_obj
    return body
