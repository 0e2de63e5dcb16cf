"""FBX (Unity and Unreal presets) and BVH export of a baked SMPL armature.

Both writers export to a temporary file beside the target and rename it at the end, so a failed
export never leaves a partial file and never destroys an existing one.

- Unity: metres, Y up, -Z forward axis setting (the character faces +Z, Unity's forward), scale
  applied to all so objects import with scale 1; no leaf bones; the active action baked per frame.
- Unreal: centimetres (the file's unit is cm and bones, mesh and keys are in cm, with scale 1 on
  every node, not a metre file under a x100 node), the same axes, and a ``root`` bone at the floor
  carrying the root motion (the pelvis's horizontal travel), with the pelvis keeping only its
  height and sway relative to it. The export works on temporary copies built in centimetres; the
  user's armature, meshes and action are left untouched. The armature object's own transform is
  not exported for Unreal: root motion is relative to the armature.
- BVH: Blender's own BVH exporter on the active action.

The FBX file's take (its animation stack) is named after the exported action, the name a game
engine lists the clip under. Blender's exporter names it after the scene, so the scene carries the
action's name for the duration of the export.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..core.kinematics.skeleton import JOINT_NAMES
from . import compat
from .armature import is_smpl_armature, rest_frames
from .bake import LONG_TAKE_FRAMES, write_fcurve

ROOT_BONE = "root"

_COMMON_FBX = dict(
    use_selection=True,
    object_types={"ARMATURE", "MESH"},
    add_leaf_bones=False,
    axis_forward="-Z",
    axis_up="Y",
    primary_bone_axis="Y",
    secondary_bone_axis="X",
    use_armature_deform_only=False,
    bake_anim=True,
    bake_anim_use_all_bones=True,
    bake_anim_use_nla_strips=False,
    bake_anim_use_all_actions=False,
    bake_anim_force_startend_keying=True,
    bake_anim_step=1.0,
    bake_anim_simplify_factor=0.0,  # keep every frame: the animation is already clean mocap
    mesh_smooth_type="FACE",
    path_mode="AUTO",
)

FBX_PRESETS = {
    "UNITY": dict(_COMMON_FBX, global_scale=1.0, apply_unit_scale=True, apply_scale_options="FBX_SCALE_ALL"),
    # Exported from a copy built in centimetres with the scene's unit scale at 0.01 for the
    # duration, so Blender writes UnitScaleFactor = 1 (cm) and no scale on any node.
    "UNREAL": dict(_COMMON_FBX, global_scale=1.0, apply_unit_scale=True, apply_scale_options="FBX_SCALE_ALL"),
}
# A take longer than this (frames) is written with the FBX writer's key reduction at
# LONG_TAKE_SIMPLIFY: about a third less of the writer's memory, every bone within 0.04 mm of the
# unreduced file (measured on a 10-minute take, benchmarks/long_recording.py --fbx-simplify).
LONG_TAKE_SIMPLIFY = 0.001
# Metres per exported unit, for readers and tests.
FBX_UNIT_METRES = {"UNITY": 1.0, "UNREAL": 0.01}


class ExportError(RuntimeError):
    """An export that could not be done; the message says why in one sentence."""


def export_fbx(obj, filepath, preset: str = "UNITY", context=None) -> Path:
    """Export the SMPL armature ``obj`` (with its child meshes and active action) to FBX."""
    preset = preset.upper()
    if preset not in FBX_PRESETS:
        raise ExportError(f"unknown FBX preset {preset!r}: expected one of {', '.join(FBX_PRESETS)}")
    _check_armature(obj)
    context = context or bpy.context
    path = Path(filepath)
    with _scene_named(context.scene, obj.animation_data.action.name):
        if preset == "UNREAL":
            centimetres = 1.0 / FBX_UNIT_METRES["UNREAL"]
            with _root_motion_copy(obj, context, centimetres) as export_obj, \
                    _unit_scale(context.scene, FBX_UNIT_METRES["UNREAL"]):
                _export_fbx_objects(context, export_obj, path, FBX_PRESETS[preset])
        else:
            _export_fbx_objects(context, obj, path, FBX_PRESETS[preset])
    return path


def export_bvh(obj, filepath, context=None) -> Path:
    """Export the armature's active action as BVH (Blender's exporter, native rotation orders)."""
    _check_armature(obj)
    context = context or bpy.context
    path = Path(filepath)
    start, end = _action_frame_range(obj)
    with _selection([obj], obj, context), _atomic_target(path, ".bvh") as tmp:
        result = bpy.ops.export_anim.bvh(filepath=str(tmp), frame_start=start, frame_end=end,
                                         global_scale=1.0, rotate_mode="NATIVE", root_transform_only=False)
        if "FINISHED" not in result:
            raise ExportError(f"{path}: Blender's BVH exporter did not finish")
    return path


# --- helpers -------------------------------------------------------------------------------------

def _check_armature(obj):
    if not is_smpl_armature(obj):
        name = getattr(obj, "name", None)
        raise ExportError(f"'{name}' is not an SMPL armature: select one made by 'Create Personalised Armature'")
    if obj.animation_data is None or obj.animation_data.action is None:
        raise ExportError(f"armature '{obj.name}' has no action to export: bake a motion first")


def _export_fbx_objects(context, obj, path: Path, options: dict):
    objects = [obj] + [child for child in obj.children if child.type == "MESH"]
    start, end = _action_frame_range(obj)
    if end - start + 1 > LONG_TAKE_FRAMES:
        options = dict(options, bake_anim_simplify_factor=LONG_TAKE_SIMPLIFY)
    with _selection(objects, obj, context), _scene_range(context.scene, start, end), \
            _atomic_target(path, ".fbx") as tmp:
        result = bpy.ops.export_scene.fbx(filepath=str(tmp), **options)
        if "FINISHED" not in result:
            raise ExportError(f"{path}: Blender's FBX exporter did not finish")


def _action_frame_range(obj) -> tuple[int, int]:
    start, end = obj.animation_data.action.frame_range
    return int(round(start)), max(int(round(end)), int(round(start)))


@contextlib.contextmanager
def _atomic_target(path: Path, suffix: str):
    if path.suffix.lower() != suffix:
        raise ExportError(f"{path}: the file name must end in {suffix}")
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{suffix}")
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise ExportError(f"{path}: the exporter wrote nothing")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def _selection(objects, active, context):
    """Select exactly ``objects`` with ``active`` active, restoring the user's selection afterwards."""
    view_layer = context.view_layer
    previous_selected = [o for o in view_layer.objects if o.select_get()]
    previous_active = view_layer.objects.active
    try:
        for o in previous_selected:
            o.select_set(False)
        for o in objects:
            o.select_set(True)
        view_layer.objects.active = active
        yield
    finally:
        for o in objects:
            if o.name in view_layer.objects:
                o.select_set(False)
        for o in previous_selected:
            if o.name in view_layer.objects:
                o.select_set(True)
        view_layer.objects.active = previous_active


@contextlib.contextmanager
def _scene_range(scene, start: int, end: int):
    previous = scene.frame_start, scene.frame_end, scene.frame_current
    scene.frame_start, scene.frame_end = start, end
    try:
        yield
    finally:
        scene.frame_start, scene.frame_end = previous[0], previous[1]
        scene.frame_set(previous[2])


@contextlib.contextmanager
def _scene_named(scene, name: str):
    """The scene renamed to ``name`` for the duration (the FBX exporter names its take after the
    scene); another scene already called ``name`` lends it its name meanwhile."""
    previous = scene.name
    other = bpy.data.scenes.get(name)
    if other is not None and other != scene:
        other.name = name + ".sparse_mocap_export"   # scene names are unique
    scene.name = name
    try:
        yield
    finally:
        scene.name = previous
        if other is not None and other != scene:
            other.name = name


@contextlib.contextmanager
def _unit_scale(scene, metres_per_unit: float):
    previous = scene.unit_settings.scale_length
    scene.unit_settings.scale_length = metres_per_unit
    try:
        yield
    finally:
        scene.unit_settings.scale_length = previous


@contextlib.contextmanager
def _root_motion_copy(obj, context, scale: float):
    """Temporary copy of ``obj``, ``scale`` times larger, with a ``root`` bone carrying the travel.

    Built from the armature's current action (so hand edits after baking are exported), removed
    again afterwards whatever happens.
    """
    scene = context.scene
    collection = scene.collection
    created_objects, created_data = [], []
    try:
        data = obj.data.copy()
        created_data.append(data)
        # Unreal's importer drops a scene root node named "Armature", leaving "root" as the top bone.
        name = "Armature" if "Armature" not in bpy.data.objects else obj.name + "_unreal"
        export_obj = bpy.data.objects.new(name, data)
        created_objects.append(export_obj)
        collection.objects.link(export_obj)
        _scale_and_add_root_bone(context, export_obj, scale)

        to_export = Matrix.Scale(scale, 4) @ obj.matrix_world.inverted()
        for child in obj.children:
            if child.type != "MESH":
                continue
            mesh_copy = child.copy()
            mesh_copy.data = child.data.copy()
            created_objects.append(mesh_copy)
            created_data.append(mesh_copy.data)
            collection.objects.link(mesh_copy)
            # Bake the child's placement and the unit scale into the vertices: every node has scale 1.
            mesh_copy.data.transform(to_export @ child.matrix_world)
            mesh_copy.parent = export_obj
            mesh_copy.matrix_parent_inverse = Matrix.Identity(4)
            mesh_copy.matrix_basis = Matrix.Identity(4)
            for modifier in mesh_copy.modifiers:
                if modifier.type == "ARMATURE" and modifier.object == obj:
                    modifier.object = export_obj

        action = _root_motion_action(obj, export_obj, scale)
        created_data.append(action)
        yield export_obj
    finally:
        for o in created_objects:
            bpy.data.objects.remove(o, do_unlink=True)
        for d in created_data:
            if isinstance(d, bpy.types.Action):
                bpy.data.actions.remove(d)
            elif isinstance(d, bpy.types.Armature) and d.users == 0:
                bpy.data.armatures.remove(d)
            elif isinstance(d, bpy.types.Mesh) and d.users == 0:
                bpy.data.meshes.remove(d)


def _scale_and_add_root_bone(context, export_obj, scale: float):
    view_layer = context.view_layer
    previous_active = view_layer.objects.active
    view_layer.objects.active = export_obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        bones = export_obj.data.edit_bones
        # Read everything first: a connected child's head moves with its parent's tail.
        saved = [(bone, bone.head * scale, bone.tail * scale, bone.roll) for bone in bones]
        for bone, head, tail, roll in saved:
            bone.head, bone.tail, bone.roll = head, tail, roll
        pelvis = bones[JOINT_NAMES[0]]
        root = bones.new(ROOT_BONE)
        root.head = (0.0, 0.0, 0.0)
        root.tail = (0.0, -0.2 * max(pelvis.head.z, 0.1), 0.0)  # points forward along the floor
        root.align_roll((0.0, 0.0, 1.0))
        pelvis.parent = root
        pelvis.use_connect = False
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = previous_active


def _sample_curves(fcurves, data_path: str, count: int, frames: np.ndarray) -> np.ndarray:
    """Values (frames, count) of the F-curves at ``data_path``; a missing channel reads 0."""
    by_index = {fc.array_index: fc for fc in fcurves if fc.data_path == data_path}
    out = np.zeros((len(frames), count))
    for i, curve in by_index.items():
        if i < count:
            out[:, i] = [curve.evaluate(float(f)) for f in frames]
    return out


def _copy_curve(source_curve, curve) -> None:
    """``source_curve``'s keys onto the empty ``curve``; a curve of sampled points (a long take baked
    as samples) stays sampled, so nothing is lost and the copy costs no more memory than the original."""
    if len(source_curve.sampled_points):
        co = np.empty((len(source_curve.sampled_points), 2), dtype=np.float32)
        source_curve.sampled_points.foreach_get("co", co.ravel())
        write_fcurve(curve, co, None)             # stored as bake_motion stores a long take
        return
    n = len(source_curve.keyframe_points)
    co = np.empty(2 * n, dtype=np.float32)
    source_curve.keyframe_points.foreach_get("co", co)
    curve.keyframe_points.add(n)
    curve.keyframe_points.foreach_set("co", co)
    interp = np.empty(n, dtype=np.int8)
    source_curve.keyframe_points.foreach_get("interpolation", interp)
    curve.keyframe_points.foreach_set("interpolation", interp)
    curve.update()


def _root_motion_action(obj, export_obj, scale: float):
    """Copy of the active action with the pelvis's horizontal travel moved onto the root bone."""
    source = obj.animation_data.action
    start, end = _action_frame_range(obj)
    frames = np.arange(start, end + 1, dtype=np.float64)
    pelvis_path = f'pose.bones["{JOINT_NAMES[0]}"].location'

    rest_rot, rest_head = rest_frames(obj)
    location = _sample_curves(compat.action_fcurves(obj), pelvis_path, 3, frames)
    pelvis_world = (rest_head[0] + location @ rest_rot[0].T) * scale  # armature space, export units
    travel = pelvis_world.copy()
    travel[:, 2] = 0.0                                               # on the floor (Blender Z up)

    root_rest = np.array(export_obj.data.bones[ROOT_BONE].matrix_local.to_3x3())
    root_location = travel @ root_rest                               # B_root^T t
    pelvis_location = (pelvis_world - travel - rest_head[0] * scale) @ rest_rot[0]

    new_action = bpy.data.actions.new(source.name + "_root_motion")
    fcurves = compat.assign_new_action(export_obj, new_action)

    coords = np.empty((len(frames), 2), dtype=np.float32)
    coords[:, 0] = frames
    for source_curve in compat.action_fcurves(obj):
        if source_curve.data_path == pelvis_path:
            continue
        curve = compat.new_fcurve(fcurves, source_curve.data_path, source_curve.array_index,
                                  source_curve.group.name if source_curve.group else "")
        _copy_curve(source_curve, curve)
    for bone, values in ((ROOT_BONE, root_location), (JOINT_NAMES[0], pelvis_location)):
        for i in range(3):
            curve = compat.new_fcurve(fcurves, f'pose.bones["{bone}"].location', i, bone)
            curve.keyframe_points.add(len(frames))
            coords[:, 1] = values[:, i]
            curve.keyframe_points.foreach_set("co", coords.ravel())
            curve.update()
    return new_action
