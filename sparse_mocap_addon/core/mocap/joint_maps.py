"""Joint correspondence maps: which source-rig joint sits where each SMPL-24 joint sits.

A map sends SMPL joint names to source joint names. A source joint is mapped when its *position*
is that SMPL joint's centre (Acclaim and BVH rigs place a joint at the start of its bone, so the
SMPL ``left_knee`` is the rig's shin/tibia joint). SMPL joints a rig lacks are simply left out: the
retargeter then keeps them straight relative to their parent.

Built-in maps cover the rigs of the shared data and the common game rigs; any other rig comes in
through a JSON file (``load_joint_map``) of the form::

    {"name": "my rig", "joints": {"pelvis": "Hips", "left_hip": "LeftUpLeg", ...}}

Source names are matched after dropping a namespace prefix ("mixamorig:Hips" -> "Hips"), so one
map serves every namespace a tool writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..kinematics.skeleton import JOINT_NAMES

# Without these the body cannot be posed; everything else is optional.
REQUIRED_JOINTS = (
    "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
# ... plus at least one spine joint and one of neck/head.
SPINE_JOINTS = ("spine1", "spine2", "spine3")
HEAD_JOINTS = ("neck", "head")


class JointMapError(ValueError):
    """A joint map that does not fit the rig (unmapped required joints, unknown names)."""


@dataclass(frozen=True)
class JointMap:
    name: str
    joints: dict = field(default_factory=dict)   # SMPL joint name -> source joint name

    def resolve(self, source_names) -> dict:
        """SMPL joint index -> source joint index for the joints this rig has.

        Raises ``JointMapError`` listing the required SMPL joints left unmapped.
        """
        lookup = _name_lookup(source_names)
        resolved = {}
        for smpl_index, smpl_name in enumerate(JOINT_NAMES):
            source_name = self.joints.get(smpl_name)
            if source_name is None:
                continue
            index = lookup.get(strip_namespace(source_name))
            if index is not None:
                resolved[smpl_index] = index
        missing = missing_required(resolved)
        if missing:
            wanted = ", ".join(f"{m} ({self.joints[m]})" if m in self.joints else m for m in missing)
            raise JointMapError(f"joint map '{self.name}' leaves required SMPL joints unmapped on this rig: {wanted}")
        return resolved


def missing_required(resolved: dict) -> list:
    """Names of the required SMPL joints (and joint groups) a resolved map lacks."""
    have = {JOINT_NAMES[i] for i in resolved}
    missing = [name for name in REQUIRED_JOINTS if name not in have]
    if not have.intersection(SPINE_JOINTS):
        missing.append("spine1/spine2/spine3 (any one)")
    if not have.intersection(HEAD_JOINTS):
        missing.append("neck/head (either)")
    return missing


def strip_namespace(name: str) -> str:
    return name.rsplit(":", 1)[-1].rsplit("|", 1)[-1]


def _name_lookup(source_names) -> dict:
    lookup = {}
    for i, name in enumerate(source_names):
        lookup.setdefault(strip_namespace(name), i)
    return lookup


def sided(left: dict, midline: dict, right_of) -> dict:
    """A full map from the left-side entries, deriving the right side with ``right_of(name)``."""
    joints = dict(midline)
    for smpl, source in left.items():
        joints[smpl] = source
        joints[smpl.replace("left_", "right_")] = right_of(source)
    return joints


def _swap(prefix_left: str, prefix_right: str):
    return lambda name: name.replace(prefix_left, prefix_right, 1)


# Acclaim (CMU ASF, HDM05 ASF) and the CMU motion-prediction benchmark skeleton share bone names.
# Spine: root -> lowerback -> upperback -> thorax -> lowerneck -> upperneck -> head; the clavicles
# start where lowerneck starts, which is where SMPL puts spine3's children.
_ACCLAIM = sided(
    {"left_hip": "lfemur", "left_knee": "ltibia", "left_ankle": "lfoot", "left_foot": "ltoes",
     "left_collar": "lclavicle", "left_shoulder": "lhumerus", "left_elbow": "lradius",
     "left_wrist": "lwrist", "left_hand": "lfingers"},
    {"pelvis": "root", "spine1": "upperback", "spine2": "thorax", "spine3": "lowerneck",
     "neck": "upperneck", "head": "head"},
    lambda n: "r" + n[1:],
)

# cgspeed's CMU BVH conversion and the CMU FBX takes ("Hips, LHipJoint, LeftUpLeg, ..."). Neck sits
# on Spine1 and LeftFingerBase on LeftHand (zero offsets), so they are not used.
_CGSPEED = sided(
    {"left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
     "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm",
     "left_wrist": "LeftHand", "left_hand": "LeftHandIndex1"},
    {"pelvis": "Hips", "spine1": "Spine", "spine3": "Spine1", "neck": "Neck1", "head": "Head"},
    _swap("Left", "Right"),
)

# CMU BVH with joint-centred names (CMU subject 131: "LeftHip, LeftKnee, ..., Chest, Chest2").
_CMU_JOINT_NAMED = sided(
    {"left_hip": "LeftHip", "left_knee": "LeftKnee", "left_ankle": "LeftAnkle", "left_foot": "LeftToe",
     "left_collar": "LeftCollar", "left_shoulder": "LeftShoulder", "left_elbow": "LeftElbow",
     "left_wrist": "LeftWrist", "left_hand": "LFingers"},
    {"pelvis": "Hips", "spine1": "Chest", "spine2": "Chest2", "spine3": "lowerneck", "neck": "Neck",
     "head": "Head"},
    lambda n: "RFingers" if n == "LFingers" else n.replace("Left", "Right", 1),
)

# Poser/DAZ-style names of the CMU salsa and subject 62 BVH ("hip, abdomen, chest, ...").
# The feet have no toe joint: the foot's end site is the toe.
_POSER = sided(
    {"left_hip": "lThigh", "left_knee": "lShin", "left_ankle": "lFoot", "left_foot": "lFoot_end",
     "left_collar": "lCollar", "left_shoulder": "lShldr", "left_elbow": "lForeArm", "left_wrist": "lHand"},
    {"pelvis": "hip", "spine1": "abdomen", "spine3": "chest", "neck": "neck", "head": "head"},
    lambda n: "r" + n[1:],
)

# Character Creator / iClone ("CC_Base_*"), e.g. the CMU BVH retargeted to a CC rig.
_CC_BASE = sided(
    {"left_hip": "CC_Base_L_Thigh", "left_knee": "CC_Base_L_Calf", "left_ankle": "CC_Base_L_Foot",
     "left_foot": "CC_Base_L_ToeBase", "left_collar": "CC_Base_L_Clavicle",
     "left_shoulder": "CC_Base_L_Upperarm", "left_elbow": "CC_Base_L_Forearm",
     "left_wrist": "CC_Base_L_Hand", "left_hand": "CC_Base_L_Mid1"},
    {"pelvis": "CC_Base_Pelvis", "spine1": "CC_Base_Waist", "spine2": "CC_Base_Spine01",
     "spine3": "CC_Base_Spine02", "neck": "CC_Base_NeckTwist01", "head": "CC_Base_Head"},
    _swap("_L_", "_R_"),
)

# Mixamo ("mixamorig:Hips", ...); the namespace is dropped when matching.
_MIXAMO = sided(
    {"left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
     "left_collar": "LeftShoulder", "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm",
     "left_wrist": "LeftHand", "left_hand": "LeftHandMiddle1"},
    {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
     "head": "Head"},
    _swap("Left", "Right"),
)

BUILTIN_MAPS = {
    "smpl": JointMap("SMPL-24 (this project's armature and BVH export)", {n: n for n in JOINT_NAMES}),
    "acclaim": JointMap("acclaim (CMU / HDM05 ASF, CMU benchmark skeleton)", _ACCLAIM),
    "cgspeed": JointMap("cgspeed CMU BVH / CMU FBX", _CGSPEED),
    "cmu_joint_named": JointMap("CMU BVH with joint names (LeftHip, Chest, ...)", _CMU_JOINT_NAMED),
    "poser": JointMap("Poser/DAZ names (hip, abdomen, chest; CMU salsa and subject 62)", _POSER),
    "cc_base": JointMap("Character Creator / iClone CC_Base", _CC_BASE),
    "mixamo": JointMap("Mixamo", _MIXAMO),
}


def register_builtin_map(key: str, joint_map: JointMap) -> None:
    """Add a map to the ones ``detect_joint_map`` tries (readers of other rigs call this)."""
    BUILTIN_MAPS[key] = joint_map


def detect_joint_map(source_names, source: str = "the rig") -> JointMap:
    """The built-in map that resolves on this rig and covers the most SMPL joints.

    When none resolves, the error names the closest map and what it misses, and points to a JSON map.
    """
    best, best_count, best_missing = None, -np.inf, None
    for joint_map in BUILTIN_MAPS.values():
        lookup = _name_lookup(source_names)
        resolved = {JOINT_NAMES.index(s): lookup[strip_namespace(n)]
                    for s, n in joint_map.joints.items() if strip_namespace(n) in lookup}
        missing = missing_required(resolved)
        score = len(resolved) - 100 * len(missing)
        if score > best_count:
            best, best_count, best_missing = joint_map, score, missing
    if best_missing:
        raise JointMapError(
            f"{source}: no built-in joint map fits (closest is '{best.name}', which lacks "
            f"{', '.join(best_missing)}); write a JSON joint map for this rig and pass it in")
    return best


def read_map_file(path, what: str, error) -> object:
    """The parsed JSON of a user's map file (``what``: "joint map", "bone map"); ``error`` (an
    exception class) in one sentence for a missing or unreadable file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not a readable JSON {what} ({exc})") from None


def load_joint_map(path) -> JointMap:
    """Read a user's JSON joint map; unknown SMPL names and malformed files are refused clearly."""
    path = Path(path)
    data = read_map_file(path, "joint map", JointMapError)
    joints = data.get("joints", data) if isinstance(data, dict) else None
    if not isinstance(joints, dict) or not all(isinstance(v, str) for v in joints.values()):
        raise JointMapError(f'{path}: expected {{"joints": {{"<SMPL joint>": "<rig joint>", ...}}}}')
    unknown = sorted(set(joints) - set(JOINT_NAMES))
    if unknown:
        raise JointMapError(f"{path}: unknown SMPL joint name(s) {', '.join(unknown)}; "
                            f"expected some of {', '.join(JOINT_NAMES)}")
    return JointMap(str(data.get("name", path.stem)) if isinstance(data, dict) else path.stem, dict(joints))


def save_joint_map(joint_map: JointMap, path) -> Path:
    """Write a map as JSON (a starting point users can edit for their rig)."""
    path = Path(path)
    path.write_text(json.dumps({"name": joint_map.name, "joints": joint_map.joints}, indent=2) + "\n",
                    encoding="utf-8")
    return path
