"""Character rigs the tests build themselves (no downloaded file): the bone layouts of common rigs
on a real body's proportions (our SMPL skeleton of a 1.75 m body), in their typical rest poses.

``rig_bones(kind)`` is plain data (name, parent, head, tail in the core frame, metres), usable
without Blender; ``build_armature`` turns it into a real armature with each rig's own bone roll;
``build_rigify`` adds Blender's human metarig and generates the Rigify rig from it.
"""

from __future__ import annotations

import numpy as np

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.mesh import segment_ends
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS
from sparse_mocap_addon.core.mocap import joint_maps

ARM_JOINTS = ("shoulder", "elbow", "wrist", "hand")
LEG_JOINTS = ("left_hip", "left_knee", "left_ankle", "left_foot")


def sided(left: dict, midline: dict, right_of) -> dict:
    """Both sides from the left one (each entry a list of names)."""
    return joint_maps.sided(left, midline, lambda names: [right_of(n) for n in names])


# Per rig: segment -> bone names (spine and neck chains split their segment evenly), twist bones per
# segment, extra bones above the pelvis, the rest pose's arm angle below horizontal, and the roll.
RIGS = {
    "mixamo": dict(
        plan=sided({"left_hip": ["LeftUpLeg"], "left_knee": ["LeftLeg"], "left_ankle": ["LeftFoot"],
                     "left_foot": ["LeftToeBase"], "left_collar": ["LeftShoulder"], "left_shoulder": ["LeftArm"],
                     "left_elbow": ["LeftForeArm"], "left_wrist": ["LeftHand"], "left_hand": ["LeftHandMiddle1"]},
                    {"pelvis": ["Hips"], "spine": ["Spine", "Spine1", "Spine2"], "neck": ["Neck"], "head": ["Head"]},
                    lambda n: n.replace("Left", "Right")),
        prefix="mixamorig:", arm_down_deg=45.0, roll_deg=0.0),
    "unreal": dict(
        plan=sided({"left_hip": ["thigh_l"], "left_knee": ["calf_l"], "left_ankle": ["foot_l"],
                     "left_foot": ["ball_l"],
                     "left_collar": ["clavicle_l"], "left_shoulder": ["upperarm_l"], "left_elbow": ["lowerarm_l"],
                     "left_wrist": ["hand_l"], "left_hand": ["middle_01_l"]},
                    {"pelvis": ["pelvis"], "spine": [f"spine_0{i}" for i in range(1, 6)],
                     "neck": ["neck_01", "neck_02"], "head": ["head"]},
                    lambda n: n[:-2] + "_r"),
        twist=sided({"left_hip": ["thigh_twist_01_l", "thigh_twist_02_l"], "left_knee": ["calf_twist_01_l"],
                      "left_shoulder": ["upperarm_twist_01_l", "upperarm_twist_02_l"],
                      "left_elbow": ["lowerarm_twist_01_l", "lowerarm_twist_02_l"]}, {}, lambda n: n[:-2] + "_r"),
        roots=["root"], arm_down_deg=45.0, roll_deg=90.0),
    "vrm": dict(
        plan=sided({"left_hip": ["leftUpperLeg"], "left_knee": ["leftLowerLeg"], "left_ankle": ["leftFoot"],
                     "left_foot": ["leftToes"], "left_collar": ["leftShoulder"], "left_shoulder": ["leftUpperArm"],
                     "left_elbow": ["leftLowerArm"], "left_wrist": ["leftHand"], "left_hand": ["leftMiddleProximal"]},
                    {"pelvis": ["hips"], "spine": ["spine", "chest", "upperChest"], "neck": ["neck"], "head": ["head"]},
                    lambda n: "right" + n[4:]),
        arm_down_deg=0.0, roll_deg=-30.0),
    "cc_base": dict(
        plan=sided({"left_hip": ["CC_Base_L_Thigh"], "left_knee": ["CC_Base_L_Calf"], "left_ankle": ["CC_Base_L_Foot"],
                     "left_foot": ["CC_Base_L_ToeBase"], "left_collar": ["CC_Base_L_Clavicle"],
                     "left_shoulder": ["CC_Base_L_Upperarm"], "left_elbow": ["CC_Base_L_Forearm"],
                     "left_wrist": ["CC_Base_L_Hand"], "left_hand": ["CC_Base_L_Mid1"]},
                    {"pelvis": ["CC_Base_Hip"], "spine": ["CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02"],
                     "neck": ["CC_Base_NeckTwist01", "CC_Base_NeckTwist02"], "head": ["CC_Base_Head"]},
                    lambda n: n.replace("_L_", "_R_")),
        twist=sided({"left_hip": ["CC_Base_L_ThighTwist01"], "left_knee": ["CC_Base_L_CalfTwist01"],
                      "left_shoulder": ["CC_Base_L_UpperarmTwist01"], "left_elbow": ["CC_Base_L_ForearmTwist01"]},
                     {}, lambda n: n.replace("_L_", "_R_")),
        roots=["CC_Base_BoneRoot"], leg_parent="CC_Base_Pelvis", arm_down_deg=10.0, roll_deg=-120.0),
}


def _body_segments(arm_down_deg: float, height: float = 1.75) -> tuple[np.ndarray, np.ndarray]:
    """Head and tail (24, 3) of every SMPL segment of a body ``height`` tall, arms lowered by ``arm_down_deg``."""
    head, tail = segment_ends(skeleton_from_measurements(default_measurements(height=height)))
    for side, sign in (("left_", -1.0), ("right_", 1.0)):   # +Z is forward: lowering +X arm is -angle
        turn = axis_angle_to_matrix(np.array([0.0, 0.0, sign * np.radians(arm_down_deg)]))
        pivot = head[JOINT_INDEX[side + "shoulder"]].copy()
        for joint in ARM_JOINTS:
            j = JOINT_INDEX[side + joint]
            head[j], tail[j] = pivot + turn @ (head[j] - pivot), pivot + turn @ (tail[j] - pivot)
    return head, tail


def _split(points: list, count: int) -> np.ndarray:
    """``count + 1`` points evenly spaced by arc length along a polyline."""
    points = np.asarray(points, dtype=np.float64)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    wanted = np.linspace(0.0, arc[-1], count + 1)
    return np.stack([np.interp(wanted, arc, points[:, k]) for k in range(3)], axis=1)


def _segment_points(segment: str, count: int, head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    if segment == "spine":
        return _split([head[JOINT_INDEX[n]] for n in ("spine1", "spine2", "spine3", "neck")], count)
    if segment == "pelvis":
        return _split([head[0], head[JOINT_INDEX["spine1"]]], count)
    j = JOINT_INDEX[segment]
    return _split([head[j], tail[j]], count)


def _parent_segment(segment: str) -> str | None:
    if segment in ("spine", "left_hip", "right_hip"):
        return "pelvis"
    parent = PARENTS[JOINT_INDEX[segment]] if segment != "pelvis" else -1
    name = JOINT_NAMES[parent] if parent >= 0 else None
    return "spine" if name in ("spine1", "spine2", "spine3") else name


def rig_bones(kind: str, omit=(), height: float = 1.75) -> list:
    """(name, parent name or None, head, tail) of every bone of a test rig, parents first, core frame,
    on a body ``height`` tall.

    ``omit`` leaves out segments (e.g. a leg) with every bone under them.
    """
    spec = RIGS[kind]
    head, tail = _body_segments(spec["arm_down_deg"], height)
    prefix = spec.get("prefix", "")
    bones, last_bone = [], {}
    parent = None
    for root in spec.get("roots", []):   # a floor-level root standing straight up
        bones.append((prefix + root, parent, np.zeros(3), np.array([0.0, 0.2, 0.0])))
        parent = prefix + root
    plan = spec["plan"]
    for segment in [s for s in dict.fromkeys(("pelvis", "spine", *JOINT_NAMES)) if s in plan]:
        if segment in omit or _parent_segment(segment) in omit:
            omit = (*omit, segment)
            continue
        names = [prefix + n for n in plan[segment]]
        points = _segment_points(segment, len(names), head, tail)
        up = last_bone.get(_parent_segment(segment), parent)
        if segment in ("left_hip", "right_hip") and "leg_parent" in spec:
            up = _leg_parent(spec, bones, prefix, head)
        for k, name in enumerate(names):
            bones.append((name, up, points[k], points[k + 1]))
            up = name
        last_bone[segment] = up
        for k, twist in enumerate(spec.get("twist", {}).get(segment, [])):
            along = _split([points[0], points[-1]], len(spec["twist"][segment]) + 1)
            bones.append((prefix + twist, names[0], along[k + 1], along[k + 1] + 0.3 * (along[1] - along[0])))
    return bones


def _leg_parent(spec: dict, bones: list, prefix: str, head: np.ndarray) -> str:
    """CC's legs hang off a short pelvis bone under the hip bone (added once)."""
    name = prefix + spec["leg_parent"]
    if all(bone[0] != name for bone in bones):
        hip = prefix + spec["plan"]["pelvis"][0]
        bones.append((name, hip, head[0], head[0] - np.array([0.0, 0.1, 0.0])))
    return name


def rest_rotation(head, tail, roll: float) -> np.ndarray:
    """A bone's rest orientation (columns X, Y head to tail, Z), rolled by ``roll`` about Y from a
    reference whose Z axis is nearest the world's +Z (forward) or, for bones along Z, +Y."""
    y = np.asarray(tail, dtype=np.float64) - head
    y /= np.linalg.norm(y)
    reference = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(y, reference)
    x /= np.linalg.norm(x)
    x = np.cos(roll) * x + np.sin(roll) * np.cross(x, y)
    return np.stack([x, y, np.cross(x, y)], axis=1)


def rig_arrays(bones: list, seed: int | None = 0) -> tuple:
    """(names, parents, heads, tails, rest rotations) of ``rig_bones`` output, every bone rolled at
    random (``seed``; None: no roll): the arguments of ``describe_target_rig`` without Blender."""
    rng = np.random.default_rng(seed)
    names = [bone[0] for bone in bones]
    parents = [names.index(bone[1]) if bone[1] else -1 for bone in bones]
    heads = np.array([bone[2] for bone in bones])
    tails = np.array([bone[3] for bone in bones])
    rolls = rng.uniform(-np.pi, np.pi, len(bones)) if seed is not None else np.zeros(len(bones))
    rotations = np.array([rest_rotation(h, t, r) for h, t, r in zip(heads, tails, rolls)])
    return names, parents, heads, tails, rotations


def build_armature(kind: str, omit=(), name: str | None = None):
    """A real armature of the test rig ``kind`` (every bone rolled by the rig's own roll, roots by 0).

    Returns (object, {bone name: (head, tail)} in the core frame).
    """
    import bpy

    from sparse_mocap_addon.blender.coords import core_to_blender_vectors

    bones = rig_bones(kind, omit)
    roots = {RIGS[kind].get("prefix", "") + r for r in RIGS[kind].get("roots", [])}
    data = bpy.data.armatures.new(name or kind)
    obj = bpy.data.objects.new(name or kind, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone_name, parent, head, tail in bones:
        edit_bone = data.edit_bones.new(bone_name)
        edit_bone.head, edit_bone.tail = core_to_blender_vectors(head), core_to_blender_vectors(tail)
        edit_bone.roll = 0.0 if bone_name in roots else np.radians(RIGS[kind]["roll_deg"])
        if parent is not None:
            edit_bone.parent = data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj, {bone_name: (head, tail) for bone_name, _, head, tail in bones}


def build_rigify():
    """Blender's human metarig and the Rigify rig generated from it: (metarig, rig) objects.

    Rigify ships with the bpy module as a core add-on; it is enabled for the generation only.
    """
    import addon_utils
    import bpy

    addon_utils.enable("rigify", default_set=True)
    try:
        bpy.ops.object.armature_human_metarig_add()
        metarig = bpy.context.active_object
        bpy.ops.pose.rigify_generate()
        rig = bpy.context.active_object
    finally:
        addon_utils.disable("rigify", default_set=True)
    return metarig, rig
