"""FBX (Unity and Unreal presets) and BVH export of a baked armature: an SMPL one or a character rig.

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

A character rig (any armature that is not SMPL-topology: Rigify, Mixamo, UE, VRM, CC...) keeps its
own hierarchy and bone names. Where the rig marks some bones as deforming and others not (Rigify's
hundreds of control and mechanism bones), only the deforming bones go out. Where those hang off
bones that do not deform (Rigify's DEF bones under ORG and MCH bones: Unity's Humanoid avatar would
find no hips above the legs), the export is a temporary copy holding only the deforming bones, each
under the nearest deforming bone above it (an ORG-/MCH- bone standing for its DEF- counterpart),
keyed with the rig's evaluated pose on every frame; Unreal's export always takes such a baked copy
of a rig with constraints (its centimetre copy is built from the armature data, which holds none).
For Unreal, a rig whose hips hang under a top bone standing on the floor (the UE mannequin's
``root``, CC's ``CC_Base_BoneRoot``) already carries root motion there
(:func:`.character.bake_onto_character` put it there): it is exported as it is, no second root
added; a rig whose top bone is its hips gets the SMPL treatment, a ``root`` bone carrying the
horizontal travel of the top-most bone with location keys. The character's object rotation and
scale (an FBX-imported character's axis and unit conversion) are kept in the Unreal copy.

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

from ..core.kinematics.rotations import matrix_to_quat, quat_continuous
from ..core.mocap.onto_rig import ROOT_NEAR_FLOOR_M
from . import compat
from .armature import is_smpl_armature
from .build import editing_bones
from .bake import LONG_TAKE_FRAMES, bake_channels, keys_for, write_fcurve

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
    """Export the armature ``obj`` (an SMPL armature or a character rig, with its meshes and active
    action) to FBX; see the module docstring for what each preset does with a character."""
    preset = preset.upper()
    if preset not in FBX_PRESETS:
        raise ExportError(f"unknown FBX preset {preset!r}: expected one of {', '.join(FBX_PRESETS)}")
    _check_armature(obj)
    context = context or bpy.context
    path = Path(filepath)
    with _scene_named(context.scene, obj.animation_data.action.name), \
            _game_rig(obj, context, baked=preset == "UNREAL") as source:
        options = FBX_PRESETS[preset] if is_smpl_armature(source) else _character_options(source, FBX_PRESETS[preset])
        if preset == "UNREAL":
            centimetres = 1.0 / FBX_UNIT_METRES["UNREAL"]
            with _root_motion_copy(source, context, centimetres) as export_obj, \
                    _unit_scale(context.scene, FBX_UNIT_METRES["UNREAL"]):
                _export_fbx_objects(context, export_obj, path, options)
        else:
            _export_fbx_objects(context, source, path, options)
    return path


def export_bvh(obj, filepath, context=None) -> Path:
    """Export the armature's active action as BVH (Blender's exporter, native rotation orders); a
    character with control bones goes out as its deforming bones only (see :func:`_game_rig`)."""
    _check_armature(obj)
    context = context or bpy.context
    path = Path(filepath)
    start, end = _action_frame_range(obj)
    with _game_rig(obj, context, baked=True, every_drop=True) as source, \
            _selection([source], source, context), _atomic_target(path, ".bvh") as tmp:
        result = bpy.ops.export_anim.bvh(filepath=str(tmp), frame_start=start, frame_end=end,
                                         global_scale=1.0, rotate_mode="NATIVE", root_transform_only=False)
        if "FINISHED" not in result:
            raise ExportError(f"{path}: Blender's BVH exporter did not finish")
    return path


# --- helpers -------------------------------------------------------------------------------------

def _check_armature(obj):
    if obj is None or getattr(obj, "type", None) != "ARMATURE":
        name = getattr(obj, "name", None)
        raise ExportError(f"'{name}' is not an armature: select the armature to export (an SMPL armature or a "
                          "character rig)")
    if obj.animation_data is None or obj.animation_data.action is None:
        raise ExportError(f"armature '{obj.name}' has no action to export: bake a motion first")


def _character_options(obj, options: dict) -> dict:
    """A preset's options for a character rig: deforming bones only where the rig has others too."""
    deforms = {bone.use_deform for bone in obj.data.bones}
    return dict(options, use_armature_deform_only=deforms == {True, False})


def _follow(mesh_copy, original, copy) -> None:
    """A mesh copy's Armature modifiers deform with the armature's ``copy`` instead of ``original``."""
    for modifier in mesh_copy.modifiers:
        if modifier.type == "ARMATURE" and modifier.object == original:
            modifier.object = copy


def _discard(created_objects, renamed) -> None:
    """Remove the temporary objects of an export and give the originals their names back."""
    for o in created_objects:
        bpy.data.objects.remove(o, do_unlink=True)
    for original, name in renamed:
        original.name = name


# --- a character's game rig: its deforming bones in a hierarchy of their own -----------------------

# Rigify's layers: a deforming bone hangs off the ORG or MCH bone its DEF counterpart follows.
_LAYER_PREFIXES = ("ORG-", "MCH-")
_DEFORM_PREFIX = "DEF-"


@contextlib.contextmanager
def _game_rig(obj, context, baked: bool, every_drop: bool = False):
    """``obj`` itself, or a temporary baked copy holding only its deforming bones, each under the
    nearest deforming bone above it (Rigify's DEF bones hang off ORG and MCH bones: exported as they
    are, Unity's Humanoid avatar finds no hips above the legs). The copy is also used where
    ``baked`` asks for a rig whose constraints have been applied (the Unreal copy is built from the
    armature data, without the object's constraints), and with ``every_drop`` wherever bones are
    left out (the BVH exporter has no deform-only option). The copy's action is the evaluated pose of
    every frame; it and its meshes' copies are removed afterwards whatever happens."""
    deforming = _deforming_bones(obj)
    parents = _game_parents(obj, deforming)
    constrained = any(bone.constraints for bone in obj.pose.bones)
    if is_smpl_armature(obj) or not (
            any(parents[name] != _parent_name(obj.data.bones[name]) for name in deforming)
            or (baked and constrained) or (every_drop and len(deforming) < len(obj.data.bones))):
        yield obj
        return
    scene = context.scene
    created_objects, renamed = [], []
    data = obj.data.copy()
    action = None
    try:
        copy = bpy.data.objects.new(obj.name + ".game", data)
        created_objects.append(copy)
        scene.collection.objects.link(copy)
        _lend_name(obj, copy, renamed)
        copy.matrix_world = obj.matrix_world.copy()
        _keep_bones(context, copy, deforming, parents)
        action = _bake_evaluated_pose(obj, copy, scene)
        for child in _meshes_of(obj, scene):
            mesh_copy = child.copy()                          # shares the mesh: nothing is transformed
            created_objects.append(mesh_copy)
            scene.collection.objects.link(mesh_copy)
            _lend_name(child, mesh_copy, renamed)
            mesh_copy.parent = copy
            mesh_copy.matrix_parent_inverse = copy.matrix_world.inverted()
            mesh_copy.matrix_basis = child.matrix_world.copy()
            _follow(mesh_copy, obj, copy)
        yield copy
    finally:
        _discard(created_objects, renamed)
        if action is not None:
            bpy.data.actions.remove(action)
        if data.users == 0:
            bpy.data.armatures.remove(data)
        context.view_layer.update()


def _lend_name(original, copy, renamed: list) -> None:
    """``copy`` goes out under ``original``'s name; the original lends it for the duration."""
    name = original.name
    original.name = name + ".sparse_mocap_export"
    renamed.append((original, name))
    copy.name = name


def _deforming_bones(obj) -> list:
    """The bones that go out: the deforming ones where the rig has others too, else all."""
    bones = obj.data.bones
    deforming = [bone.name for bone in bones if bone.use_deform]
    return deforming if deforming and len(deforming) < len(bones) else [bone.name for bone in bones]


def _parent_name(bone) -> str | None:
    return bone.parent.name if bone.parent is not None else None


def _game_parents(obj, kept: list) -> dict:
    """Kept bone -> its parent among the kept bones (None: top level): the nearest kept ancestor,
    where an ORG-/MCH- ancestor stands for its DEF- counterpart."""
    kept_set = set(kept)
    parents = {}
    for name in kept:
        parent, ancestor = None, obj.data.bones[name].parent
        while ancestor is not None and parent is None:
            stands_for = _counterpart(ancestor.name)
            if ancestor.name in kept_set:
                parent = ancestor.name
            elif stands_for in kept_set and stands_for != name:
                parent = stands_for
            ancestor = ancestor.parent
        parents[name] = parent
    for name in kept:                                        # a counterpart below its bone: no loops
        seen, bone = {name}, parents[name]
        while bone is not None and bone not in seen:
            seen.add(bone)
            bone = parents[bone]
        if bone is not None:
            parents[name] = None
    return parents


def _counterpart(name: str) -> str | None:
    prefix = next((p for p in _LAYER_PREFIXES if name.startswith(p)), None)
    return None if prefix is None else _DEFORM_PREFIX + name[len(prefix):]


def _keep_bones(context, copy, kept: list, parents: dict) -> None:
    """The copy's armature reduced to ``kept``, parented as ``parents`` says, every bone inheriting
    its parent's full transform (what the baked channels assume)."""
    with editing_bones(context, copy) as bones:
        for name in kept:
            bone = bones[name]
            bone.use_connect = False
            bone.parent = bones[parents[name]] if parents[name] is not None else None
            bone.use_inherit_rotation, bone.inherit_scale, bone.use_local_location = True, "FULL", True
        kept_set = set(kept)
        for bone in [b for b in bones if b.name not in kept_set]:
            bones.remove(bone)


def _bake_evaluated_pose(obj, copy, scene):
    """Key the copy's bones with ``obj``'s evaluated pose (constraints, drivers and all) on every
    frame of its action: a new action on the copy, returned."""
    start, end = _action_frame_range(obj)
    names = [bone.name for bone in copy.data.bones]
    index = {bone.name: i for i, bone in enumerate(obj.pose.bones)}
    rows = [index[name] for name in names]
    frames = np.arange(start, end + 1)
    posed = np.empty((len(frames), len(obj.pose.bones) * 16), dtype=np.float32)
    previous = scene.frame_current
    try:
        for k, frame in enumerate(frames):
            scene.frame_set(int(frame))
            obj.pose.bones.foreach_get("matrix", posed[k])
    finally:
        scene.frame_set(previous)
    # foreach_get gives each 4x4 column by column.
    world = np.swapaxes(posed.reshape(len(frames), -1, 4, 4), -1, -2)[:, rows].astype(np.float64)
    rest = np.array([np.array(bone.matrix_local) for bone in copy.data.bones])
    slot = {name: i for i, name in enumerate(names)}
    local = np.empty_like(world)
    for i, bone in enumerate(copy.data.bones):
        # Blender: pose = parent_pose @ parent_rest^-1 @ rest @ basis, so basis = rest^-1 @ parent_rest @ ...
        relative = world[:, i] if bone.parent is None else (
            rest[slot[bone.parent.name]] @ np.linalg.inv(world[:, slot[bone.parent.name]]) @ world[:, i])
        local[:, i] = np.linalg.inv(rest[i]) @ relative
    scale = np.linalg.norm(local[:, :, :3, :3], axis=-2)                      # column lengths
    turn = quat_continuous(matrix_to_quat(local[:, :, :3, :3] / scale[:, :, None, :]))
    channels = []
    for i, name in enumerate(names):
        bone_path = f'pose.bones["{name}"]'
        channels += [(f"{bone_path}.location", name, lambda i=i: local[:, i, :3, 3]),
                     (f"{bone_path}.rotation_quaternion", name, lambda i=i: turn[:, i]),
                     (f"{bone_path}.scale", name, lambda i=i: scale[:, i])]
    fps = scene.render.fps / scene.render.fps_base
    return bake_channels(copy, channels, len(frames), fps, obj.animation_data.action.name, frame_start=start,
                         match_scene=False, scene=scene, keys=keys_for(len(frames)))


def _meshes_of(obj, scene) -> list:
    """The meshes that go out with ``obj``: its child meshes, and the unparented meshes in the scene
    that its Armature modifier drives (a character skinned without parenting)."""
    children = [child for child in obj.children if child.type == "MESH"]
    driven = [o for o in scene.objects if o.type == "MESH" and o.parent is None
              and any(m.type == "ARMATURE" and m.object == obj for m in o.modifiers)]
    return children + driven


def _export_fbx_objects(context, obj, path: Path, options: dict):
    objects = [obj] + _meshes_of(obj, context.scene)
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
    """Temporary copy of ``obj``, ``scale`` times larger, with root motion on its top bone.

    An SMPL armature (and a character whose top bone is its hips) gets a ``root`` bone carrying the
    travel; a character with a floor-level root bone keeps its own. Built from the armature's current
    action (so hand edits after baking are exported), removed again afterwards whatever happens.
    """
    scene = context.scene
    collection = scene.collection
    created_objects, created_data, renamed = [], [], []
    try:
        data = obj.data.copy()
        created_data.append(data)
        # Unreal's importer drops a scene root node named "Armature", leaving "root" as the top bone.
        name = "Armature" if "Armature" not in bpy.data.objects else obj.name + "_unreal"
        export_obj = bpy.data.objects.new(name, data)
        created_objects.append(export_obj)
        collection.objects.link(export_obj)
        placement = _export_placement(obj, scale)
        carrier = _travel_carrier(obj, placement, scale)
        _place_bones(context, export_obj, placement, carrier)

        to_export = placement @ obj.matrix_world.inverted()
        for child in _meshes_of(obj, context.scene):
            mesh_copy = child.copy()
            mesh_copy.data = child.data.copy()
            _lend_name(child, mesh_copy, renamed)
            created_objects.append(mesh_copy)
            created_data.append(mesh_copy.data)
            collection.objects.link(mesh_copy)
            # Bake the child's placement and the unit scale into the vertices: every node has scale 1.
            mesh_copy.data.transform(to_export @ child.matrix_world, shape_keys=True)
            mesh_copy.parent = export_obj
            mesh_copy.matrix_parent_inverse = Matrix.Identity(4)
            mesh_copy.matrix_basis = Matrix.Identity(4)
            _follow(mesh_copy, obj, export_obj)

        action = _root_motion_action(obj, export_obj, _uniform_scale(placement), carrier)
        created_data.append(action)
        yield export_obj
    finally:
        _discard(created_objects, renamed)
        for d in created_data:
            if isinstance(d, bpy.types.Action):
                bpy.data.actions.remove(d)
            elif isinstance(d, bpy.types.Armature) and d.users == 0:
                bpy.data.armatures.remove(d)
            elif isinstance(d, bpy.types.Mesh) and d.users == 0:
                bpy.data.meshes.remove(d)
        # Until the view layer syncs, its object list holds None where the removed copies were.
        context.view_layer.update()


def _export_placement(obj, scale: float) -> Matrix:
    """Armature space -> export space: the unit scale, and for a character its object's rotation and
    scale too (an FBX-imported rig carries its axis and unit conversion there); never the object's
    position (root motion is relative to the armature). An SMPL armature's object transform is not
    exported, as before."""
    if is_smpl_armature(obj):
        return Matrix.Scale(scale, 4)
    return Matrix.Scale(scale, 4) @ obj.matrix_world.to_3x3().to_4x4()


def _uniform_scale(placement: Matrix) -> float:
    return float(np.mean(placement.to_scale()))


def _travel_carrier(obj, placement: Matrix, scale: float) -> str | None:
    """The bone whose horizontal travel moves onto a new ``root`` bone, or None when the top bone
    above it already stands on the floor (a UE or CC root: the root motion is on it already, or
    the user chose the hips).

    The carrier is the top-most bone with location keys (an SMPL armature's pelvis, a Mixamo
    ``Hips``); the bones above it, if any, are taken to stay at rest."""
    bones = obj.data.bones
    located = {_bone_of(curve.data_path) for curve in compat.action_fcurves(obj)
               if curve.data_path.endswith("].location")}
    candidates = [bone for bone in bones if bone.name in located] or [b for b in bones if b.parent is None]
    carrier = min(candidates, key=_depth)
    top = carrier
    while top.parent is not None:
        top = top.parent
    on_floor = abs((placement @ top.head_local).z) <= ROOT_NEAR_FLOOR_M * scale
    if not is_smpl_armature(obj) and top.children and on_floor:
        return None
    return carrier.name


def _bone_of(data_path: str) -> str | None:
    """``pose.bones["name"].location`` -> ``name``."""
    if not data_path.startswith('pose.bones["'):
        return None
    return data_path[len('pose.bones["'):data_path.index('"]')]


def _depth(bone) -> int:
    depth = 0
    while bone.parent is not None:
        bone, depth = bone.parent, depth + 1
    return depth


def _place_bones(context, export_obj, placement: Matrix, carrier: str | None):
    """The copy's bones moved into export space; with a ``carrier``, a ``root`` bone on the floor
    becomes the parent of every top-level bone."""
    with editing_bones(context, export_obj) as bones:
        turn = placement.to_3x3().normalized()
        # Read everything first: a connected child's head moves with its parent's tail.
        saved = [(bone, placement @ bone.head, placement @ bone.tail, turn @ bone.z_axis) for bone in bones]
        for bone, head, tail, z_axis in saved:
            bone.head, bone.tail = head, tail
            bone.align_roll(z_axis)
        if carrier is not None:
            tops = [bone for bone in bones if bone.parent is None]
            root = bones.new(ROOT_BONE)
            root.head = (0.0, 0.0, 0.0)
            root.tail = (0.0, -0.2 * max(bones[carrier].head.z, 0.1), 0.0)  # points forward along the floor
            root.align_roll((0.0, 0.0, 1.0))
            for bone in tops:
                bone.parent = root
                bone.use_connect = False


def _sample_curves(fcurves, data_path: str, count: int, frames: np.ndarray) -> np.ndarray:
    """Values (frames, count) of the F-curves at ``data_path``; a missing channel reads 0."""
    by_index = {fc.array_index: fc for fc in fcurves if fc.data_path == data_path}
    out = np.zeros((len(frames), count))
    for i, curve in by_index.items():
        if i < count:
            out[:, i] = [curve.evaluate(float(f)) for f in frames]
    return out


def _copy_curve(source_curve, curve, factor: float = 1.0) -> None:
    """``source_curve``'s keys (values times ``factor``) onto the empty ``curve``; a curve of sampled
    points (a long take baked as samples) stays sampled, so nothing is lost and the copy costs no
    more memory than the original."""
    if len(source_curve.sampled_points):
        co = np.empty((len(source_curve.sampled_points), 2), dtype=np.float32)
        source_curve.sampled_points.foreach_get("co", co.ravel())
        co[:, 1] *= factor
        write_fcurve(curve, co, None)             # stored as bake_motion stores a long take
        return
    n = len(source_curve.keyframe_points)
    co = np.empty(2 * n, dtype=np.float32)
    source_curve.keyframe_points.foreach_get("co", co)
    co[1::2] *= factor
    curve.keyframe_points.add(n)
    curve.keyframe_points.foreach_set("co", co)
    interp = np.empty(n, dtype=np.int8)
    source_curve.keyframe_points.foreach_get("interpolation", interp)
    curve.keyframe_points.foreach_set("interpolation", interp)
    curve.update()


def _root_motion_action(obj, export_obj, scale: float, carrier: str | None):
    """Copy of the active action for the copy ``scale`` times larger: locations scaled; with a
    ``carrier``, its horizontal travel moved onto the root bone."""
    source = obj.animation_data.action
    new_action = bpy.data.actions.new(source.name + "_root_motion")
    fcurves = compat.assign_new_action(export_obj, new_action)
    carrier_path = None if carrier is None else f'pose.bones["{carrier}"].location'
    for source_curve in compat.action_fcurves(obj):
        if source_curve.data_path == carrier_path:
            continue
        curve = compat.new_fcurve(fcurves, source_curve.data_path, source_curve.array_index,
                                  source_curve.group.name if source_curve.group else "")
        # A pose location is in the bone's rest frame: it grows with the copy, a rotation does not.
        _copy_curve(source_curve, curve, scale if source_curve.data_path.endswith(".location") else 1.0)
    if carrier is not None:
        _write_root_travel(obj, export_obj, fcurves, carrier, scale)
    return new_action


def _write_root_travel(obj, export_obj, fcurves, carrier: str, scale: float) -> None:
    """Key the root bone with ``carrier``'s travel on the floor and ``carrier`` with the rest."""
    start, end = _action_frame_range(obj)
    frames = np.arange(start, end + 1, dtype=np.float64)
    location = _sample_curves(compat.action_fcurves(obj), f'pose.bones["{carrier}"].location', 3, frames)

    bone = export_obj.data.bones[carrier]                        # in export space already
    rest_rot, rest_head = np.array(bone.matrix_local.to_3x3()), np.array(bone.head_local)
    carrier_world = rest_head + (location * scale) @ rest_rot.T  # armature space, export units
    travel = carrier_world.copy()
    travel[:, 2] = 0.0                                           # on the floor (Blender Z up)

    root_rest = np.array(export_obj.data.bones[ROOT_BONE].matrix_local.to_3x3())
    root_location = travel @ root_rest                           # B_root^T t
    carrier_location = (carrier_world - travel - rest_head) @ rest_rot

    coords = np.empty((len(frames), 2), dtype=np.float32)
    coords[:, 0] = frames
    for name, values in ((ROOT_BONE, root_location), (carrier, carrier_location)):
        for i in range(3):
            curve = compat.new_fcurve(fcurves, f'pose.bones["{name}"].location', i, name)
            curve.keyframe_points.add(len(frames))
            coords[:, 1] = values[:, i]
            curve.keyframe_points.foreach_set("co", coords.ravel())
            curve.update()
