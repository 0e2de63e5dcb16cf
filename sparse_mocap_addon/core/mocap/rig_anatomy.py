"""What a mocap rig says about the body, whatever the rig's conventions: SMPL-24 joint targets.

Rigs disagree on everything that is a convention rather than anatomy: where the root sits (level
with the hip joints or well above them), how many spine and neck joints there are and where,
whether the collars start at the midline, how each bone is rolled, and what their zero pose is.
They agree on the anatomical points: hip, knee, ankle, shoulder, elbow and wrist centres, the ball
of the foot, the knuckles. This module turns a posed rig into SMPL-24 joint *targets* on the
performer's own skeleton using only what does not depend on the rig:

- **limbs** (thigh, shin, upper arm, forearm): the direction between the rig's joint centres,
  exactly;
- **trunk**: how each rigid part moved away from the performer's **neutral posture** (the take's
  most upright standing frames, see ``retarget.neutral_posture``): the pelvis from the rig segment
  that carries both hips (its hip line exact), the thorax from the segment that carries both
  shoulders, spine1 and spine2 from the rig's spine segments between them resampled by arc length
  (any number of rig spine joints, none included), the neck and the collars from how the rig's
  neck (neck -> head) and collar (collar -> shoulder) vectors turned inside the thorax, the head
  from its segment;
- **feet**: the ankle -> ball direction as the rig's foot turned against its shin since the neutral
  posture, where the foot stood flat and straight (toe joints sit at different heights on
  different rigs); **hands**: in line with the forearm in the neutral posture, turned as the rig's
  hand turned since;
- **twist cues** for the IK: the head's top and forward directions, and the palm's line (pinky to
  index knuckle) where the rig has both knuckles; without them the hand does not roll against the
  forearm (the rig's own wrist rotation is a convention, not a measurement of the palm).

Every trunk part is upright and facing the body's heading in the neutral posture: a rig's own bone
layout (a spine that curves back, collars that start at the chest's centre) cancels out there.
The IK (``core.kinematics.ik.solve_ik``) then turns the targets into rotations with the same anatomical twist
for every rig: limb twist from the bend planes (carried over time while a limb is straight), the
ankle from the foot, the wrist from the palm, the trunk from the hip and shoulder lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinematics.poses import mean_rotation
from ..kinematics.rotations import (
    axis_angle_to_quat, matrix_to_quat, quat_conjugate, quat_multiply, quat_normalize, quat_rotate,
    quat_to_axis_angle, quat_to_matrix, rotation_between_vectors,
)
from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, Skeleton
from .source import SourceSkeleton

J = JOINT_INDEX
SIDES = ("left", "right")
TRUNK = ("spine1", "spine2", "spine3")
def _ancestors(parents: np.ndarray, joint: int) -> list[int]:
    """``joint`` and every joint above it, up to the root."""
    chain = []
    while joint >= 0:
        chain.append(int(joint))
        joint = int(parents[joint])
    return chain


def lowest_common_ancestor(parents: np.ndarray, a: int, b: int) -> int:
    above_a = _ancestors(parents, a)
    return next(j for j in _ancestors(parents, b) if j in above_a)


@dataclass
class RigAnatomy:
    """Which rig joints stand for which part of the body.

    ``resolved`` maps SMPL joint indices to rig joints at the same anatomical point (a joint map);
    ``pelvis_segment`` / ``thorax_segment`` are the rig joints whose rotation moves both hips / both
    shoulders; ``spine`` the rig joints from the pelvis segment's chain up to the thorax segment;
    ``knuckles`` side -> (index, pinky) knuckle joints where the rig has both.
    """

    resolved: dict
    pelvis_segment: int
    thorax_segment: int
    spine: tuple
    knuckles: dict

    def joints(self) -> list[int]:
        """Every rig joint the targets use (forward kinematics computes these and their parents)."""
        used = set(self.resolved.values()) | {self.pelvis_segment, self.thorax_segment}
        used |= set(self.spine) | {j for pair in self.knuckles.values() for j in pair}
        return sorted(used)


def describe_rig(skeleton: SourceSkeleton, resolved: dict) -> RigAnatomy:
    parents = skeleton.parents
    pelvis = lowest_common_ancestor(parents, resolved[J["left_hip"]], resolved[J["right_hip"]])
    thorax = lowest_common_ancestor(parents, resolved[J["left_shoulder"]], resolved[J["right_shoulder"]])
    base = lowest_common_ancestor(parents, pelvis, thorax)
    above_thorax = _ancestors(parents, thorax)
    spine = tuple(reversed(above_thorax[:above_thorax.index(base) + 1]))      # base ... thorax
    knuckles = {}
    for side in SIDES:
        wrist = resolved[J[f"{side}_wrist"]]
        found = [_first_named(skeleton, wrist, words) for words in (("index",), ("pinky", "little"))]
        if None not in found:
            knuckles[side] = tuple(found)
    return RigAnatomy(dict(resolved), int(pelvis), int(thorax), spine, knuckles)


def _first_named(skeleton: SourceSkeleton, start: int, words) -> int | None:
    """The highest joint under ``start`` whose name contains one of ``words`` (case-insensitive):
    the first joint of that finger, its knuckle."""
    best, best_depth = None, None
    for j in range(start + 1, skeleton.num_joints):
        chain = _ancestors(skeleton.parents, j)
        if start in chain and any(w in skeleton.names[j].lower() for w in words) and not skeleton.end_site[j]:
            depth = chain.index(start)
            if best_depth is None or depth < best_depth:
                best, best_depth = j, depth
    return best


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _mean_quat(q: np.ndarray) -> np.ndarray:
    """The mean rotation of quaternions (K, 4) (``poses.mean_rotation``, the one rotation
    average of the project)."""
    return matrix_to_quat(mean_rotation(quat_to_matrix(q)))


@dataclass
class Neutral:
    """The performer's neutral posture: frames where they stand upright (``frames``), each with the
    body's heading there (``headings``, (K, 4)). Every trunk part, the head and the feet are taken to
    be in SMPL's rest posture, facing the heading, in those frames (on average)."""

    frames: np.ndarray
    headings: np.ndarray
    standing: bool = True       # False: the reference pose stands in (the performer never stood)

    def segment(self, rotations: np.ndarray, joint: int) -> np.ndarray:
        """The rig segment's mean rotation relative to the heading in the neutral frames: world
        rotation ``R`` of the segment maps to the anatomical ``R segment^-1``."""
        return _mean_quat(quat_multiply(quat_conjugate(self.headings), rotations[self.frames, joint]))


def _anatomical(rotations: np.ndarray, joint: int, neutral: Neutral) -> np.ndarray:
    """(N, 4) world rotation of the body part that the rig segment ``joint`` moves: the segment's
    rotation with its neutral posture taken out."""
    return quat_multiply(rotations[:, joint], quat_conjugate(neutral.segment(rotations, joint)))


def _local_swing(rotations: np.ndarray, positions: np.ndarray, frame_joint: int, start: int, end: int,
                 neutral: Neutral) -> np.ndarray:
    """(N, 4) how the rig's ``start -> end`` vector turned inside the rig's ``frame_joint`` segment
    away from its mean direction there in the neutral posture (a swing in the segment's frame)."""
    local = quat_rotate(quat_conjugate(rotations[:, frame_joint]), positions[:, end] - positions[:, start])
    rest = _unit(_unit(local[neutral.frames]).mean(axis=0))
    return rotation_between_vectors(np.broadcast_to(rest, local.shape), local)


def _calibrated_swing(rotations: np.ndarray, positions: np.ndarray, frame_joint: int, start: int, end: int,
                      neutral: Neutral) -> np.ndarray:
    """(N, 4) world rotation of an SMPL bone that turns, inside the rig's ``frame_joint`` segment,
    as the rig's ``start -> end`` vector turned there away from its neutral direction."""
    swing = _local_swing(rotations, positions, frame_joint, start, end, neutral)
    return quat_multiply(quat_multiply(rotations[:, frame_joint], swing),
                         quat_conjugate(neutral.segment(rotations, frame_joint)))


def _power(q: np.ndarray, fraction: float) -> np.ndarray:
    return axis_angle_to_quat(fraction * quat_to_axis_angle(q))


def _trunk_rotations(positions, rotations, anatomy: RigAnatomy, skeleton: Skeleton, neutral: Neutral) -> dict:
    """World rotations (N, 4) of pelvis, spine1-3, neck, head and collars (SMPL index -> array)."""
    r = anatomy.resolved
    rest = skeleton.rest_positions()
    world = {}

    # Pelvis: the rig's pelvis segment since the reference, then turned so its hip line is exact.
    guess = _anatomical(rotations, anatomy.pelvis_segment, neutral)
    rest_line = rest[J["left_hip"]] - rest[J["right_hip"]]
    line = positions[:, r[J["left_hip"]]] - positions[:, r[J["right_hip"]]]
    guessed_line = quat_rotate(guess, np.broadcast_to(rest_line, line.shape))
    world[0] = quat_normalize(quat_multiply(rotation_between_vectors(guessed_line, line), guess))

    # Thorax (spine3): the rig segment that carries both shoulders.
    thorax = _anatomical(rotations, anatomy.thorax_segment, neutral)
    world[J["spine3"]] = thorax

    # spine1, spine2: the rig's spine resampled by arc length between the pelvis and the thorax.
    chain = anatomy.spine
    reference = positions[neutral.frames[0], list(chain)]
    arc = np.concatenate(([0.0], np.cumsum(np.linalg.norm(np.diff(reference, axis=0), axis=-1))))
    anchors_at = [0.0]
    anchors = [world[0]]
    if arc[-1] > 1e-9:
        for k in range(1, len(chain) - 1):
            if 0.0 < arc[k] / arc[-1] < 1.0:
                anchors_at.append(arc[k] / arc[-1])
                anchors.append(_anatomical(rotations, chain[k], neutral))
    anchors_at.append(1.0)
    anchors.append(thorax)
    smpl_arc = np.cumsum([np.linalg.norm(skeleton.offsets[J[n]]) for n in TRUNK])
    for name, at in zip(TRUNK[:2], smpl_arc[:2] / smpl_arc[-1]):
        k = int(np.clip(np.searchsorted(anchors_at, at, side="right") - 1, 0, len(anchors) - 2))
        lo, hi = anchors[k], anchors[k + 1]
        share = (at - anchors_at[k]) / max(anchors_at[k + 1] - anchors_at[k], 1e-12)
        world[J[name]] = quat_multiply(lo, _power(quat_multiply(quat_conjugate(lo), hi), share))

    # Neck: how the rig's neck -> head vector turned inside the thorax; the head: its own segment.
    neck, head = r.get(J["neck"]), r.get(J["head"])
    top = head if head is not None else neck
    if neck is not None and head is not None and \
            np.linalg.norm(positions[neutral.frames[0], head] - positions[neutral.frames[0], neck]) > 1e-9:
        world[J["neck"]] = _calibrated_swing(rotations, positions, anatomy.thorax_segment, neck, head, neutral)
    else:
        world[J["neck"]] = _anatomical(rotations, top, neutral)
    world[J["head"]] = _anatomical(rotations, top, neutral)

    # Collars: how the rig's collar -> shoulder vector turned inside the thorax (from the thorax
    # joint when the rig has no collar joint, or its collar sits on the shoulder).
    for side in SIDES:
        shoulder = r[J[f"{side}_shoulder"]]
        start = r.get(J[f"{side}_collar"], anatomy.thorax_segment)
        if np.linalg.norm(positions[neutral.frames[0], shoulder] - positions[neutral.frames[0], start]) < 1e-9:
            start = anatomy.thorax_segment
        world[J[f"{side}_collar"]] = _calibrated_swing(rotations, positions, anatomy.thorax_segment, start,
                                                       shoulder, neutral)
    return world


def _neutral_swing(rotations, positions, frame_joint: int, start: int, end: int, neutral: Neutral) -> np.ndarray:
    """(N, 4) how the rig's ``start -> end`` vector turned inside the ``frame_joint`` segment since
    the neutral posture, as a world rotation about the segment (``frame swing frame^-1``)."""
    frame = rotations[:, frame_joint]
    swing = _local_swing(rotations, positions, frame_joint, start, end, neutral)
    return quat_multiply(quat_multiply(frame, swing), quat_conjugate(frame))


def _foot_directions(positions, rotations, anatomy: RigAnatomy, skeleton: Skeleton, side: str,
                     neutral: Neutral) -> np.ndarray:
    """(N, 3) ankle -> ball of the foot: SMPL's rest foot on the shin, turned as the rig's foot turned
    against its shin since the neutral posture (standing: the foot flat and straight ahead, however
    the rig places its toe joint). Only neutral frames where this foot stands on the floor count
    (its ankle within ``FOOT_DOWN_SHARE`` of the leg above its lowest level); with none, or when the
    rig's foot is more than ``MAX_FOOT_CALIBRATION_DEG`` off a flat foot there, the rig's own
    ankle -> toe direction is kept."""
    r = anatomy.resolved
    knee, ankle, foot = (r.get(J[f"{side}_{n}"]) for n in ("knee", "ankle", "foot"))
    rest_foot = np.broadcast_to(skeleton.offsets[J[f"{side}_foot"]], (len(positions), 3))
    shin = positions[:, ankle] - positions[:, knee]
    if foot is None or np.linalg.norm(positions[neutral.frames[0], foot] - positions[neutral.frames[0], ankle]) < 1e-9:
        rest_shin = np.broadcast_to(skeleton.offsets[J[f"{side}_ankle"]], shin.shape)
        return quat_rotate(rotation_between_vectors(rest_shin, shin), rest_foot)
    leg = 2.0 * np.median(np.linalg.norm(shin, axis=-1))
    height = positions[:, ankle, 1]
    down = height[neutral.frames] < np.percentile(height[:-1], 2) + FOOT_DOWN_SHARE * leg
    if not down.any():
        return positions[:, foot] - positions[:, ankle]
    flat = Neutral(neutral.frames[down], neutral.headings[down], neutral.standing)
    toes = positions[:, foot] - positions[:, ankle]
    # How far the rig's foot is from SMPL's flat, straight foot there (in the body's heading frame):
    # a rig's toe joint sits a little higher or lower, turned a little out; much more means the
    # performer was not standing on a flat foot, and the rig's own direction is kept.
    seen = _unit(quat_rotate(quat_conjugate(flat.headings), toes[flat.frames]))
    off = np.degrees(np.arccos(np.clip(seen @ _unit(skeleton.offsets[J[f"{side}_foot"]]), -1.0, 1.0)))
    if np.median(off) > MAX_FOOT_CALIBRATION_DEG:
        return toes
    return quat_rotate(_calibrated_swing(rotations, positions, knee, ankle, foot, flat), rest_foot)


# A foot stands on the floor where its ankle is within this share of the leg above its lowest level.
FOOT_DOWN_SHARE = 0.03
# The largest turn the calibration of a foot may make (rig conventions for the toe joint are smaller).
MAX_FOOT_CALIBRATION_DEG = 30.0


def _hand_directions(positions, rotations, anatomy: RigAnatomy, side: str, neutral: Neutral) -> np.ndarray:
    """(N, 3) wrist -> knuckles: along the forearm in the neutral posture (a relaxed hand hangs
    straight), turned as the rig's hand turned against its forearm since then."""
    r = anatomy.resolved
    elbow, wrist, hand = (r.get(J[f"{side}_{n}"]) for n in ("elbow", "wrist", "hand"))
    forearm = positions[:, wrist] - positions[:, elbow]
    if hand is None or np.linalg.norm(positions[neutral.frames[0], hand] - positions[neutral.frames[0], wrist]) < 1e-9:
        return forearm
    return quat_rotate(_neutral_swing(rotations, positions, elbow, wrist, hand, neutral), forearm)


def anatomical_targets(positions: np.ndarray, rotations: np.ndarray, anatomy: RigAnatomy, skeleton: Skeleton,
                       neutral: Neutral, hip_centre: np.ndarray) -> tuple[np.ndarray, dict]:
    """SMPL-24 joint targets (N, 24, 3) on ``skeleton`` and twist cues for ``solve_ik``.

    ``positions`` / ``rotations`` (N, J, ...) are the rig's world joints in the core frame;
    ``neutral`` says in which of these frames the performer stands in the neutral posture;
    ``hip_centre`` (N, 3) where the midpoint of the hip joints goes (metres, already scaled).
    """
    r = anatomy.resolved
    world = _trunk_rotations(positions, rotations, anatomy, skeleton, neutral)
    offsets = skeleton.offsets
    rest = skeleton.rest_positions()
    n = len(positions)
    targets = np.empty((n, NUM_JOINTS, 3))
    hips_mid_rest = 0.5 * (rest[J["left_hip"]] + rest[J["right_hip"]])
    targets[:, 0] = hip_centre + quat_rotate(world[0], np.broadcast_to(rest[0] - hips_mid_rest, (n, 3)))

    def along(joint: int, direction: np.ndarray):
        """Place ``joint`` at its bone length from its parent, along ``direction``."""
        targets[:, joint] = targets[:, PARENTS[joint]] + np.linalg.norm(offsets[joint]) * _unit(direction)

    def rigid(joint: int):
        """Place ``joint`` by its parent's world rotation (a trunk joint)."""
        parent = PARENTS[joint]
        targets[:, joint] = targets[:, parent] + quat_rotate(world[parent], np.broadcast_to(offsets[joint], (n, 3)))

    def rig_direction(a: str, b: str, fallback=None):
        ia, ib = r.get(J[a]), r.get(J[b])
        if ia is None or ib is None:
            return fallback
        return positions[:, ib] - positions[:, ia]

    for name in ("left_hip", "right_hip", "spine1", "spine2", "spine3", "neck", "left_collar", "right_collar",
                 "head", "left_shoulder", "right_shoulder"):
        rigid(J[name])
    for side in SIDES:
        along(J[f"{side}_knee"], rig_direction(f"{side}_hip", f"{side}_knee"))
        along(J[f"{side}_ankle"], rig_direction(f"{side}_knee", f"{side}_ankle"))
        along(J[f"{side}_foot"], _foot_directions(positions, rotations, anatomy, skeleton, side, neutral))
        along(J[f"{side}_elbow"], rig_direction(f"{side}_shoulder", f"{side}_elbow"))
        forearm = rig_direction(f"{side}_elbow", f"{side}_wrist")
        along(J[f"{side}_wrist"], forearm)
        along(J[f"{side}_hand"], _hand_directions(positions, rotations, anatomy, side, neutral))

    head = targets[:, J["head"]]
    cues = {
        "head_top": head + quat_rotate(world[J["head"]], np.broadcast_to((0.0, 0.1, 0.0), (n, 3))),
        "nose": head + quat_rotate(world[J["head"]], np.broadcast_to((0.0, 0.0, 0.1), (n, 3))),
    }
    for side, (index, pinky) in anatomy.knuckles.items():
        # The palm's line, pinky to index knuckle, for the hand's roll (shifted onto the SMPL wrist).
        shift = targets[:, J[f"{side}_wrist"]] - positions[:, r[J[f"{side}_wrist"]]]
        cues[f"{side}_index"] = positions[:, index] + shift
        cues[f"{side}_pinky"] = positions[:, pinky] + shift
    return targets, cues
