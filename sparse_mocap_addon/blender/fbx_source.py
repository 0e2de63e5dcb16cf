"""Read an FBX take through Blender's own FBX importer into a :class:`~..core.source.SourceMotion`.

The file is imported into the current Blender file, sampled, converted to the rest-identity form
of ``core/mocap/source.py`` and then every datablock the import created is removed again, also when
something fails half-way. The user's scene gets back its frame rate, current frame, frame range,
selection, active object and mode (the importer changes all of them).

Sampling happens in a private scene that holds only the imported armature (and its parents), so a
heavy user scene is not evaluated once per frame. The pose comes from Blender's own evaluation of
that scene (``frame_set`` + evaluated pose matrices read with ``foreach_get``): constraints,
drivers and every rotation mode count exactly as Blender plays them.

Conversion, with ``W_j(t)`` the world matrix of bone ``j`` (armature object world matrix times
pose matrix) and ``W_j(rest)`` its rest world matrix (object world matrix times
``bone.matrix_local``):

- offsets: rest head of each bone minus its parent's rest head, world frame (Blender Z up);
- global rotation relative to rest: ``G_j(t) = R_j(t) R_j(rest)^T`` (rotation parts only);
- local rotation: ``G_parent(t)^T G_j(t)``; root position: the root bone's world head.

Bone translations below the root (bone stretching, location keys) are kept as animated
``local_offsets`` when they move a head by more than float noise; plain FK rigs such as the CMU
takes get constant offsets (their files key every bone's translation with float noise of about
1e-5 units, which moves FK positions by up to about 3e-5 units against Blender's). When the
armature has more than one root bone, the armature object itself becomes joint 0.

End sites: leaf bones named like end sites (``Head_end``, ``HeadTop_End``, ``...Nub``) are flagged
in ``end_site``. No joints are added at bone tails: FBX stores joints, not bones, and the importer
gives a leaf bone its parent's length, so a tail carries no information.

Units: the importer converts the file's declared unit to Blender units (1 BU =
``unit_settings.scale_length`` metres). That declaration is only trusted when the rest figure comes
out human sized; otherwise ``metres_per_unit`` is ``None`` (the retargeter infers it) and the
declared value is kept in ``metadata``. The CMU FBX takes declare centimetres but hold CMU ASF
units times 100, so they come in about 17.7x too large (a 26 m tall figure) and get ``None``.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

import bpy
import numpy as np

from ..core.kinematics.rotations import matrix_to_quat, quat_conjugate, quat_multiply, quat_normalize, quat_rotate
from ..core.mocap.source import SourceFormatError, SourceMotion, SourceSkeleton

# Importer options for faithful joint positions: bones keep the file's joint frames (no automatic
# re-orientation, no forced connection that would move tails and add correction matrices), pre/post
# rotations applied, the file's axes converted to Blender's, no extra scale, the file's own leaf
# (end-site) nodes kept, and nothing slow or irrelevant (image search, custom normals).
IMPORT_OPTIONS = dict(
    use_manual_orientation=False,
    global_scale=1.0,
    bake_space_transform=False,
    use_custom_normals=False,
    use_image_search=False,
    use_anim=True,
    anim_offset=1.0,
    use_custom_props=False,
    ignore_leaf_bones=False,
    force_connect_children=False,
    automatic_bone_orientation=False,
    use_prepost_rot=True,
)

# Leaf bones whose names mark an end site (Blender "_end", Mixamo "_End", 3ds Max "Nub").
_END_SUFFIXES = ("_end", ".end", "_End", "End", "Nub", "_nub")
# A rest figure whose largest extent falls outside this range (metres) is not trusted to carry
# the file's declared unit.
_HUMAN_EXTENT_M = (0.3, 3.5)
# Datablock collections an import never adds to (and that must not be removed from).
_UI_COLLECTIONS = ("window_managers", "workspaces", "screens")


def read_fbx_source(path, context=None, *, stretch_tolerance: float = 1e-4) -> SourceMotion:
    """Import the FBX take at ``path`` with Blender's importer and return its motion.

    The armature with the most bones is used when the file has several. ``stretch_tolerance`` is
    the fraction of the rig's size by which a bone's offset from its parent may wander over time
    and still count as float noise (constant offsets); above it the motion gets per-frame
    ``local_offsets``. 0 keeps every wobble, which reproduces Blender's joint positions to float
    precision.

    ``context`` is the current context (an operator's): its scene and view layer get their state
    back afterwards. Raises ``FileNotFoundError`` for a missing file and
    :class:`SourceFormatError` for a file Blender cannot import or one without an animated armature.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such FBX file")
    if not hasattr(bpy.types, "IMPORT_SCENE_OT_fbx"):
        raise SourceFormatError(f"{path.name}: Blender's FBX importer (the io_scene_fbx add-on) is not enabled")
    context = context or bpy.context
    scene = context.scene
    before = _id_pointers()
    try:
        with _preserved_user_state(context):
            _import(path)
            fps = scene.render.fps / scene.render.fps_base
            fps_base = scene.render.fps_base
            declared = _declared_metres_per_unit(scene)
        new_ids = _new_ids(before)
        arm, n_armatures = _pick_armature(new_ids, path)
        sampler_scene = bpy.data.scenes.new("sparse_mocap_fbx_sampling")
        _isolate(arm, sampler_scene, new_ids)
        motion = _sample(arm, _file_name(arm, new_ids), sampler_scene, fps, fps_base, declared,
                         stretch_tolerance, path)
        motion.metadata["armatures_in_file"] = n_armatures
        return motion
    finally:
        _remove_new_ids(before)


# --- import and clean-up -------------------------------------------------------------------------

def _import(path: Path):
    try:
        result = bpy.ops.import_scene.fbx(filepath=str(path), **IMPORT_OPTIONS)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.startswith("Location:")]
        reason = lines[-1] if lines else "unknown error"
        for prefix in ("Error: ", "RuntimeError: "):
            reason = reason.removeprefix(prefix)
        raise SourceFormatError(f"{path.name}: Blender's FBX importer could not read it ({reason})") from None
    if "FINISHED" not in result:
        raise SourceFormatError(f"{path.name}: Blender's FBX importer could not read it "
                                f"(it returned {sorted(result)})")


def _id_collections():
    for attr in dir(bpy.data):
        if attr.startswith("_"):
            continue
        coll = getattr(bpy.data, attr, None)
        if isinstance(coll, bpy.types.bpy_prop_collection) and attr not in _UI_COLLECTIONS:
            yield coll


def _id_pointers() -> set:
    return {idb.as_pointer() for coll in _id_collections() for idb in coll}


def _new_ids(before: set) -> list:
    return [idb for coll in _id_collections() for idb in coll if idb.as_pointer() not in before]


def _remove_new_ids(before: set):
    new = _new_ids(before)
    if new:
        bpy.data.batch_remove(new)


@contextlib.contextmanager
def _preserved_user_state(context):
    """Give the scene back its frame rate, frames, selection, active object and mode."""
    scene = context.scene
    view_layer = context.view_layer
    render = scene.render
    saved = dict(fps=render.fps, fps_base=render.fps_base, frame_start=scene.frame_start,
                 frame_end=scene.frame_end, frame_current=scene.frame_current, subframe=scene.frame_subframe)
    active = view_layer.objects.active
    mode = active.mode if active is not None else "OBJECT"
    selected = [obj for obj in view_layer.objects if obj.select_get()]
    try:
        yield
    finally:
        render.fps, render.fps_base = saved["fps"], saved["fps_base"]
        scene.frame_start, scene.frame_end = saved["frame_start"], saved["frame_end"]
        if (scene.frame_current, scene.frame_subframe) != (saved["frame_current"], saved["subframe"]):
            scene.frame_set(saved["frame_current"], subframe=saved["subframe"])
        for obj in view_layer.objects:
            if obj.select_get():
                obj.select_set(False)
        for obj in selected:
            with contextlib.suppress(ReferenceError, RuntimeError):
                obj.select_set(True)
        with contextlib.suppress(ReferenceError):
            view_layer.objects.active = active
            if active is not None and mode != "OBJECT" and active.mode != mode \
                    and bpy.ops.object.mode_set.poll():
                with contextlib.suppress(RuntimeError, TypeError):
                    bpy.ops.object.mode_set(mode=mode)


def _pick_armature(new_ids, path: Path):
    armatures = [idb for idb in new_ids if isinstance(idb, bpy.types.Object) and idb.type == "ARMATURE"]
    if not armatures:
        raise SourceFormatError(f"{path.name}: the FBX file has no armature (skeleton) to read motion from")
    armatures.sort(key=lambda obj: (-len(obj.data.bones), obj.name))
    return armatures[0], len(armatures)


def _file_name(obj, new_ids) -> str:
    """The object's name as in the file: without the ".001" Blender adds when the user's file
    already has an object of that name."""
    base, dot, number = obj.name.rpartition(".")
    if dot and number.isdigit() and len(number) == 3:
        existing = bpy.data.objects.get(base)
        if existing is not None and existing not in new_ids:
            return base
    return obj.name


def _isolate(arm, sampler_scene, new_ids):
    """Move the imported objects out of the user's scene; the armature and its parents go to the
    private sampling scene."""
    for idb in new_ids:
        if isinstance(idb, bpy.types.Object):
            for coll in list(idb.users_collection):
                coll.objects.unlink(idb)
    obj = arm
    while obj is not None:
        sampler_scene.collection.objects.link(obj)
        obj.hide_viewport = False  # a hidden object is not evaluated; this one is ours, not the user's
        obj = obj.parent


# --- sampling and conversion ---------------------------------------------------------------------

def _bone_order(bones):
    """Bone indices, parents first (siblings keep the armature's order), and each one's parent."""
    index = {b.name: i for i, b in enumerate(bones)}
    children = {i: [] for i in range(len(bones))}
    roots = []
    for i, b in enumerate(bones):
        (children[index[b.parent.name]] if b.parent else roots).append(i)
    order = []
    stack = list(reversed(roots))
    while stack:
        i = stack.pop()
        order.append(i)
        stack.extend(reversed(children[i]))
    return order, roots, children


def _rotations_of(matrices: np.ndarray) -> np.ndarray:
    """Unit quaternions of the rotation part of (..., 4, 4) affine matrices (scale removed)."""
    rot = matrices[..., :3, :3]
    rot = rot / np.maximum(np.linalg.norm(rot, axis=-2, keepdims=True), 1e-12)
    return matrix_to_quat(rot)


def _sample(arm, arm_name: str, sampler_scene, fps: float, fps_base: float, declared: float,
            stretch_tolerance: float, path: Path) -> SourceMotion:
    anim = arm.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        raise SourceFormatError(f"{path.name}: the armature {arm.name!r} has no animation")
    start, end = (float(v) for v in action.frame_range)
    # The importer keys file time t at frame anim_offset + t * round(fps); the file's own frames
    # are therefore fps_base apart (1 for integer rates, 30/29.97 for NTSC ones).
    count = int(math.floor((end - start) / fps_base + 1e-6)) + 1
    frames = start + fps_base * np.arange(count)

    bones = arm.data.bones
    n_bones = len(bones)
    order, roots, children = _bone_order(bones)
    synthetic_root = len(roots) > 1
    pose_names = [pb.name for pb in arm.pose.bones]
    pose_index = np.array([pose_names.index(bones[i].name) for i in order])

    sampler_scene.render.fps, sampler_scene.render.fps_base = round(fps * fps_base), fps_base
    view_layer = sampler_scene.view_layers[0]
    pose = np.empty((count, n_bones, 4, 4))
    obj_world = np.empty((count, 4, 4))
    buf = np.empty(n_bones * 16)
    for k, frame in enumerate(frames):
        whole = math.floor(frame + 1e-9)
        sampler_scene.frame_set(int(whole), subframe=float(max(frame - whole, 0.0)))
        evaluated = arm.evaluated_get(view_layer.depsgraph)
        evaluated.pose.bones.foreach_get("matrix", buf)
        pose[k] = buf.reshape(n_bones, 4, 4).transpose(0, 2, 1)  # Blender's flat order is column-major
        obj_world[k] = np.array(evaluated.matrix_world)

    rest_local = np.empty(n_bones * 16)
    bones.foreach_get("matrix_local", rest_local)
    rest_local = rest_local.reshape(n_bones, 4, 4).transpose(0, 2, 1)[order]
    pose = pose[:, pose_index]
    world = obj_world[:, None] @ pose                     # (T, B, 4, 4)
    rest_world = obj_world[0] @ rest_local                # (B, 4, 4), object at the first frame

    names = [bones[i].name for i in order]
    position_in_order = {bones[b].name: k for k, b in enumerate(order)}
    parents = [position_in_order[bones[i].parent.name] if bones[i].parent else -1 for i in order]
    end_site = [not children[i] and bones[i].name.endswith(_END_SUFFIXES) for i in order]
    if synthetic_root:
        root_name = arm_name
        while root_name in names:
            root_name += "_root"
        names.insert(0, root_name)
        parents = [-1] + [p + 1 for p in parents]
        end_site.insert(0, False)
        world = np.concatenate((obj_world[:, None], world), axis=1)
        rest_world = np.concatenate((obj_world[:1], rest_world), axis=0)
    parents = np.array(parents)

    heads = world[..., :3, 3]                            # (T, J, 3)
    rest_heads = rest_world[:, :3, 3]
    global_q = quat_multiply(_rotations_of(world), quat_conjugate(_rotations_of(rest_world))[None])
    global_q = quat_normalize(global_q)
    local_q = global_q.copy()
    child = np.arange(1, len(names))
    local_q[:, child] = quat_multiply(quat_conjugate(global_q[:, parents[child]]), global_q[:, child])

    offsets = rest_heads.copy()
    offsets[child] = rest_heads[child] - rest_heads[parents[child]]
    # Offsets seen from each parent's zero-pose frame, per frame: constant for a plain FK rig.
    moving = np.zeros((count, len(names), 3))
    moving[:, 0] = offsets[0]
    moving[:, child] = quat_rotate(quat_conjugate(global_q[:, parents[child]]),
                                   heads[:, child] - heads[:, parents[child]])
    size = max(float(np.ptp(rest_heads, axis=0).max()), 1e-9)
    stretch = float(np.abs(moving[:, child] - offsets[child]).max()) if len(child) else 0.0
    local_offsets = moving if stretch > stretch_tolerance * size else None

    extent_m = size * declared
    trusted = _HUMAN_EXTENT_M[0] <= extent_m <= _HUMAN_EXTENT_M[1]
    skeleton = SourceSkeleton(names, parents, offsets, np.array(end_site))
    metadata = {
        "format": "fbx",
        "importer": "bpy.ops.import_scene.fbx",
        "importer_options": dict(IMPORT_OPTIONS),
        "armature": arm_name,
        "action": action.name,
        "blender_frames": (float(frames[0]), float(frames[-1])),
        "declared_metres_per_unit": declared,
        "rest_extent_units": size,
        "max_offset_change": stretch,
    }
    if not trusted:
        metadata["unit_note"] = (f"the file's declared unit gives a {extent_m:.2f} m figure, not a human one, "
                                 f"so metres_per_unit is left to the retargeter")
    return SourceMotion(skeleton, float(fps), local_q, heads[:, 0], local_offsets=local_offsets, up_axis="Z",
                        metres_per_unit=declared if trusted else None, source=os.fspath(path), metadata=metadata)


def _declared_metres_per_unit(scene) -> float:
    """Metres per Blender unit as the importer assumed it (it scales the file's unit to the scene's
    unit scale; with unit system NONE one unit is taken as a metre)."""
    units = scene.unit_settings
    return 1.0 if units.system == "NONE" else float(units.scale_length)
