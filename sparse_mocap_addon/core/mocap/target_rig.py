"""The user's character rig as a retarget target: its rest pose and which bones carry each SMPL joint.

A :class:`TargetRig` describes an armature from its rest pose (armature space, core frame, metres):
bone names, parents, head and tail positions and rest orientations (each a rotation whose columns
are the bone's local X, Y (head to tail) and Z axes). Its ``chains`` say which bones carry each SMPL
joint's rotation, root to tip; the keys are the SMPL joint names, except that spine1..spine3 share
one key, ``"spine"``: a rig's 1..5 spine bones take the three SMPL spine rotations between them.
Likewise ``"neck"`` may hold several neck bones. ``twist`` lists, per key, the bones that only turn
about their own axis (UE ``upperarm_twist_01_l``, CC ``..._UpperarmTwist01``, Rigify's split
``DEF-upper_arm.L.001``) so a later step can spread the segment's twist over them.

Bone maps (:class:`RigMap`) send those keys to rig bone names. Built-in maps cover the Rigify
generated rig (deform ``DEF-`` and ``ORG-`` bones), the Rigify / Blender human metarig, Mixamo (any
namespace), the Unreal Engine 4/5 mannequin, VRM humanoid and VRoid names and Character Creator
``CC_Base_*``; any other rig comes in through a JSON file::

    {"name": "my rig", "bones": {"pelvis": "Hips", "spine": ["Spine", "Spine1"], ...},
     "twist": {"left_shoulder": ["UpperArmRoll"]}}

Names are matched after dropping a namespace (``mixamorig:Hips`` -> ``Hips``). Bones whose name
says "twist" are found without being listed. Fingers are optional.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_open
from ..kinematics.skeleton import JOINT_INDEX, JOINT_NAMES
from .joint_maps import BUILTIN_MAPS, JointMapError, missing_required, read_map_file, sided, strip_namespace

SPINE_JOINTS = ("spine1", "spine2", "spine3")
# The keys of a bone map: SMPL joints, with the three spine joints as one chain.
SEGMENTS = tuple(dict.fromkeys("spine" if name in SPINE_JOINTS else name for name in JOINT_NAMES))


class RigMapError(JointMapError):
    """A bone map that does not fit the armature, or a malformed bone map file."""


@dataclass(frozen=True)
class RigMap:
    """Segment key (see ``SEGMENTS``) -> rig bone names root to tip; ``twist`` likewise.

    Built-in maps list every bone a rig of that kind may have (UE4 has 3 spine bones, UE5 has 5):
    the ones the armature lacks are skipped. A user's map (``strict``) must name existing bones.
    ``family`` groups maps of one rig (Rigify's DEF and ORG layers): a tie inside a family goes to
    the map listed first instead of being refused.
    """

    name: str
    bones: dict = field(default_factory=dict)
    twist: dict = field(default_factory=dict)
    family: str = ""
    strict: bool = False


@dataclass(frozen=True)
class TargetRig:
    source: str                  # what it was read from, for messages ("armature 'Manny'")
    map_name: str
    bone_names: tuple
    parents: np.ndarray          # (B,) parent bone index, -1 for roots
    heads: np.ndarray            # (B, 3) rest head positions, armature space, core frame, metres
    tails: np.ndarray            # (B, 3)
    rest_rotations: np.ndarray   # (B, 3, 3) columns: the bone's X, Y (head -> tail), Z axes
    chains: dict                 # segment key -> tuple of bone indices, root to tip
    twist: dict                  # segment key -> tuple of twist bone indices

    def bone_index(self, name: str) -> int:
        return self.bone_names.index(name)

    def chain_names(self, segment: str) -> tuple:
        """The bone names carrying a segment (``"spine1"`` etc. give the shared spine chain)."""
        key = "spine" if segment in SPINE_JOINTS else segment
        return tuple(self.bone_names[i] for i in self.chains.get(key, ()))

    def twist_names(self, segment: str) -> tuple:
        return tuple(self.bone_names[i] for i in self.twist.get(segment, ()))

    def is_twist(self, bone_name: str) -> bool:
        index = self.bone_index(bone_name)
        return any(index in bones for bones in self.twist.values())


# -- built-in maps -----------------------------------------------------------------------------------

def _from_joint_map(key: str, **overrides) -> dict:
    """A bone map from a source joint map (a bone's head is its joint, so the names carry over)."""
    bones = {}
    for smpl_name, source_name in BUILTIN_MAPS[key].joints.items():
        segment = "spine" if smpl_name in SPINE_JOINTS else smpl_name
        bones.setdefault(segment, []).append(source_name)
    bones.update(overrides)
    return {segment: tuple(names) if isinstance(names, (list, tuple)) else (names,)
            for segment, names in bones.items()}


def _metarig(prefix: str = "") -> dict:
    """Blender's human metarig names (also Rigify's ORG- and DEF- layers with a prefix)."""
    limbs = sided({"left_hip": "thigh.L", "left_knee": "shin.L", "left_ankle": "foot.L", "left_foot": "toe.L",
                    "left_collar": "shoulder.L", "left_shoulder": "upper_arm.L", "left_elbow": "forearm.L",
                    "left_wrist": "hand.L", "left_hand": "f_middle.01.L"},
                   {"pelvis": "spine", "head": "spine.006"}, lambda n: n[:-1] + "R")
    bones = {segment: (prefix + name,) for segment, name in limbs.items()}
    bones["spine"] = tuple(prefix + n for n in ("spine.001", "spine.002", "spine.003"))
    bones["neck"] = tuple(prefix + n for n in ("spine.004", "spine.005"))
    return bones


def _rigify_deform_twist() -> dict:
    """Rigify splits each limb's deform bone in two: the second half carries only twist."""
    left = {"left_hip": "DEF-thigh.L.001", "left_knee": "DEF-shin.L.001",
            "left_shoulder": "DEF-upper_arm.L.001", "left_elbow": "DEF-forearm.L.001"}
    return {segment: (name,) for segment, name in sided(left, {}, lambda n: n.replace(".L", ".R")).items()}


def _each(right_of):
    """``right_of`` for a chain: every name of it."""
    return lambda names: tuple(right_of(n) for n in names)


_UNREAL = sided(
    {"left_hip": ("thigh_l",), "left_knee": ("calf_l",), "left_ankle": ("foot_l",), "left_foot": ("ball_l",),
     "left_collar": ("clavicle_l",), "left_shoulder": ("upperarm_l",), "left_elbow": ("lowerarm_l",),
     "left_wrist": ("hand_l",), "left_hand": ("middle_01_l",)},
    {"pelvis": ("pelvis",), "spine": tuple(f"spine_0{i}" for i in range(1, 6)),
     "neck": ("neck_01", "neck_02"), "head": ("head",)},
    _each(lambda n: n[:-2] + "_r"),
)

_VRM = sided(
    {"left_hip": ("leftUpperLeg",), "left_knee": ("leftLowerLeg",), "left_ankle": ("leftFoot",),
     "left_foot": ("leftToes",), "left_collar": ("leftShoulder",), "left_shoulder": ("leftUpperArm",),
     "left_elbow": ("leftLowerArm",), "left_wrist": ("leftHand",), "left_hand": ("leftMiddleProximal",)},
    {"pelvis": ("hips",), "spine": ("spine", "chest", "upperChest"), "neck": ("neck",), "head": ("head",)},
    _each(lambda n: "right" + n[len("left"):]),
)

# VRoid Studio exports ("J_Bip_C_Hips", ...): the VRM humanoid under its own bone names.
_VROID = sided(
    {"left_hip": ("J_Bip_L_UpperLeg",), "left_knee": ("J_Bip_L_LowerLeg",), "left_ankle": ("J_Bip_L_Foot",),
     "left_foot": ("J_Bip_L_ToeBase",), "left_collar": ("J_Bip_L_Shoulder",),
     "left_shoulder": ("J_Bip_L_UpperArm",), "left_elbow": ("J_Bip_L_LowerArm",),
     "left_wrist": ("J_Bip_L_Hand",), "left_hand": ("J_Bip_L_Middle1",)},
    {"pelvis": ("J_Bip_C_Hips",), "spine": ("J_Bip_C_Spine", "J_Bip_C_Chest", "J_Bip_C_UpperChest"),
     "neck": ("J_Bip_C_Neck",), "head": ("J_Bip_C_Head",)},
    _each(lambda n: n.replace("_L_", "_R_", 1)),
)

# CC's hip bone carries both the legs (through CC_Base_Pelvis) and the spine, so the SMPL pelvis
# rotation goes there; the neck is two bones named "NeckTwist".
_CC_BASE = _from_joint_map("cc_base", pelvis="CC_Base_Hip",
                           neck=("CC_Base_NeckTwist01", "CC_Base_NeckTwist02"))

BUILTIN_RIG_MAPS = {
    "rigify_deform": RigMap("Rigify generated rig (DEF- deform bones)", _metarig("DEF-"),
                            _rigify_deform_twist(), family="rigify"),
    "rigify_org": RigMap("Rigify generated rig (ORG- bones)", _metarig("ORG-"), family="rigify"),
    "metarig": RigMap("Rigify / Blender human metarig", _metarig()),
    "mixamo": RigMap("Mixamo", _from_joint_map("mixamo")),
    "unreal": RigMap("Unreal Engine 4/5 mannequin", _UNREAL),
    "vrm": RigMap("VRM humanoid", _VRM),
    "vroid": RigMap("VRoid (J_Bip)", _VROID),
    "cc_base": RigMap("Character Creator / iClone CC_Base", _CC_BASE),
}


# -- resolving a map on an armature ------------------------------------------------------------------

def _lookup(bone_names) -> dict:
    """Bare name (namespace dropped) -> bone index."""
    lookup = {}
    for i, name in enumerate(bone_names):
        lookup.setdefault(strip_namespace(name), i)
    return lookup


def _resolve_chains(table: dict, lookup: dict) -> tuple[dict, list]:
    """Segment -> bone indices found (as listed), and the listed names the armature lacks."""
    found, absent = {}, []
    for segment, names in table.items():
        indices = []
        for name in names:
            index = lookup.get(strip_namespace(name))
            (absent.append(name) if index is None else indices.append(index))
        if indices:
            found[segment] = tuple(indices)
    return found, absent


def _missing_required(chains: dict) -> list:
    """The required SMPL joints (and groups) a set of resolved chains lacks (see joint_maps)."""
    resolved = {JOINT_INDEX[s]: bones for s, bones in chains.items() if s in JOINT_INDEX}
    if "spine" in chains:
        resolved[JOINT_INDEX["spine1"]] = chains["spine"]
    return missing_required(resolved)


def _depth(parents: np.ndarray, bone: int) -> int:
    depth = 0
    while parents[bone] >= 0:
        bone, depth = parents[bone], depth + 1
    return depth


def _is_ancestor(parents: np.ndarray, ancestor: int, bone: int) -> bool:
    while bone >= 0:
        bone = parents[bone]
        if bone == ancestor:
            return True
    return False


def _root_to_tip(parents: np.ndarray, chain: tuple) -> tuple:
    """A chain ordered root to tip when its bones descend from one another; else as the map lists it
    (Rigify's ORG bones hang off mechanism bones between them)."""
    ordered = tuple(sorted(chain, key=lambda b: _depth(parents, b)))
    if all(_is_ancestor(parents, a, b) for a, b in zip(ordered, ordered[1:])):
        return ordered
    return chain


def _named_twist(bone_names, parents: np.ndarray, chains: dict, listed: dict) -> dict:
    """Bones named "...twist..." outside every chain, under the segment of their nearest chain ancestor."""
    owner = {bone: segment for segment, bones in chains.items() for bone in bones}
    taken = set(owner) | {b for bones in listed.values() for b in bones}
    twist = {segment: list(bones) for segment, bones in listed.items()}
    for bone, name in enumerate(bone_names):
        if bone in taken or "twist" not in strip_namespace(name).lower():
            continue
        ancestor = parents[bone]
        while ancestor >= 0 and ancestor not in owner:
            ancestor = parents[ancestor]
        if ancestor >= 0:
            twist.setdefault(owner[ancestor], []).append(bone)
    return {segment: tuple(sorted(bones, key=lambda b: (_depth(parents, b), bone_names[b])))
            for segment, bones in twist.items()}


def _close_names(expected, bone_names, limit: int = 6) -> list:
    """Rig bones whose names look like the expected ones (for the error message)."""
    bare = {strip_namespace(n).lower(): n for n in bone_names}
    close = []
    for name in expected:
        for match in difflib.get_close_matches(strip_namespace(name).lower(), bare, n=2, cutoff=0.6):
            if bare[match] not in close:
                close.append(bare[match])
    return close[:limit]


def _missing_message(rig_map: RigMap, missing: list, bone_names) -> str:
    segments = [s for m in missing for s in m.split(" ")[0].split("/")]   # "neck/head (either)"
    expected = [n for s in segments for n in rig_map.bones.get("spine" if s in SPINE_JOINTS else s, ())]
    close = _close_names(expected, bone_names)
    hint = f"; bones that look close: {', '.join(close)}" if close else ""
    return f"lacks {', '.join(missing)}{hint}"


def _score(rig_map: RigMap, lookup: dict) -> tuple[int, list]:
    chains, _ = _resolve_chains(rig_map.bones, lookup)
    return len(chains), _missing_required(chains)


def detect_rig_map(bone_names, source: str = "the armature") -> RigMap:
    """The built-in map that covers the most segments of this armature with every required joint.

    Refused, naming the candidates, when two maps of different rigs fit equally well; refused with
    what is missing and what looks close when none has every required joint.
    """
    lookup = _lookup(bone_names)
    scored = [(key, rig_map, *_score(rig_map, lookup)) for key, rig_map in BUILTIN_RIG_MAPS.items()]
    complete = [entry for entry in scored if not entry[3]]
    if not complete:
        _, closest, _, missing = max(scored, key=lambda e: e[2] - 100 * len(e[3]))
        raise RigMapError(f"{source}: no built-in bone map fits (closest is '{closest.name}', which "
                          f"{_missing_message(closest, missing, bone_names)}); give a JSON bone map for this rig")
    best = max(entry[2] for entry in complete)
    top = [entry for entry in complete if entry[2] == best]
    families = {entry[1].family or entry[0] for entry in top}
    if len(families) > 1:
        raise RigMapError(f"{source}: the bone names fit several rigs equally well "
                          f"({', '.join(repr(e[1].name) for e in top)}); choose the bone map by name")
    return top[0][1]


def describe_target_rig(bone_names, parents, heads, tails, rest_rotations, rig_map: RigMap | str | None = None,
                        source: str = "the armature") -> TargetRig:
    """A :class:`TargetRig` from an armature's rest pose (core frame) and a bone map (detected when None,
    or a key of ``BUILTIN_RIG_MAPS``)."""
    bone_names = tuple(bone_names)
    parents = np.asarray(parents, dtype=np.int64)
    if rig_map is None:
        rig_map = detect_rig_map(bone_names, source)
    elif isinstance(rig_map, str):
        if rig_map not in BUILTIN_RIG_MAPS:
            raise RigMapError(f"unknown bone map '{rig_map}'; the built-in ones are {', '.join(BUILTIN_RIG_MAPS)}")
        rig_map = BUILTIN_RIG_MAPS[rig_map]
    lookup = _lookup(bone_names)
    chains, absent = _resolve_chains(rig_map.bones, lookup)
    listed_twist, absent_twist = _resolve_chains(rig_map.twist, lookup)
    if rig_map.strict and absent + absent_twist:
        raise RigMapError(f"{source}: bone map '{rig_map.name}' names bones the armature lacks: "
                          f"{', '.join(absent + absent_twist)}")
    missing = _missing_required(chains)
    if missing:
        raise RigMapError(f"{source}: bone map '{rig_map.name}' {_missing_message(rig_map, missing, bone_names)}")
    chains = {segment: _root_to_tip(parents, bones) for segment, bones in chains.items()}
    return TargetRig(
        source=source, map_name=rig_map.name, bone_names=bone_names, parents=parents,
        heads=np.asarray(heads, dtype=np.float64).reshape(-1, 3),
        tails=np.asarray(tails, dtype=np.float64).reshape(-1, 3),
        rest_rotations=np.asarray(rest_rotations, dtype=np.float64).reshape(-1, 3, 3),
        chains=chains, twist=_named_twist(bone_names, parents, chains, listed_twist))


# -- user maps (JSON) --------------------------------------------------------------------------------

def _names_table(path: Path, table, what: str) -> dict:
    """{"segment": "Bone" or ["Bone", ...]} checked and turned into segment -> tuple of names."""
    if not isinstance(table, dict) or not all(
            isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(n, str) for n in v))
            for v in table.values()):
        raise RigMapError(f'{path}: expected "{what}": {{"<SMPL joint or spine>": "<bone>" or ["<bone>", ...]}}')
    unknown = sorted(set(table) - set(SEGMENTS) - set(SPINE_JOINTS))
    if unknown:
        raise RigMapError(f"{path}: unknown joint name(s) {', '.join(unknown)} in \"{what}\"; "
                          f"expected some of {', '.join(SEGMENTS)}")
    names = {}
    for segment in (*SEGMENTS[:3], *SPINE_JOINTS, *SEGMENTS[3:]):   # spine1..3 in order into "spine"
        value = table.get(segment)
        if value is not None:
            key = "spine" if segment in SPINE_JOINTS else segment
            names[key] = names.get(key, ()) + ((value,) if isinstance(value, str) else tuple(value))
    return names


def load_rig_map(path) -> RigMap:
    """Read a user's JSON bone map; malformed files and unknown joint names are refused in one sentence."""
    path = Path(path)
    data = read_map_file(path, "bone map", RigMapError)
    if not isinstance(data, dict) or "bones" not in data:
        raise RigMapError(f'{path}: expected {{"name": "...", "bones": {{"pelvis": "<bone>", ...}}}}')
    return RigMap(str(data.get("name", path.stem)), _names_table(path, data["bones"], "bones"),
                  _names_table(path, data.get("twist", {}), "twist"), strict=True)


def save_rig_map(rig_map: RigMap, path) -> Path:
    """Write a map as JSON (a starting point users can edit for their rig)."""
    path = Path(path)
    as_lists = lambda table: {segment: list(names) for segment, names in table.items()}  # noqa: E731
    with atomic_open(path, "w", encoding="utf-8") as handle:     # never a half-written preset
        handle.write(json.dumps({"name": rig_map.name, "bones": as_lists(rig_map.bones),
                                 "twist": as_lists(rig_map.twist)}, indent=2) + "\n")
    return path
