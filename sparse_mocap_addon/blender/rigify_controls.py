"""Drive a generated Rigify rig through its FK controls, from wanted world rotations of its ORG bones.

A generated Rigify rig cannot be keyed on its ORG or DEF bones: constraints drive them from control
bones. This module turns wanted armature-space rotations of the ORG bones (``pose_bone.matrix``'s 3x3
part; Blender's armature space) and the wanted head of ``ORG-spine`` into the controls' pose channels.

The structure it relies on, read from the constraints of a rig generated from Blender's human
metarig (Rigify of Blender 5.0), under :data:`SETTINGS`:

* Limbs. ``ORG-thigh.L`` copies the world transform of ``thigh_fk.L`` at full influence and of
  ``thigh_ik.L`` at ``1 - IK_FK`` (a driver on ``thigh_parent.L``): ``IK_FK = 1`` is pure FK, so an
  ORG limb bone's world matrix *is* its FK control's. ``thigh_fk.L`` hangs under ``MCH-thigh_parent.L``
  (child of ``ORG-spine``) whose Copy Rotation of ``root`` has influence ``FK_limb_follow``: at 0 it
  only follows ``ORG-spine``. ``foot_fk``/``hand_fk`` hang under ``MCH-foot_fk``/``MCH-hand_fk``
  (Copy Scale only), ``toe_fk`` under ``MCH-toe_fk`` (no constraint). Arms: ``shoulder.L`` is a plain
  child of ``ORG-spine.003``, ``ORG-shoulder.L`` copies it, ``upper_arm_fk.L`` hangs under
  ``MCH-upper_arm_parent.L`` (child of ``ORG-shoulder.L``, same ``FK_limb_follow`` switch).
* Torso. ``torso`` hangs under ``MCH-torso.parent``, an Armature constraint onto ``root`` when
  ``torso_parent = 1``; ``root`` stays at rest, so ``torso``'s parent is fixed. ``hips`` and ``chest``
  are children of ``torso``.
* Spine (pivot at ``spine.002``'s head). Below the pivot the FK chain runs downwards: ``torso`` ->
  ``MCH-spine.001`` -> ``spine_fk.001`` -> ``MCH-spine`` -> ``spine_fk``; above it upwards: ``torso``
  -> ``MCH-spine.002`` -> ``spine_fk.002`` -> ``MCH-spine.003`` -> ``spine_fk.003``. Each ``MCH-spine*``
  copies half of ``hips``'s (or ``chest``'s) LOCAL transform: with ``hips`` and ``chest`` keyed at rest
  they sit at rest under their parents. ORG bones hang under tweak bones (left at rest):
  ``ORG-spine`` and ``ORG-spine.001`` both under ``spine_fk`` (through ``tweak_spine``/``.001``),
  ``ORG-spine.002`` under ``MCH-pivot`` (child of ``spine_fk.002`` copying ``spine_fk.001``'s world
  transform at 0.5: the slerp of the two), ``ORG-spine.003`` under ``spine_fk.003``. The DEF spine
  bones copy a tweak and stretch to the next, so they point along the chain of tweak heads.
* Neck and head. ``neck`` hangs under ``MCH-ROT-neck`` (child of ``spine_fk.003``, Copy Rotation of
  ``torso`` at ``1 - neck_follow``), ``head`` under ``MCH-ROT-head`` (child of ``neck``, Copy Rotation
  of ``torso`` at ``1 - head_follow``).
  ``ORG-spine.006`` copies ``head``; ``ORG-spine.004`` copies ``tweak_spine.004`` (child of ``neck``)
  and stretches to ``tweak_spine.005``, a point carried by ``neck``; ``ORG-spine.005`` copies
  ``tweak_spine.005`` (which turns by half of ``head``'s local rotation) and stretches to ``head``.

Keys: ``torso`` takes the pelvis's turn and the location that puts ``ORG-spine``'s head in place (the
root motion; ``root`` stays at rest); ``hips`` and ``chest`` are keyed at rest; every FK control takes
the rotation that makes its ORG bone's. Tweaks, IK controls, fingers and face are left alone.

What cannot be exact (no tweak is turned): ``ORG-spine.001`` turns with ``spine_fk`` like
``ORG-spine``; ``ORG-spine.002`` gets the slerp halfway between ``spine_fk.001`` and ``spine_fk.002``;
the two neck bones share the one ``neck`` control. Each spine FK control takes its own ORG bone's
rotation, so every tweak head (the joints the DEF spine bones span) lands where the wanted chain puts
it; the neck control aims at the wanted head position with the mean of the two neck rotations.
"""

from __future__ import annotations

import numpy as np

from ..core.kinematics.rotations import (
    matrix_to_quat, quat_continuous, quat_multiply, quat_slerp, quat_to_matrix, rotation_between_vectors,
)

SIDES = (".L", ".R")
PELVIS = "ORG-spine"

# Custom properties set once (not keyed), read through drivers: IK_FK = 1 sets the IK copy's influence
# to 1 - 1 = 0 (pure FK); FK_limb_follow = 0 is the influence of the limb parent's Copy Rotation of
# root (off: limbs follow the body); torso_parent = 1 gives the Armature constraint onto root weight
# 1; neck_follow = head_follow = 1 set their MCH-ROT Copy Rotation of torso to 1 - 1 = 0 (off: neck
# and head follow the chest and the neck).
SETTINGS = {
    **{f"{limb}_parent{side}": {"IK_FK": 1.0, "FK_limb_follow": 0.0}
       for limb in ("thigh", "upper_arm") for side in SIDES},
    "torso": {"torso_parent": 1, "neck_follow": 1.0, "head_follow": 1.0},
}


def _limb_bones(side: str) -> dict:
    """ORG limb bone -> (its logical ORG parent, the FK control it copies, that control's anchor)."""
    return {   # between control and anchor:
        f"ORG-thigh{side}": (PELVIS, f"thigh_fk{side}", PELVIS),   # MCH-thigh_parent, FK_limb_follow 0
        f"ORG-shin{side}": (f"ORG-thigh{side}", f"shin_fk{side}", f"thigh_fk{side}"),   # nothing
        f"ORG-foot{side}": (f"ORG-shin{side}", f"foot_fk{side}", f"shin_fk{side}"),   # MCH-foot_fk, Copy Scale
        f"ORG-toe{side}": (f"ORG-foot{side}", f"toe_fk{side}", f"foot_fk{side}"),   # MCH-toe_fk, unconstrained
        f"ORG-shoulder{side}": ("ORG-spine.003", f"shoulder{side}", "ORG-spine.003"),   # nothing
        f"ORG-upper_arm{side}": (f"ORG-shoulder{side}", f"upper_arm_fk{side}",
                                 f"ORG-shoulder{side}"),   # MCH-upper_arm_parent, FK_limb_follow 0
        f"ORG-forearm{side}": (f"ORG-upper_arm{side}", f"forearm_fk{side}", f"upper_arm_fk{side}"),   # nothing
        f"ORG-hand{side}": (f"ORG-forearm{side}", f"hand_fk{side}", f"forearm_fk{side}"),   # MCH-hand_fk, Copy Scale
    }


# ORG bone -> (logical ORG parent, FK control whose world matrix it takes, the control's anchor).
# An anchor is the nearest ancestor of the control whose world rotation is known; the bones between
# (all MCH-) sit at rest under their parents with SETTINGS and hips/chest at rest (module docstring).
# ORG-spine.004/.005 have no control of their own (the neck control serves both).
# The spine FK controls take their ORG bone's rotation even where the ORG bone does not follow them
# (ORG-spine.001, .002): that places the tweak heads, hence the DEF spine bones, on the wanted chain.
ORG_BONES = {   # between control and anchor:
    PELVIS: (None, "spine_fk", "spine_fk.001"),                    # MCH-spine, half of hips (at rest)
    "ORG-spine.001": (PELVIS, "spine_fk.001", "torso"),            # MCH-spine.001, half of hips
    "ORG-spine.002": ("ORG-spine.001", "spine_fk.002", "torso"),   # MCH-spine.002, half of chest
    "ORG-spine.003": ("ORG-spine.002", "spine_fk.003", "spine_fk.002"),   # MCH-spine.003, half of chest
    "ORG-spine.004": ("ORG-spine.003", None, None),
    "ORG-spine.005": ("ORG-spine.004", None, None),
    "ORG-spine.006": ("ORG-spine.005", "head", "neck"),            # MCH-ROT-head, head_follow 1
    **_limb_bones(".L"), **_limb_bones(".R"),
}
# Controls that carry no ORG bone of their own, with their anchors (torso: MCH-torso.parent, an
# Armature constraint onto root; neck: MCH-ROT-neck, neck_follow 1).
BODY_CONTROLS = {"torso": "root", "hips": "torso", "chest": "torso", "neck": "spine_fk.003"}
# ORG bones whose evaluated rotation is exactly the wanted one, usable as anchors: each copies its
# control (shoulder), or hangs at rest under it through a tweak with the control's rest orientation.
EXACT_ORG = (PELVIS, "ORG-spine.003", "ORG-shoulder.L", "ORG-shoulder.R")


def _controls() -> dict:
    """Every control this module keys -> its anchor."""
    anchors = dict(BODY_CONTROLS)
    anchors.update({control: anchor for _, control, anchor in ORG_BONES.values() if control})
    return anchors


def _missing_bones(obj) -> list:
    bones = obj.data.bones
    needed = [*ORG_BONES, *_controls(), "root", *SETTINGS]
    return [name for name in needed if name not in bones]


def is_rigify_rig(obj) -> bool:
    """True for a generated Rigify rig (ORG- layer and the controls used here); False for a plain
    armature, the metarig, or anything else."""
    return obj is not None and getattr(obj, "type", None) == "ARMATURE" and not _missing_bones(obj)


def _check_rig(obj) -> None:
    """One sentence when ``obj`` is not a generated Rigify rig or its controls hang differently."""
    name = getattr(obj, "name", obj)
    if obj is None or getattr(obj, "type", None) != "ARMATURE":
        raise ValueError(f"'{name}' is not an armature; pick the generated Rigify rig")
    missing = _missing_bones(obj)
    if missing:
        listed = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise ValueError(f"armature '{name}' is not a generated Rigify rig (it lacks {listed}); "
                         "generate the rig from its metarig first")
    if "torso" not in _ancestors(obj, PELVIS):   # the path _torso_location walks
        raise ValueError(f"armature '{name}': {PELVIS} does not hang under 'torso', unlike the Rigify rigs "
                         "this retarget knows")
    for control, anchor in _controls().items():
        if not _hangs_under(obj, control, anchor):
            raise ValueError(f"armature '{name}': '{control}' does not hang under '{anchor}' through MCH- "
                             "bones only, unlike the Rigify rigs this retarget knows")


def _ancestors(obj, name: str) -> list:
    bone, names = obj.data.bones[name].parent, []
    while bone is not None:
        names.append(bone.name)
        bone = bone.parent
    return names


def _hangs_under(obj, control: str, anchor: str) -> bool:
    """Whether ``anchor`` is ``control``'s nearest ancestor but MCH- bones; a parentless MCH- bone
    hangs under the bone its Armature constraint follows (Rigify's switchable parents)."""
    bone = obj.data.bones[control].parent
    while bone is not None and bone.name != anchor and bone.name.startswith("MCH-"):
        if bone.parent is None:
            switch = [c for c in obj.pose.bones[bone.name].constraints if c.type == "ARMATURE"]
            targets = [t.subtarget for c in switch for t in c.targets]
            return targets == [anchor]
        bone = bone.parent
    return bone is not None and bone.name == anchor


def _check_input(obj, rotations: dict, pelvis_head) -> int:
    """The frame count, after checking names and shapes (one sentence otherwise)."""
    unknown = sorted(set(rotations) - set(ORG_BONES))
    if unknown:
        raise ValueError(f"no Rigify control drives {', '.join(unknown)}; expected ORG bones among "
                         f"{', '.join(ORG_BONES)}")
    if PELVIS not in rotations:
        raise ValueError(f"the rotations for '{obj.name}' lack the pelvis bone {PELVIS}")
    shape = np.shape(pelvis_head)
    if len(shape) != 2 or shape[1] != 3:
        raise ValueError(f"the {PELVIS} head positions have shape {shape}; expected (frames, 3)")
    frames = shape[0]
    for bone, matrices in rotations.items():
        if np.shape(matrices) != (frames, 3, 3):
            raise ValueError(f"the rotations of {bone} have shape {np.shape(matrices)}; expected "
                             f"({frames}, 3, 3) like the {frames} pelvis head positions")
        if not np.all(np.isfinite(matrices)):
            raise ValueError(f"the rotations of {bone} hold non-finite values")
    return frames


def _rest(obj) -> dict:
    """name -> (rest rotation (3, 3), head (3,), tail (3,)), armature space, read once."""
    rest = {}
    for bone in obj.data.bones:
        rest[bone.name] = (np.array(bone.matrix_local.to_3x3()), np.array(bone.head_local),
                           np.array(bone.tail_local))
    return rest


def _complete(rotations: dict, rest: dict) -> dict:
    """Every ORG bone's wanted world rotation: those not given keep their rest pose under their
    logical parent (ORG_BONES lists parents first)."""
    wanted = {}
    for bone, (parent, _, _) in ORG_BONES.items():
        if bone in rotations:
            wanted[bone] = np.asarray(rotations[bone], dtype=np.float64)
        else:
            wanted[bone] = wanted[parent] @ (rest[parent][0].T @ rest[bone][0])
    return wanted


def _delta(world: np.ndarray, rest_rotation: np.ndarray) -> np.ndarray:
    """World rotation relative to rest (T, 3, 3): what turns the rest pose into this one."""
    return world @ rest_rotation.T


def _neck_delta(wanted: dict, rest: dict) -> np.ndarray:
    """One rotation for the two ORG neck bones: their mean (slerp halfway), then swung so the neck
    control's tail (the head's pivot) lands where the wanted neck chain puts it."""
    lower, upper = "ORG-spine.004", "ORG-spine.005"
    q_lower = matrix_to_quat(_delta(wanted[lower], rest[lower][0]))
    q_upper = matrix_to_quat(_delta(wanted[upper], rest[upper][0]))
    mean = quat_slerp(q_lower, q_upper, 0.5)
    _, neck_head, neck_tail = rest["neck"]
    chord = (_delta(wanted[lower], rest[lower][0]) @ (rest[upper][1] - rest[lower][1])
             + _delta(wanted[upper], rest[upper][0]) @ (rest[upper][2] - rest[upper][1]))
    swing = rotation_between_vectors(quat_to_matrix(mean) @ (neck_tail - neck_head), chord)
    return quat_to_matrix(quat_multiply(swing, mean))


def _control_worlds(wanted: dict, rest: dict) -> dict:
    """Each control's wanted world rotation (T, 3, 3)."""
    torso_world = _delta(wanted[PELVIS], rest[PELVIS][0]) @ rest["torso"][0]   # the pelvis's turn
    worlds = {"torso": torso_world, "neck": _neck_delta(wanted, rest) @ rest["neck"][0]}
    for control in ("hips", "chest"):   # at rest under torso, so the MCH-spine bones add nothing
        worlds[control] = torso_world @ (rest["torso"][0].T @ rest[control][0])
    for bone, (_, control, _) in ORG_BONES.items():
        if control:   # the control turns as its ORG bone (which copies it, or hangs under it at rest)
            worlds[control] = _delta(wanted[bone], rest[bone][0]) @ rest[control][0]
    return worlds


def _local_rotation(anchor_world, anchor_rest, rest, world) -> np.ndarray:
    """A control's pose rotation under an anchor whose world rotation is known, with the bones
    between at rest: inv(anchor_world @ inv(anchor_rest) @ rest) @ world."""
    return np.swapaxes(anchor_world @ (anchor_rest.T @ rest), -1, -2) @ world


def _torso_location(worlds: dict, pelvis_head: np.ndarray, rest: dict, parents: dict) -> np.ndarray:
    """``torso``'s location (T, 3) putting ORG-spine's head at ``pelvis_head``.

    Walking from ORG-spine up to torso, each bone's head sits at its rest offset from its parent's
    head turned by the parent's world turn (no bone between is translated or stretched); a bone that
    is no control turns with its nearest control ancestor (tweak_spine with spine_fk, ...).
    """
    offset = np.zeros_like(pelvis_head)
    bone = PELVIS
    while bone != "torso":
        parent = parents[bone]
        mover = parent
        while mover not in worlds:
            mover = parents[mover]
        offset += _delta(worlds[mover], rest[mover][0]) @ (rest[bone][1] - rest[parent][1])
        bone = parent
    # torso's parent is at rest, so its head is rest head + rest rotation @ location (local location).
    rotation, head, _ = rest["torso"]
    return (pelvis_head - offset - head) @ rotation


def rigify_control_channels(obj, org_world_rotations: dict, pelvis_head) -> tuple[dict, dict]:
    """Pose channels of a generated Rigify rig's controls reproducing wanted ORG bone rotations.

    ``org_world_rotations``: ORG bone name -> (T, 3, 3) wanted armature-space rotations (any subset
    of ``ORG_BONES`` with at least ``ORG-spine``; the others keep their rest pose under their
    parent). ``pelvis_head``: (T, 3) wanted armature-space head of ``ORG-spine``.
    Returns ``(settings, channels)``: ``settings`` the custom properties to set once
    ({pose bone: {property: value}}, see :func:`apply_rigify_settings`); ``channels`` control name ->
    {"rotation_quaternion": (T, 4) (w, x, y, z)} plus ``"location"`` (T, 3) for ``torso``.
    Raises ValueError in one sentence for a rig that is not a generated Rigify rig or bad input.
    """
    _check_rig(obj)
    _check_input(obj, org_world_rotations, pelvis_head)
    rest = _rest(obj)
    parents = {bone.name: bone.parent.name if bone.parent else None for bone in obj.data.bones}
    wanted = _complete(org_world_rotations, rest)
    worlds = _control_worlds(wanted, rest)
    known = {**worlds, **{bone: wanted[bone] for bone in EXACT_ORG}, "root": rest["root"][0]}
    channels = {}
    for control, anchor in _controls().items():
        local = _local_rotation(known[anchor], rest[anchor][0], rest[control][0], worlds[control])
        channels[control] = {"rotation_quaternion": quat_continuous(matrix_to_quat(local), axis=0)}
    channels["torso"]["location"] = _torso_location(worlds, np.asarray(pelvis_head, dtype=np.float64),
                                                    rest, parents)
    return {bone: dict(props) for bone, props in SETTINGS.items()}, channels


def apply_rigify_settings(obj, settings: dict, channels: dict) -> None:
    """Set the custom properties of ``settings`` and put every keyed control in quaternion rotation
    mode (Rigify's shoulders use YXZ Euler, which would ignore ``rotation_quaternion`` keys)."""
    pose_bones = obj.pose.bones
    for bone, props in settings.items():
        for prop, value in props.items():
            pose_bones[bone][prop] = value
    for control in channels:
        pose_bones[control].rotation_mode = "QUATERNION"
