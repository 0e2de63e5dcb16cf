"""Retarget a source rig's motion onto a personalised SMPL-24 skeleton: the same body motion
whatever rig the take came through.

The SMPL-24 pose describes the performer's body, not the rig (``core/mocap/rig_anatomy.py`` says how):

1. The source is put in the core frame (Y up); a Z-up file is turned -90 degrees about X.
2. A *reference pose* (the rig's zero pose when it is a T-, A- or I-pose, else the take's
   straightest upright frame, or a frame the caller names) checks the rig's handedness and gives
   the ratio of leg lengths.
3. The performer's *neutral posture* is the take's most upright standing frames (the reference pose
   when the performer never stands): there every trunk part, the neck, the head, the feet and the
   hands are taken to be in SMPL's rest posture. Rig conventions (where a rig puts its root, spine,
   neck and collar joints, how it rolls its bones, what its zero pose is) cancel out there.
4. SMPL-24 joint targets on the performer's skeleton: the limbs along the rig's limbs exactly; the
   trunk, neck, head, collars, hands and feet as the rig's segments moved from the neutral posture;
   spine1 and spine2 resampled by arc length from the rig's spine, whatever its number of joints.
5. The analytic IK (``core/kinematics/ik.py``) turns the targets into local rotations with the same
   anatomical twist for every rig: hips and shoulders from the knee and elbow bend planes (carried
   over time while the limb is straight), ankles from the foot, wrists from the palm's line where
   the rig has index and pinky knuckles (else the hand does not roll against the forearm), the spine
   from the hip and shoulder lines, the head from its segment (the neck itself never twists).
6. The pelvis follows the source's hip midpoint scaled by ``SMPL leg length / source leg length``;
   the floor (y = 0) stays the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .joint_maps import JointMap, detect_joint_map
from ..kinematics.motion import Motion
from ..kinematics.rotations import (
    matrix_to_quat, quat_conjugate, quat_identity, quat_multiply, quat_normalize, quat_rotate,
)
from ..feet.soles import foot_floor_points
from ..kinematics.ik import solve_ik
from .rig_anatomy import Neutral, anatomical_targets, describe_rig
from ..kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS, Skeleton, forward_kinematics
from .source import SourceMotion

J = JOINT_INDEX

FOOT_JOINTS = (J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"])

# Reference-pose plausibility: legs and spine near vertical; arms anywhere from a T-pose to hanging
# down (a T-, A- or I-pose), not raised and not across the body.
_MAX_LIMB_TILT_DEG = 35.0
_MAX_ARM_RAISE_DEG = 30.0
_MAX_ARM_CROSS = 0.25      # largest allowed component of the arm direction towards the other side

# -90 degrees about X: a Z-up file's (x, y, z) becomes (x, z, -y), Y up.
_Z_UP_TO_CORE = np.array((np.sqrt(0.5), -np.sqrt(0.5), 0.0, 0.0))


class RetargetError(ValueError):
    """The source cannot be retargeted (no usable reference pose, mirrored rig, ...)."""


@dataclass
class _Posed:
    """Source joint world positions (T, J, 3) and rotations (T, J, 4) in the core frame."""
    positions: np.ndarray
    rotations: np.ndarray


def _to_core(posed: _Posed, up_axis: str, positions_only: bool = False) -> _Posed:
    if up_axis == "Y":
        return posed
    q = _Z_UP_TO_CORE
    positions = np.stack((posed.positions[..., 0], posed.positions[..., 2], -posed.positions[..., 1]), axis=-1)
    if positions_only:
        return _Posed(positions, None)
    # Rest-relative rotations live in world coordinates: conjugate by the change of frame.
    rotations = quat_multiply(quat_multiply(q, posed.rotations), quat_conjugate(q))
    return _Posed(positions, rotations)


def _source_poses(source: SourceMotion, joints) -> _Posed:
    positions, rotations = source.global_transforms(joints=joints)
    return _Posed(positions, rotations)


def source_positions(source: SourceMotion, up_axis: str, joints=None) -> np.ndarray:
    """The source's world joint positions (T, J, 3) in the core frame (Y up), in file units."""
    return _to_core(_source_poses(source, joints), up_axis, positions_only=True).positions


def _zero_pose(source: SourceMotion, joints) -> _Posed:
    zero = SourceMotion(source.skeleton, source.fps, quat_identity((1, source.skeleton.num_joints)),
                        source.skeleton.offsets[:1].copy())
    return _source_poses(zero, joints)


def _angle_deg(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def _pose_check(p: np.ndarray, resolved: dict):
    """For core-frame poses (T, J, 3): (problem per frame, None where usable as a T/A/I reference;
    a score per frame, lower for straighter, more upright poses)."""
    up = np.array((0.0, 1.0, 0.0))
    m = resolved
    problems = np.full(len(p), None, dtype=object)
    score = np.zeros(len(p))

    def flag(mask, text):
        problems[mask & (problems == None)] = text  # noqa: E711 (element-wise comparison)

    for side in ("left", "right"):
        hip, knee, ankle = (p[:, m[J[f"{side}_{n}"]]] for n in ("hip", "knee", "ankle"))
        tilt = _angle_deg(ankle - hip, -up)
        flag(tilt > _MAX_LIMB_TILT_DEG, f"the {side} leg is not straight down")
        score += tilt + _angle_deg(knee - hip, ankle - knee)
    top = next(m[J[n]] for n in ("neck", "head", "spine3", "spine2", "spine1") if J[n] in m)
    tilt = _angle_deg(p[:, top] - p[:, m[J["pelvis"]]], up)
    flag(tilt > _MAX_LIMB_TILT_DEG, "the spine is not upright")
    score += tilt
    lateral = p[:, m[J["left_hip"]]] - p[:, m[J["right_hip"]]]
    lateral /= np.linalg.norm(lateral, axis=-1, keepdims=True)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        shoulder, elbow, wrist = (p[:, m[J[f"{side}_{n}"]]] for n in ("shoulder", "elbow", "wrist"))
        arm = wrist - shoulder
        arm /= np.linalg.norm(arm, axis=-1, keepdims=True)
        bad = (90.0 - _angle_deg(arm, up) > _MAX_ARM_RAISE_DEG) | (sign * np.sum(arm * lateral, -1) < -_MAX_ARM_CROSS)
        flag(bad, f"the {side} arm is neither out to the side nor down")
        score += _angle_deg(elbow - shoulder, wrist - elbow)
    return problems, score


def _choose_reference(source: SourceMotion, resolved: dict, joints, rest_reference, posed: _Posed):
    """(reference pose in the core frame as a 1-frame _Posed, its description, up axis).

    ``posed`` is the whole take in the file's frame. "auto" tries the zero pose, then the take's
    straightest upright frame that passes the T/A/I-pose check (frame 0 when it is a clean T-pose).
    """
    up_axes = [source.up_axis] if source.up_axis else ["Y", "Z"]
    problems = []
    if rest_reference in ("auto", "zero"):
        zero = _zero_pose(source, joints)
        for up in up_axes:
            pose = _to_core(zero, up)
            problem = _pose_check(pose.positions, resolved)[0][0]
            if problem is None:
                return pose, "zero pose", up
            problems.append(f"zero pose ({up} up): {problem}")
        if rest_reference == "zero":
            raise RetargetError(f"{source.source or 'source'}: the rig's zero pose is no T-, A- or I-pose "
                                f"({'; '.join(problems)}); use a frame where the performer stands in one")
        frames = np.arange(source.num_frames)
    else:
        frame = int(rest_reference)
        if not 0 <= frame < source.num_frames:
            raise RetargetError(f"{source.source}: reference frame {frame} is outside the take "
                                f"(0 to {source.num_frames - 1})")
        frames = np.array([frame])
    best = None
    for up in up_axes:
        # Positions only for the scan; the rotations of the chosen frame are converted at the end.
        candidates = _to_core(_Posed(posed.positions[frames], None), up, positions_only=True)
        frame_problems, score = _pose_check(candidates.positions, resolved)
        usable = np.flatnonzero(frame_problems == None)  # noqa: E711
        if len(usable):
            k = usable[np.argmin(score[usable])]
            if best is None or score[k] < best[0]:
                best = (score[k], frames[k], up)
        else:
            problems.append(f"{'frame %d' % frames[0] if len(frames) == 1 else 'every frame'} ({up} up): "
                            f"{frame_problems[0] if len(frames) == 1 else 'none stands straight with arms out or down'}")
    if best is None:
        raise RetargetError(
            f"{source.source or 'source'}: no T-, A- or I-pose to align the rigs with ({'; '.join(problems)}); "
            "name a frame where the performer stands in one as the reference")
    _, frame, up = best
    pose = _to_core(_Posed(posed.positions[frame:frame + 1], posed.rotations[frame:frame + 1]), up)
    return pose, f"frame {int(frame)}", up


def reference_pose(source: SourceMotion, joint_map: JointMap | None = None, rest_reference="auto"):
    """The rig's reference pose in the core frame: (positions (J, 3) with NaN for joints the map does
    not need, description such as "zero pose", up axis, resolved map {SMPL index: rig index})."""
    joint_map = joint_map or detect_joint_map(source.skeleton.names, source.source or "the rig")
    resolved = joint_map.resolve(source.skeleton.names)
    joints = sorted(set(resolved.values()))
    pose, label, up_axis = _choose_reference(source, resolved, joints, rest_reference, _source_poses(source, joints))
    return pose.positions[0], label, up_axis, resolved


def heading_rotation(pose: np.ndarray, resolved: dict) -> np.ndarray:
    """Yaw-only rotation (quaternion) taking the SMPL body axes to the pose's (J, 3)."""
    return headings(pose[None], resolved)[0]


def headings(poses: np.ndarray, resolved: dict) -> np.ndarray:
    """Yaw-only rotations (K, 4) of the body in each pose (K, J, 3): from the hip line."""
    lateral = poses[:, resolved[J["left_hip"]]] - poses[:, resolved[J["right_hip"]]]
    lateral = lateral * (1.0, 0.0, 1.0)
    lateral /= np.linalg.norm(lateral, axis=-1, keepdims=True)
    up = np.broadcast_to((0.0, 1.0, 0.0), lateral.shape)
    return matrix_to_quat(np.stack((lateral, up, np.cross(lateral, up)), axis=-1))


# The neutral posture is where the performer stands most upright: straight vertical legs, an upright
# trunk, feet at one level, hips nearly still. Frames beyond these limits never count.
_STANDING_LIMITS_DEG = {"knee": 30.0, "leg": 25.0, "trunk": 30.0}
_STANDING_SPEED = 0.5          # leg lengths per second
NEUTRAL_SECONDS = 0.25         # how many of the most upright frames are averaged


def standing_scores(positions: np.ndarray, resolved: dict, fps: float) -> np.ndarray:
    """How far each frame of ``positions`` (T, J, 3; core frame, any unit) is from standing upright
    and still (degrees-like, 0 = perfect); infinite beyond the limits."""
    p = positions
    up = np.array((0.0, 1.0, 0.0))
    leg = _leg_length(p, _legs(resolved.get))
    score = np.zeros(len(p))
    bad = np.zeros(len(p), dtype=bool)
    for side in ("left", "right"):
        hip, knee, ankle = (p[:, resolved[J[f"{side}_{n}"]]] for n in ("hip", "knee", "ankle"))
        bend = _angle_deg(knee - hip, ankle - knee)
        tilt = _angle_deg(ankle - hip, -up)
        score += bend + tilt
        bad |= (bend > _STANDING_LIMITS_DEG["knee"]) | (tilt > _STANDING_LIMITS_DEG["leg"])
    hips = 0.5 * (p[:, resolved[J["left_hip"]]] + p[:, resolved[J["right_hip"]]])
    shoulders = 0.5 * (p[:, resolved[J["left_shoulder"]]] + p[:, resolved[J["right_shoulder"]]])
    trunk = _angle_deg(shoulders - hips, up)
    score += trunk
    bad |= trunk > _STANDING_LIMITS_DEG["trunk"]
    ankles_y = p[:, [resolved[J["left_ankle"]], resolved[J["right_ankle"]]], 1]
    score += np.degrees(np.abs(ankles_y[:, 0] - ankles_y[:, 1]) / leg)
    if len(p) > 1:
        speed = np.linalg.norm(np.gradient(hips, axis=0), axis=-1) * fps / leg
        score += 10.0 * speed
        bad |= speed > _STANDING_SPEED
    return np.where(bad, np.inf, score)


def neutral_posture(positions: np.ndarray, resolved: dict, fps: float) -> Neutral:
    """The take's ``NEUTRAL_SECONDS`` most upright standing frames (of all but the last frame of
    ``positions``, which is the reference pose), or the reference pose when the performer never
    stands."""
    scores = standing_scores(positions[:-1], resolved, fps)
    count = max(3, int(round(NEUTRAL_SECONDS * fps)))
    frames = np.argsort(scores)[:count]
    frames = np.sort(frames[np.isfinite(scores[frames])])
    standing = len(frames) > 0
    if not standing:
        frames = np.array([len(positions) - 1])
    return Neutral(frames, headings(positions[frames], resolved), standing)


def _check_handedness(pose: np.ndarray, resolved: dict, source: SourceMotion) -> None:
    """Refuse a rig whose left side is on the body's right (mirrored file or swapped names)."""
    heading = heading_rotation(pose, resolved)
    forward = quat_rotate(heading, np.array((0.0, 0.0, 1.0)))
    votes = []
    for side in ("left", "right"):
        ankle, foot = J[f"{side}_ankle"], J[f"{side}_foot"]
        if ankle in resolved and foot in resolved:
            votes.append(np.dot(pose[resolved[foot]] - pose[resolved[ankle]], forward))
    if votes and np.all(np.array(votes) < 0):
        raise RetargetError(
            f"{source.source or 'source'}: the toes point backwards once left is put on the left: the file "
            "is mirrored (left-handed) or its left and right joint names are swapped")


def _leg_length(points: np.ndarray, hip_knee_ankle) -> float:
    """Mean over both legs of |hip->knee| + |knee->ankle| for a (J, 3) or (T, J, 3) array."""
    total = 0.0
    for hip, knee, ankle in hip_knee_ankle:
        total += np.mean(np.linalg.norm(points[..., knee, :] - points[..., hip, :], axis=-1))
        total += np.mean(np.linalg.norm(points[..., ankle, :] - points[..., knee, :], axis=-1))
    return float(total / len(hip_knee_ankle))


def _legs(index):
    return [tuple(index(J[f"{s}_{n}"]) for n in ("hip", "knee", "ankle")) for s in ("left", "right")]


def retarget(source: SourceMotion, skeleton: Skeleton, joint_map: JointMap | None = None,
             rest_reference="auto", floor: str = "auto") -> Motion:
    """An SMPL-24 :class:`Motion` on ``skeleton`` that moves like ``source`` (same frames and fps).

    ``joint_map`` defaults to the built-in map that fits the rig's joint names. ``rest_reference`` is
    "auto", "zero" (the rig's zero pose) or a frame index where the performer stands in a T/A/I-pose.
    ``floor``: "source" keeps the file's floor (its y = 0); "lowest" puts the soles' usual lowest
    level (5th percentile over the take) on y = 0; "auto" keeps the file's floor unless the feet are
    more than ``FLOOR_TOLERANCE_M`` off it, as in files whose root channels are offsets from the
    root's rest position.
    """
    joint_map = joint_map or detect_joint_map(source.skeleton.names, source.source or "the rig")
    resolved = joint_map.resolve(source.skeleton.names)
    anatomy = describe_rig(source.skeleton, resolved)
    used = anatomy.joints()
    raw = _source_poses(source, used)
    reference, reference_label, up_axis = _choose_reference(source, resolved, used, rest_reference, raw)
    _check_handedness(reference.positions[0], resolved, source)

    posed = _to_core(raw, up_axis)
    # The reference pose rides along as one extra frame at the end, so every step below sees it.
    positions = np.concatenate((posed.positions, reference.positions), axis=0)
    rotations = np.concatenate((posed.rotations, reference.rotations), axis=0)

    rest = skeleton.rest_positions()
    neutral = neutral_posture(positions, resolved, source.fps)
    # Root path: the hip midpoint follows the source's, scaled by the ratio of leg lengths.
    scale = _leg_length(rest, _legs(lambda j: j)) / _leg_length(reference.positions[0], _legs(resolved.get))
    hips = (resolved[J["left_hip"]], resolved[J["right_hip"]])
    hip_centre = scale * 0.5 * (positions[:, hips[0]] + positions[:, hips[1]])
    targets, cues = anatomical_targets(positions, rotations, anatomy, skeleton, neutral, hip_centre)
    solved = solve_ik(targets[:-1], skeleton, cues={k: v[:-1] for k, v in cues.items()}, face_turns_neck=False)
    local, translation = quat_normalize(solved.rotations), solved.translation

    floor_shift = _floor_shift(local, translation, skeleton, floor)
    translation[:, 1] += floor_shift

    metadata = dict(source.metadata)
    metadata.update({
        "source": source.source,
        "retarget": {
            "joint_map": joint_map.name,
            "mapped": {JOINT_NAMES[j]: source.skeleton.names[s] for j, s in sorted(resolved.items())},
            "reference": reference_label,
            "up_axis": up_axis,
            "translation_scale": scale,
            "floor": floor,
            "floor_shift_m": floor_shift,
            "source_metres_per_unit": source.metres_per_unit,
            "method": "anatomical",
            "neutral": f"{len(neutral.frames)} standing frames" if neutral.standing else reference_label,
        },
    })
    return Motion(float(source.fps), local, translation, skeleton, metadata)


FLOOR_TOLERANCE_M = 0.25
FLOOR_PERCENTILE = 5.0


def _floor_shift(local: np.ndarray, translation: np.ndarray, skeleton: Skeleton, floor: str) -> float:
    """Vertical shift (m) that puts the feet on the floor according to the ``floor`` policy."""
    if floor not in ("auto", "source", "lowest"):
        raise ValueError(f"floor must be 'auto', 'source' or 'lowest', got {floor!r}")
    if floor == "source":
        return 0.0
    positions, rotations = forward_kinematics(local, translation, skeleton)
    lowest = foot_floor_points(positions, rotations, skeleton)[..., 1].min(axis=(1, 2))
    level = float(np.percentile(lowest, FLOOR_PERCENTILE))
    if floor == "auto" and abs(level) <= FLOOR_TOLERANCE_M:
        return 0.0
    return -level


# --- fidelity figures --------------------------------------------------------------------------

# Bones whose direction the retargeter copies from the rig exactly: between anatomical joint centres
# every rig places alike. The others (trunk, neck, head, collars, hands, feet) follow how the rig's
# segments moved away from the performer's neutral posture, so a rig's own layout never shows.
LIMB_BONES = tuple((J[f"{side}_{a}"], J[f"{side}_{b}"]) for side in ("left", "right")
                   for a, b in (("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"), ("elbow", "wrist")))


def mapped_bones(resolved: dict):
    """SMPL bones (parent, child) whose both ends are mapped, as (parent, child, kind): ``kind`` is
    "limb" for the bones aligned exactly with the rig (``LIMB_BONES``) and "calibrated" for the rest.
    """
    bones = []
    for c in range(1, NUM_JOINTS):
        if c not in resolved:
            continue
        p = PARENTS[c]
        while p >= 0 and p not in resolved:
            p = PARENTS[p]
        if p < 0:
            continue
        bones.append((int(p), int(c), "limb" if (p, c) in LIMB_BONES else "calibrated"))
    return bones


def retarget_fidelity(source: SourceMotion, motion: Motion, joint_map: JointMap | None = None) -> dict:
    """Bone-direction angles (degrees, (T, bones)) between the rig's mapped joints and the retarget's,
    and the foot-height correlation of a retarget.

    ``motion`` must come from :func:`retarget` on this ``source`` (same frames); the up axis the
    retargeter chose is read from its metadata.
    """
    joint_map = joint_map or detect_joint_map(source.skeleton.names, source.source or "the rig")
    resolved = joint_map.resolve(source.skeleton.names)
    up_axis = motion.metadata["retarget"]["up_axis"]
    src = source_positions(source, up_axis, sorted(set(resolved.values())))
    ours = motion.joint_positions()
    # Bones of (almost) no length in the rig (joints stacked on each other) have no direction to
    # compare; the retargeter ignores them by the same rule.
    min_length = 0.02 * _leg_length(src[0], _legs(resolved.get))
    bones = [b for b in mapped_bones(resolved)
             if np.linalg.norm(src[0, resolved[b[1]]] - src[0, resolved[b[0]]]) > min_length]
    angles = np.stack([
        _angle_deg(src[:, resolved[c]] - src[:, resolved[p]], ours[:, c] - ours[:, p]) for p, c, _ in bones
    ], axis=1)
    feet = [j for j in FOOT_JOINTS if j in resolved]
    lowest_source = np.min(src[:, [resolved[j] for j in feet], 1], axis=1)
    lowest_ours = np.min(ours[:, feet, 1], axis=1)
    if np.std(lowest_source) < 1e-9 or np.std(lowest_ours) < 1e-9:
        r = 1.0 if np.allclose(lowest_source - lowest_source.mean(), 0) else 0.0
    else:
        r = float(np.corrcoef(lowest_source, lowest_ours)[0, 1])
    return {
        "bones": [(JOINT_NAMES[p], JOINT_NAMES[c], kind) for p, c, kind in bones],
        "angles_deg": angles,
        "foot_height_r": r,
        "foot_height_range_m": float(np.ptp(lowest_ours)),
    }
