"""From landmarks (canonical names, core frame) to SMPL-24 joint targets and twist cues.

Landmark tools see the surface of the body and a handful of joint centres; SMPL has joints no
camera sees (three spine joints, the collars) and puts its pelvis above the hip joints. Every SMPL
joint is therefore a *recipe* over landmarks, and exists in a frame only when every landmark the
recipe uses is there (masked points stay masked):

- hips, knees, ankles, shoulders, elbows, wrists: the landmark of the same name;
- the trunk line runs from the mid-hip point to the base of the neck (the "neck"/"thorax" landmark,
  else the mid-shoulder point); pelvis, spine1-3 and the SMPL neck sit on it at the fractions of
  the default body (``TRUNK_FRACTIONS``; the SMPL neck lies above the shoulder line, hence > 1);
- collars: 40 % of the way from spine3 to each shoulder (the default body's layout);
- head: between the ears, else 35 % of the way from the SMPL neck to the top of the head;
- feet (SMPL's ball of the foot): between the big and small toe, else 70 % of the way from the heel
  to the toe tip (MediaPipe "foot_index"), else the big toe;
- hands: between the index and pinky knuckles (MediaPipe), else missing.

Landmarks that are no SMPL joint but settle a twist (nose, ears, head top, thumb, index, pinky,
toes) are passed on as *cues* for :func:`.ik.solve_ik`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .sequence import SMPL_LAYOUT, LandmarkError, LandmarkSequence
from ..kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

# Fractions along mid-hip -> neck base (mid-shoulder level) in the default body (core/body/measurements.py):
# hip joints 0, pelvis .045, spine1 .105, spine2 .18, spine3 .21, shoulders .27, SMPL neck .33 of H.
TRUNK_FRACTIONS = {"pelvis": 0.167, "spine1": 0.389, "spine2": 0.667, "spine3": 0.778, "neck": 1.222}
COLLAR_FRACTION = 0.4           # from spine3 towards the shoulder
HEAD_FRACTION = 0.35            # from the SMPL neck towards the top of the head
BALL_ALONG_HEEL_TO_TOE = 0.7    # ball of the foot between heel and toe tip

CUE_NAMES = (
    "nose", "head_top", "left_ear", "right_ear",
    "left_thumb", "right_thumb", "left_index", "right_index", "left_pinky", "right_pinky",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)


@dataclass
class JointTargets:
    """SMPL-24 joint targets: ``positions`` (T, 24, 3) metres (NaN where missing), ``valid``
    (T, 24), ``cues`` name -> (T, 3) extra points (NaN where missing), and per joint the landmark
    recipe used (or None when the layout cannot give that joint)."""

    positions: np.ndarray
    valid: np.ndarray
    cues: dict = field(default_factory=dict)
    recipes: dict = field(default_factory=dict)
    fps: float = 30.0

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def observed_joints(self) -> list[str]:
        return [JOINT_NAMES[j] for j in range(NUM_JOINTS) if self.valid[:, j].any()]


class _Points:
    """Masked landmark lookup: ``get(name)`` -> (T, 3) with NaN where not confident, or None."""

    def __init__(self, seq: LandmarkSequence, threshold: float):
        self.seq = seq
        self.pts = seq.masked_points(threshold)

    def get(self, name):
        if name in self.seq.names:
            return self.pts[:, self.seq.index(name)]
        return None


def _lerp(a, b, t):
    return a + t * (b - a)


def _first(*candidates):
    """The first candidate recipe whose inputs all exist: (points, description)."""
    for points, text in candidates:
        if points is not None:
            return points, text
    return None, None


def _mid(p: _Points, a: str, b: str):
    pa, pb = p.get(a), p.get(b)
    if pa is None or pb is None:
        return None
    return 0.5 * (pa + pb)


def joint_targets(seq: LandmarkSequence, threshold: float = 0.5) -> JointTargets:
    """The SMPL-24 targets and cues of a landmark sequence already in the core frame (Y up)."""
    T = seq.num_frames
    positions = np.full((T, NUM_JOINTS, 3), np.nan)
    recipes = {}
    if seq.layout == SMPL_LAYOUT:
        pts = seq.masked_points(threshold)
        for j, name in enumerate(JOINT_NAMES):
            positions[:, j] = pts[:, seq.index(name)]
            recipes[name] = name
        return _finish(positions, {}, recipes, seq.fps)

    p = _Points(seq, threshold)
    J = JOINT_INDEX

    def put(joint, points, text):
        if points is not None:
            positions[:, J[joint]] = points
            recipes[joint] = text

    for side in ("left", "right"):
        for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
            put(f"{side}_{part}", p.get(f"{side}_{part}"), f"{side}_{part}")

    mid_hip, mid_hip_text = _first((_mid(p, "left_hip", "right_hip"), "mid-hips"), (p.get("mid_hip"), "mid_hip"))
    neck_base, neck_text = _first((p.get("neck"), "neck"), (p.get("thorax"), "thorax"),
                                  (_mid(p, "left_shoulder", "right_shoulder"), "mid-shoulders"))
    if mid_hip is not None and neck_base is not None:
        for joint, fraction in TRUNK_FRACTIONS.items():
            put(joint, _lerp(mid_hip, neck_base, fraction), f"{fraction:g} of {mid_hip_text} -> {neck_text}")
    spine3 = positions[:, J["spine3"]]
    if "spine3" in recipes:
        for side in ("left", "right"):
            shoulder = p.get(f"{side}_shoulder")
            if shoulder is not None:
                put(f"{side}_collar", _lerp(spine3, shoulder, COLLAR_FRACTION),
                    f"{COLLAR_FRACTION:g} of spine3 -> {side}_shoulder")

    neck = positions[:, J["neck"]] if "neck" in recipes else None
    head_top = p.get("head_top")
    head, head_text = _first(
        (_mid(p, "left_ear", "right_ear"), "mid-ears"),
        (_lerp(neck, head_top, HEAD_FRACTION) if neck is not None and head_top is not None else None,
         f"{HEAD_FRACTION:g} of neck -> head_top"),
    )
    put("head", head, head_text)

    for side in ("left", "right"):
        heel, toe_tip = p.get(f"{side}_heel"), p.get(f"{side}_foot_index")
        ball, ball_text = _first(
            (_mid(p, f"{side}_big_toe", f"{side}_small_toe"), "mid-toes"),
            (_lerp(heel, toe_tip, BALL_ALONG_HEEL_TO_TOE) if heel is not None and toe_tip is not None else None,
             f"{BALL_ALONG_HEEL_TO_TOE:g} of heel -> toe tip"),
            (p.get(f"{side}_big_toe"), "big toe"),
        )
        put(f"{side}_foot", ball, ball_text)
        put(f"{side}_hand", _mid(p, f"{side}_index", f"{side}_pinky"), "mid index-pinky knuckles")

    cues = {name: p.get(name) for name in CUE_NAMES if p.get(name) is not None}
    return _finish(positions, cues, recipes, seq.fps)


def _finish(positions, cues, recipes, fps) -> JointTargets:
    valid = np.isfinite(positions).all(axis=-1)
    positions[~valid] = np.nan
    if not recipes.get("pelvis"):
        raise LandmarkError("the landmarks have no hips (or no trunk), so the pelvis cannot be placed; "
                            "check the layout and the confidence threshold.")
    full = {JOINT_NAMES[j]: recipes.get(JOINT_NAMES[j]) for j in range(NUM_JOINTS)}
    return JointTargets(positions=positions, valid=valid, cues=cues, recipes=full, fps=fps)
