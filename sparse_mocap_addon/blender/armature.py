"""Build an SMPL-topology armature (and its default body mesh) from a core Skeleton.

Bone convention (relied on by baking and export):
- one bone per SMPL joint, named after it (``pelvis``, ``left_hip``, ...), parented as in SMPL;
- a bone's head is its joint; its tail is its child joint (the midline child, spine1 or neck, for
  the pelvis and spine3), and for leaves (head, hands, feet) the segment tip;
- rest pose is the Skeleton's T-pose;
- roll: each bone's local Z axis faces the subject's forward (Blender -Y), except bones that
  themselves point mostly forward (ankle and foot bones, which run along the foot), whose Z axis
  faces up (+Z). Local Y runs head to tail, as always in Blender, and local X follows from the
  right-handed frame; so for the arms and the vertical bones X points to the subject's left or
  right along the joint's main flexion axis.
The rest orientations are read back from Blender after building, so baking never re-derives roll.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core.body.mesh import body_mesh, segment_ends
from ..core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, LEAVES, PARENTS, Skeleton
from .build import editing_bones, skinned_mesh
from .coords import blender_to_core_vectors, core_to_blender_vectors
from .smpl_body import add_smpl_mesh, scene_body, store_body

FORWARD = (0.0, -1.0, 0.0)  # Blender: the subject faces -Y
UP = (0.0, 0.0, 1.0)


def roll_hint(direction) -> tuple:
    """The direction a bone's Z axis is turned towards (see the module docstring)."""
    direction = np.asarray(direction, dtype=np.float64)
    along_forward = abs(direction @ np.array(FORWARD)) / max(np.linalg.norm(direction), 1e-12)
    return UP if along_forward > np.sqrt(0.5) else FORWARD


def create_armature(skeleton: Skeleton, name: str = "SMPL_Armature", collection=None,
                    with_mesh: bool = True, context=None, body=None):
    """Create a new armature object (and a skinned body mesh child); returns the armature object.

    Never reuses or overwrites existing data: Blender gives new names (``.001``) on collision.
    With the user's SMPL model file set in the scene (:mod:`.smpl_body`), or ``body`` (a
    :class:`.smpl_body.SmplBody`) given, the armature is that body's (its betas fitted to
    ``skeleton``): its bones from the betas and, ``with_mesh``, the model's mesh with shape keys;
    the body is kept on the object. Without either, the default body as always.
    """
    context = context or bpy.context
    collection = collection or context.scene.collection
    if body is None:
        body = scene_body(context.scene, skeleton)
    if body is not None:
        skeleton = body.skeleton
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    obj.show_in_front = True

    head, tail = segment_ends(skeleton)
    head_b = core_to_blender_vectors(head)
    tail_b = core_to_blender_vectors(tail)
    _build_bones(context, obj, head_b, tail_b)
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    if body is not None:
        store_body(obj, body)
        if with_mesh:
            add_smpl_mesh(obj, body, collection=collection)
    elif with_mesh:
        create_body_mesh(obj, skeleton, collection=collection)
    return obj


def _build_bones(context, obj, head_b: np.ndarray, tail_b: np.ndarray):
    with editing_bones(context, obj) as edit_bones:
        bones = []
        for j, bone_name in enumerate(JOINT_NAMES):
            bone = edit_bones.new(bone_name)
            bone.head = head_b[j]
            bone.tail = tail_b[j]
            bone.align_roll(roll_hint(tail_b[j] - head_b[j]))
            bones.append(bone)
        for j in range(1, len(JOINT_NAMES)):
            parent = bones[PARENTS[j]]
            bones[j].parent = parent
            bones[j].use_connect = bool(np.allclose(head_b[j], tail_b[PARENTS[j]], atol=1e-9))


def create_body_mesh(armature_obj, skeleton: Skeleton, collection=None):
    """A skinned default body (ellipsoid per bone) parented to the armature with an Armature modifier."""
    vertices, faces, bone_index = body_mesh(skeleton)
    weights = np.zeros((len(vertices), len(JOINT_NAMES)))
    weights[np.arange(len(vertices)), bone_index] = 1.0
    return skinned_mesh(armature_obj, vertices, faces, weights, JOINT_NAMES, collection)


def rest_frames(obj) -> tuple[np.ndarray, np.ndarray]:
    """Armature-space rest rotations (24, 3, 3) and head positions (24, 3) of the SMPL bones.

    Raises ValueError naming the missing bones when ``obj`` is not an SMPL-topology armature.
    """
    bones = obj.data.bones
    missing = [n for n in JOINT_NAMES if n not in bones]
    if missing:
        raise ValueError(f"armature '{obj.name}' lacks the SMPL bone(s) {', '.join(missing)}; "
                         "create one with 'Create Personalised Armature'")
    rot = np.empty((len(JOINT_NAMES), 3, 3))
    heads = np.empty((len(JOINT_NAMES), 3))
    for j, bone_name in enumerate(JOINT_NAMES):
        bone = bones[bone_name]
        rot[j] = np.array(bone.matrix_local.to_3x3())
        heads[j] = np.array(bone.head_local)
    return rot, heads


def is_smpl_armature(obj) -> bool:
    return obj is not None and obj.type == "ARMATURE" and all(n in obj.data.bones for n in JOINT_NAMES)


def skeleton_from_armature(obj) -> Skeleton:
    """Read the rest Skeleton back from an SMPL armature's bones (core frame, metres).

    The floor is the armature's origin plane, as :func:`create_armature` builds it.
    """
    _, heads_b = rest_frames(obj)
    heads = blender_to_core_vectors(heads_b)
    tails = blender_to_core_vectors(np.array([np.array(obj.data.bones[n].tail_local) for n in JOINT_NAMES]))
    offsets = heads.copy()
    offsets[1:] = heads[1:] - heads[PARENTS[1:]]
    leaves = {j: tails[j] - heads[j] for j in LEAVES}
    sole = float(min(heads[JOINT_INDEX["left_ankle"], 1], heads[JOINT_INDEX["right_ankle"], 1]))
    return Skeleton(offsets, leaves, sole_height=sole)
