"""An SMPL-24 Motion onto a character rig (:class:`~.target_rig.TargetRig`): the pose-bone channels
that make the rig move as the performer did, with the feet kept planted and on the floor.

Three steps, all vectorised over frames:

1. **The rig's body** (:func:`rig_body`). Every SMPL joint gets a position on the rig (the head of
   the first bone of its segment; the spine's inner joints at the SMPL fractions along the rig's
   spine; a missing collar, toe or hand from its neighbours) and a *rest match* ``P_j``: the global
   rotation that turns SMPL segment ``j`` from its T-pose direction onto the rig's rest direction of
   that segment. It is the shortest turn for limbs (so a T, A or any other rest pose is matched, and
   the bones' rolls never enter), the turn of heading alone for the feet and toes (a foot standing
   flat stays flat on a rig whose ankle sits higher or lower over its ball), and a two-axis frame for the pelvis (hips left-right, spine up)
   and the chest (neck up, collars left-right), so a rig facing any way is turned to face the
   performer's way. The rig's body as a :class:`Skeleton` follows: its offsets are the rig's rest
   geometry turned back into SMPL's T-pose (``P_parent^T (child - joint)``), so SMPL forward
   kinematics on it put the joints exactly where the rig's bones put them.
2. **Feet** (``core.feet.stage.feet_on_floor``): the motion moves onto that body (root path scaled
   by the legs' length), contacts are found on the source, planted feet stay put and no sole goes
   below the rig's floor.
3. **Bones**. Each mapped bone's world rotation is ``D_j(t) B_b`` with ``D_j = G_j(t) P_j^T`` the
   SMPL segment's turn away from the rig's rest pose and ``B_b`` the bone's rest orientation: a
   bone in its rest pose when the performer stands as the rig does. Chains with more bones than
   SMPL joints (five UE spine bones for three SMPL spine joints, two neck bones) interpolate
   ``D`` along the chain by arc length (slerp), so the chain bends smoothly and ends where SMPL's
   does. Pose-bone rotations follow as ``B_b^T B_p W_p^T W_b`` (Blender's convention, parent ``p``);
   bones outside the map (fingers, twist bones, mechanism bones) keep their rest pose and ride
   their parent; so do the fingers SMPL's hand joints map to, unless asked (``fingers=True``).

Asked to (``hands=True``), the arms are re-solved (two-bone IK, hands keeping their orientation) so
the wrists reach where the performer's were, in the world as the feet stage scaled it.

Root motion goes onto the pelvis bone, or (``root_motion="root"``, the default where the rig has
a floor-level root bone above its pelvis, as UE and Character Creator rigs do) its ground
projection onto the root bone and the rest onto the pelvis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..feet.lock import solve_limb
from ..feet.stage import FeetOptions, feet_on_floor
from ..kinematics.motion import Motion
from ..kinematics.rotations import (matrix_to_quat, quat_continuous, quat_slerp, quat_to_matrix,
                                   rotation_between_vectors)
from ..kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, Skeleton, forward_kinematics
from .target_rig import SPINE_JOINTS, TargetRig

ROOT_MOTION = ("auto", "hips", "root")
# SMPL's hand joints stand for the fingers (a rig maps them to a middle finger bone).
FINGER_SEGMENTS = ("left_hand", "right_hand")
# Frames turned into bone channels at a time (a long take's per-bone world rotations are never all held).
CHUNK_FRAMES = 20_000
# A rig whose lowest foot point is this close to y = 0 stands on y = 0; else on its lowest foot point.
FLOOR_SNAP_M = (-0.02, 0.10)
# A root bone carries root motion when its head is this close to the floor (m).
ROOT_NEAR_FLOOR_M = 0.15
_SPINE = tuple(JOINT_INDEX[n] for n in SPINE_JOINTS)
_NECK, _HEAD = JOINT_INDEX["neck"], JOINT_INDEX["head"]
_WRISTS = (JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"])
_FEET = tuple(JOINT_INDEX[f"{side}_{name}"] for side in ("left", "right") for name in ("ankle", "foot"))


def _segment_joints(segment: str) -> tuple:
    return _SPINE if segment == "spine" else (JOINT_INDEX[segment],)


@dataclass(frozen=True)
class RigBody:
    """The rig's body as SMPL sees it (see the module docstring, step 1)."""

    skeleton: Skeleton          # the rig's proportions in SMPL's T-pose; soles on y = 0
    rest_match: np.ndarray      # (24, 3, 3) P_j: SMPL global rotations that pose SMPL as the rig rests
    joints: np.ndarray          # (24, 3) the SMPL joints on the rig at rest, armature space (core frame)
    floor: float                # the rig's floor height in armature space


@dataclass
class RigMotion:
    """Pose-bone channels for a rig: ``rotations`` (T, n, 4) quaternions (w, x, y, z) of ``bones``
    relative to their rest, in each bone's own frame (Blender's ``rotation_quaternion``), and
    ``locations``: bone name -> (T, 3) pose locations (Blender's ``location``, the bone's rest frame)."""

    rig: TargetRig
    fps: float
    bones: tuple
    rotations: np.ndarray
    locations: dict
    metadata: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.rotations)


# -- 1. the rig's body --------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _shortest_turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation matrix of the shortest arc taking direction ``a`` onto ``b``."""
    a, b = _unit(a), _unit(b)
    axis, cos = np.cross(a, b), float(a @ b)
    if cos < -1.0 + 1e-9:                                  # opposite: half a turn about any perpendicular
        perpendicular = _unit(np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0]))
        return 2.0 * np.outer(perpendicular, perpendicular) - np.eye(3)
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + skew + skew @ skew / (1.0 + cos)


def _frame(up: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Columns (left, up, forward) of a body frame from an up and a leftward direction."""
    y = _unit(up)
    x = _unit(left - (left @ y) * y)
    return np.stack([x, y, np.cross(x, y)], axis=1)


def _chain_points(rig: TargetRig, segment: str) -> np.ndarray:
    """Heads of a segment's bones, then the last bone's tail."""
    bones = rig.chains[segment]
    return np.vstack([rig.heads[list(bones)], rig.tails[bones[-1]][None]])


def _first_head(rig: TargetRig, segment: str):
    bones = rig.chains.get(segment)
    return None if not bones else rig.heads[bones[0]]


def _along(points: np.ndarray, fractions) -> np.ndarray:
    """Points at ``fractions`` of a polyline's arc length."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    wanted = np.asarray(fractions, dtype=np.float64) * arc[-1]
    return np.stack([np.interp(wanted, arc, points[:, k]) for k in range(3)], axis=-1)


def _spine_fractions(source: Skeleton) -> np.ndarray:
    """Where spine1, spine2, spine3 and the neck sit along SMPL's spine (0 to 1, by length)."""
    lengths = np.linalg.norm(source.offsets[[_SPINE[1], _SPINE[2], _NECK]], axis=1)
    return np.concatenate([[0.0], np.cumsum(lengths)]) / max(lengths.sum(), 1e-12)


def _rig_joints(rig: TargetRig, source: Skeleton) -> tuple[np.ndarray, dict]:
    """(24, 3) SMPL joint positions on the rig at rest and the leaf segments' far ends."""
    joints = np.full((NUM_JOINTS, 3), np.nan)
    for segment, bones in rig.chains.items():
        if segment != "spine":
            joints[JOINT_INDEX[segment]] = rig.heads[bones[0]]
    neck_base = _first_head(rig, "neck")
    if neck_base is None:
        neck_base = _first_head(rig, "head") if "spine" not in rig.chains else rig.tails[rig.chains["spine"][-1]]
    if "spine" in rig.chains:
        spine = np.vstack([rig.heads[list(rig.chains["spine"])], neck_base[None]])
        joints[list(_SPINE)] = _along(spine, _spine_fractions(source)[:3])
    else:   # a rig without a spine map: the three spine joints evenly between pelvis and neck
        joints[list(_SPINE)] = joints[0] + np.linspace(0.25, 0.75, 3)[:, None] * (neck_base - joints[0])
    if np.isnan(joints[_NECK]).any():
        joints[_NECK] = neck_base
    if np.isnan(joints[_HEAD]).any():
        joints[_HEAD] = rig.tails[rig.chains["neck"][-1]]
    for side in ("left", "right"):
        collar, shoulder = JOINT_INDEX[f"{side}_collar"], JOINT_INDEX[f"{side}_shoulder"]
        if np.isnan(joints[collar]).any():   # no clavicle bone: SMPL puts it about 40 % of the way out
            joints[collar] = joints[_NECK] + 0.4 * (joints[shoulder] - joints[_NECK])
        for leaf, parent in (("foot", "ankle"), ("hand", "wrist")):
            if np.isnan(joints[JOINT_INDEX[f"{side}_{leaf}"]]).any():
                joints[JOINT_INDEX[f"{side}_{leaf}"]] = rig.tails[rig.chains[f"{side}_{parent}"][-1]]
    ends = {}
    for leaf in (_HEAD, *(JOINT_INDEX[f"{s}_{n}"] for s in ("left", "right") for n in ("foot", "hand"))):
        segment = JOINT_NAMES[leaf]
        ends[leaf] = rig.tails[rig.chains[segment][-1]] if segment in rig.chains else None
    return joints, ends


def _source_direction(source: Skeleton, joint: int) -> np.ndarray:
    kids = [c for c in range(NUM_JOINTS) if PARENTS[c] == joint]
    return source.offsets[kids[0]] if kids else source.leaf_tip(joint)


def _rest_match(joints: np.ndarray, ends: dict, source: Skeleton) -> np.ndarray:
    """P_j for every joint (see the module docstring)."""
    match = np.empty((NUM_JOINTS, 3, 3))
    rest = source.rest_positions()
    lr = lambda p, a, b: p[JOINT_INDEX[a]] - p[JOINT_INDEX[b]]   # noqa: E731
    for j in range(NUM_JOINTS):
        if j == 0:
            rig = _frame(joints[_SPINE[0]] - joints[0], lr(joints, "left_hip", "right_hip"))
            smpl = _frame(rest[_SPINE[0]] - rest[0], lr(rest, "left_hip", "right_hip"))
            match[j] = rig @ smpl.T
        elif j == _SPINE[2]:
            rig = _frame(joints[_NECK] - joints[j], lr(joints, "left_shoulder", "right_shoulder"))
            smpl = _frame(rest[_NECK] - rest[j], lr(rest, "left_shoulder", "right_shoulder"))
            match[j] = rig @ smpl.T
        else:
            kids = [c for c in range(NUM_JOINTS) if PARENTS[c] == j]
            end = joints[kids[0]] if kids else ends.get(j)
            # A leaf the rig lacks (no toe or finger bone): it keeps its parent's turn.
            if end is None:
                match[j] = match[PARENTS[j]]
            elif j in _FEET:      # heading only: a foot flat on the floor stays flat, whatever its shape
                match[j] = _shortest_turn(_source_direction(source, j) * (1.0, 0.0, 1.0),
                                          (end - joints[j]) * (1.0, 0.0, 1.0))
            else:
                match[j] = _shortest_turn(_source_direction(source, j), end - joints[j])
    return match


def _rig_floor(rig: TargetRig, joints: np.ndarray) -> float:
    feet = [b for s in ("left_ankle", "right_ankle", "left_foot", "right_foot") for b in rig.chains.get(s, ())]
    lowest = float(min(rig.heads[feet, 1].min(), rig.tails[feet, 1].min(),
                       joints[[JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"]], 1].min()))
    return 0.0 if FLOOR_SNAP_M[0] <= lowest <= FLOOR_SNAP_M[1] else lowest


def rig_body(rig: TargetRig, source: Skeleton) -> RigBody:
    """The rig's body for motions of ``source``'s SMPL proportions (step 1 of the module docstring)."""
    joints, ends = _rig_joints(rig, source)
    match = _rest_match(joints, ends, source)
    floor = _rig_floor(rig, joints)
    offsets = np.empty((NUM_JOINTS, 3))
    offsets[0] = joints[0] - (0.0, floor, 0.0)
    for j in range(1, NUM_JOINTS):
        offsets[j] = match[PARENTS[j]].T @ (joints[j] - joints[PARENTS[j]])
    tips = {leaf: match[leaf].T @ (end - joints[leaf]) for leaf, end in ends.items() if end is not None}
    ankle = min(joints[JOINT_INDEX["left_ankle"], 1], joints[JOINT_INDEX["right_ankle"], 1])
    return RigBody(Skeleton(offsets, tips, sole_height=float(ankle - floor)), match, joints, floor)


# -- 3. bones -----------------------------------------------------------------------------------------

def _chain_weights(rig: TargetRig, source: Skeleton) -> dict:
    """Spine bone -> (lower SMPL spine joint, upper one, slerp weight): D along the chain, each bone
    taking it at its middle's fraction of the chain's length, each SMPL spine joint giving it at
    its segment's middle."""
    if "spine" not in rig.chains:
        return {}
    points = _chain_points(rig, "spine")
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    bone_middles = (arc[:-1] + arc[1:]) / (2.0 * max(arc[-1], 1e-12))
    fractions = _spine_fractions(source)
    middles = (fractions[:-1] + fractions[1:]) / 2.0
    plan = {}
    for bone, at in zip(rig.chains["spine"], bone_middles):
        k = int(np.clip(np.searchsorted(middles, at) - 1, 0, len(middles) - 2))
        weight = float(np.clip((at - middles[k]) / (middles[k + 1] - middles[k]), 0.0, 1.0))
        plan[bone] = (_SPINE[k], _SPINE[k + 1], weight)
    return plan


def _world_targets(rig: TargetRig, body: RigBody, globals_: np.ndarray, positions: np.ndarray,
                   source: Skeleton) -> dict:
    """Mapped bone -> (T, 3, 3) world rotation (armature space, core frame)."""
    delta = globals_ @ np.swapaxes(body.rest_match, -1, -2)[None]      # (T, 24, 3, 3) D_j
    spine = _chain_weights(rig, source)
    targets = {}
    for segment, bones in rig.chains.items():
        for bone in bones:
            if bone in spine:
                lower, upper, weight = spine[bone]
                turn = quat_to_matrix(quat_slerp(matrix_to_quat(delta[:, lower]),
                                                 matrix_to_quat(delta[:, upper]), weight))
            else:
                turn = delta[:, JOINT_INDEX[segment]]
            targets[bone] = turn @ rig.rest_rotations[bone]
    if spine:
        _spine_end_to_end(rig, body, targets, positions)
    return targets


def _spine_end_to_end(rig: TargetRig, body: RigBody, targets: dict, positions: np.ndarray) -> None:
    """Turn the whole spine chain (in place) so its end sits where SMPL's neck is seen from spine1:
    the slerped bones bend smoothly but, under a strong bend, end a few degrees off; this one
    shortest turn per frame (identity at rest, where both ends coincide) removes that."""
    bones = rig.chains["spine"]
    ends = np.vstack([rig.heads[list(bones)], body.joints[_NECK][None]])
    reached = sum(targets[b] @ (rig.rest_rotations[b].T @ (ends[k + 1] - ends[k])) for k, b in enumerate(bones))
    wanted = positions[:, _NECK] - positions[:, _SPINE[0]]
    correction = quat_to_matrix(rotation_between_vectors(reached, wanted))
    for bone in bones:
        targets[bone] = correction @ targets[bone]


def _ancestors_first(rig: TargetRig, bones) -> list:
    """``bones`` and all their ancestors, parents before children."""
    needed = set()
    for bone in bones:
        while bone >= 0 and bone not in needed:
            needed.add(bone)
            bone = rig.parents[bone]
    depth = lambda b: 0 if rig.parents[b] < 0 else 1 + depth(rig.parents[b])   # noqa: E731
    return sorted(needed, key=depth)


def _pose_rotations(rig: TargetRig, targets: dict, order: list) -> dict:
    """Pose-bone rotation matrices of the mapped bones: ``B_b^T B_p W_p^T W_b`` down the tree, the
    bones in between at rest (``W_b = W_p B_p^T B_b``)."""
    world, local = {}, {}
    rest = rig.rest_rotations
    for bone in order:
        parent = rig.parents[bone]
        if bone in targets:
            world[bone] = targets[bone]
            if parent < 0:
                local[bone] = rest[bone].T @ targets[bone]
            else:
                local[bone] = rest[bone].T @ rest[parent] @ np.swapaxes(world[parent], -1, -2) @ targets[bone]
        else:
            world[bone] = rest[bone] if parent < 0 else world[parent] @ (rest[parent].T @ rest[bone])
    return local


def _root_bone(rig: TargetRig, body: RigBody) -> int | None:
    """The top-level ancestor of the pelvis bone when its head is near the floor (a UE/CC root)."""
    bone = rig.parents[rig.chains["pelvis"][0]]
    while bone >= 0 and rig.parents[bone] >= 0:
        bone = rig.parents[bone]
    if bone < 0 or abs(rig.heads[bone, 1] - body.floor) > ROOT_NEAR_FLOOR_M:
        return None
    return int(bone)


def _root_locations(rig: TargetRig, body: RigBody, pelvis: np.ndarray, root_motion: str) -> dict:
    """Bone name -> (T, 3) pose locations putting the pelvis bone's head at ``pelvis`` (the bones
    above it unrotated, so a location is its displacement in the bone's rest frame)."""
    hips = rig.chains["pelvis"][0]
    root = _root_bone(rig, body) if root_motion in ("auto", "root") else None
    if root_motion == "root" and root is None:
        raise ValueError(f"{rig.source} has no root bone near the floor above its pelvis bone "
                         f"'{rig.bone_names[hips]}'; put the root motion on the hips")
    moved = pelvis - rig.heads[hips]
    locations = {}
    if root is not None:
        ground = moved * (1.0, 0.0, 1.0)                            # the root follows on the floor
        locations[rig.bone_names[root]] = ground @ rig.rest_rotations[root]
        moved = moved - ground
    locations[rig.bone_names[hips]] = moved @ rig.rest_rotations[hips]          # B^T m, row-wise
    return locations


def _hand_targets(motion: Motion, report: dict) -> np.ndarray:
    """(T, 2, 3) the performer's wrists where the feet stage put the world: on the floor at y = 0 and
    scaled, like the root path, about the first frame's spot by the legs' ratio."""
    positions, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    wrists = positions[:, list(_WRISTS)] - (0.0, -report.get("ground_shift_m", 0.0), 0.0)
    scale = report.get("root_scale", 1.0)
    origin = motion.translation[0] * (1.0, 0.0, 1.0)
    return origin + scale * (wrists - origin)


def _reach(moved: Motion, targets: np.ndarray) -> None:
    """Both arms re-solved (in place) so the wrists reach ``targets`` as far as the arms do, the
    elbows on their side (a straight arm bends backwards), the hands keeping their orientation."""
    for side, target in zip(("left", "right"), np.moveaxis(targets, 1, 0)):
        joints = tuple(JOINT_INDEX[f"{side}_{name}"] for name in ("shoulder", "elbow", "wrist"))
        for a in range(0, moved.num_frames, CHUNK_FRAMES):
            b = min(a + CHUNK_FRAMES, moved.num_frames)
            part = moved.rotations[a:b]
            positions, globals_ = forward_kinematics(part, moved.translation[a:b], moved.skeleton)
            solve_limb(part, positions, globals_, moved.skeleton, joints, target[a:b],
                       pole=-globals_[:, joints[0], :, 2])


def retarget_to_rig(motion: Motion, rig: TargetRig, feet: FeetOptions | None = None,
                    root_motion: str = "auto", hands: bool = False, fingers: bool = False) -> RigMotion:
    """``motion`` as pose-bone channels of ``rig`` (see the module docstring); ``feet`` the feet
    stage's options (``FeetOptions(enabled=False)``: the rotations and root path as they are);
    ``root_motion`` "auto", "hips" or "root"; ``hands``: the wrists reach where the performer's were
    (in the world the feet stage scaled to the rig's legs; arm IK), e.g. for a hand on a prop;
    ``fingers``: the mapped finger bones follow SMPL's hand joints (for a source that has fingers),
    else every finger keeps its rest pose.
    The feet stage's report is ``metadata["feet"]``."""
    if root_motion not in ROOT_MOTION:
        raise ValueError(f"root_motion must be one of {', '.join(ROOT_MOTION)}, got {root_motion!r}")
    body = rig_body(rig, motion.skeleton)
    moved, report = feet_on_floor(motion, body.skeleton, feet)
    if hands:
        _reach(moved, _hand_targets(motion, report))
    bones = tuple(b for segment, chain in rig.chains.items() for b in chain
                  if fingers or segment not in FINGER_SEGMENTS)
    order = _ancestors_first(rig, bones)
    rotations = np.empty((moved.num_frames, len(bones), 4))
    for a in range(0, moved.num_frames, CHUNK_FRAMES):
        b = min(a + CHUNK_FRAMES, moved.num_frames)
        positions, globals_ = forward_kinematics(moved.rotations[a:b], moved.translation[a:b], body.skeleton)
        targets = _world_targets(rig, body, globals_, positions, motion.skeleton)
        local = _pose_rotations(rig, targets, order)
        rotations[a:b] = np.stack([matrix_to_quat(local[bone]) for bone in bones], axis=1)
    rotations = quat_continuous(rotations, axis=0)
    pelvis = moved.translation + (0.0, body.floor, 0.0)
    return RigMotion(rig, moved.fps, tuple(rig.bone_names[b] for b in bones), rotations,
                     _root_locations(rig, body, pelvis, root_motion),
                     {"feet": report, "source": motion.metadata.get("source", "motion"),
                      "rig_stature_m": round(body.skeleton.stature(), 4)})


def rig_forward_kinematics(rig_motion: RigMotion, bones=None) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (T, k, 3, 3) and head positions (T, k, 3) of ``bones`` (names; default the
    posed ones) under ``rig_motion``'s channels, armature space, core frame: the rig's own forward
    kinematics (what Blender shows, constraints aside), for checks and figures."""
    rig = rig_motion.rig
    names = rig_motion.bones if bones is None else tuple(bones)
    channel = {name: k for k, name in enumerate(rig_motion.bones)}
    rest, T = rig.rest_rotations, rig_motion.num_frames
    world, heads = {}, {}
    for bone in _ancestors_first(rig, [rig.bone_index(n) for n in names]):
        name, parent = rig.bone_names[bone], rig.parents[bone]
        turn = quat_to_matrix(rig_motion.rotations[:, channel[name]]) if name in channel else np.eye(3)
        moved = rig_motion.locations.get(name, np.zeros((T, 3)))
        if parent < 0:
            frame = np.broadcast_to(rest[bone], (T, 3, 3))
            heads[bone] = rig.heads[bone] + moved @ rest[bone].T
        else:
            frame = world[parent] @ (rest[parent].T @ rest[bone])    # the bone at rest under its parent
            offset = rest[parent].T @ (rig.heads[bone] - rig.heads[parent])
            heads[bone] = heads[parent] + (world[parent] @ offset) + (frame @ moved[..., None])[..., 0]
        world[bone] = frame @ turn
    order = [rig.bone_index(n) for n in names]
    return np.stack([world[b] for b in order], axis=1), np.stack([heads[b] for b in order], axis=1)
