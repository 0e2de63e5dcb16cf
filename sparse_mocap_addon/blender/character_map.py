"""The user's character in the scene and its bone map: which armature is the character (the one
picked in the Character panel, ``Scene.sparse_mocap_character``) and the bone map it is retargeted
through (``Object.sparse_mocap_bone_map``: a built-in map, detected or named, or a JSON file, plus
bones picked by hand for single segments; it lives on the character's object, so it is saved with
the character). Shared by the character operators, the Onto Character option and the panel.
"""

from __future__ import annotations

import dataclasses

import bpy

from ..core.mocap.target_rig import BUILTIN_RIG_MAPS, SEGMENTS, RigMap, RigMapError, detect_rig_map, load_rig_map
from .armature import is_smpl_armature
from .character import RIGIFY_MAP
from .rigify_controls import is_rigify_rig
from .target_rig import target_rig_from_armature


def picked_character(context, name: str = ""):
    """The character armature named ``name``, else the one picked in the Character panel. Raises
    ValueError in one sentence when there is none or it is no character armature (the panel's
    picker offers only those, but a script may set anything)."""
    obj = bpy.data.objects.get(name) if name else context.scene.sparse_mocap_character
    if obj is None and not name:
        raise ValueError("No character picked: choose the character's armature in the Character panel "
                         "(Sparse Mocap tab)")
    if obj is None or obj.type != "ARMATURE" or is_smpl_armature(obj):
        raise ValueError(f"'{name or obj.name}' is no character armature: pick an armature that is not an "
                         "SMPL one")
    return obj


def bone_overrides(obj) -> dict:
    """Segment -> bone names picked by hand on the character (``"a, b"`` is a chain); empty picks skipped."""
    picked = {}
    for item in obj.sparse_mocap_bone_map.overrides:
        names = tuple(n.strip() for n in item.bone.split(",") if n.strip())
        if item.segment in SEGMENTS and names:
            picked[item.segment] = names
    return picked


def find_override(obj, segment: str):
    return next((item for item in obj.sparse_mocap_bone_map.overrides if item.segment == segment), None)


def checked_overrides(obj) -> dict:
    """:func:`bone_overrides` of the character, each picked bone checked to exist (strict where the
    user named bones, while a built-in map's bones may be skipped when the rig lacks them)."""
    overrides = bone_overrides(obj)
    absent = [f"'{name}' ({segment})" for segment, names in overrides.items() for name in names
              if name not in obj.data.bones]
    if absent:
        raise RigMapError(f"armature '{obj.name}' has no bone {', '.join(absent)} picked in its bone map; "
                          "pick one of its bones")
    return overrides


def with_overrides(rig_map: RigMap, overrides: dict) -> RigMap:
    """``rig_map`` with the segments picked by hand (:func:`checked_overrides`) replaced."""
    if not overrides:
        return rig_map
    return dataclasses.replace(rig_map, name=f"{rig_map.name}, {len(overrides)} picked by hand",
                               bones={**rig_map.bones, **overrides})


def _detected(obj, overrides: dict) -> RigMap:
    """The built-in map detected from the bone names (a generated Rigify rig: its ORG bones, which
    the bake turns into its controls' channels); when none fits on its own, the one that fits with
    the bones picked by hand and maps the most segments (the detection's sentence if none does)."""
    if is_rigify_rig(obj):
        return BUILTIN_RIG_MAPS[RIGIFY_MAP]
    try:
        return detect_rig_map([bone.name for bone in obj.data.bones], f"armature '{obj.name}'")
    except RigMapError:
        if not overrides:
            raise
        fits = []
        for rig_map in BUILTIN_RIG_MAPS.values():
            try:
                fits.append((len(target_rig_from_armature(obj, with_overrides(rig_map, overrides)).chains),
                             rig_map))
            except RigMapError:
                continue
        if not fits:
            raise
        return max(fits, key=lambda fit: fit[0])[1]     # a tie: the map listed first


def character_rig_map(obj, choice: str | None = None, path: str | None = None) -> RigMap:
    """The bone map the character ``obj`` is retargeted through: ``choice`` (a ``BONE_MAP_ITEMS``
    key; None: the character's own setting) with ``path`` for a JSON file, and the bones picked by
    hand. Raises ValueError (``RigMapError``) in one sentence."""
    settings = obj.sparse_mocap_bone_map
    choice = settings.map if choice is None else choice
    path = settings.path if path is None else path
    overrides = checked_overrides(obj)
    if choice == "AUTO":
        base = _detected(obj, overrides)
    elif choice == "JSON":
        if not path:
            raise RigMapError("Bone Map is 'JSON File' but no bone map file is chosen")
        base = load_rig_map(bpy.path.abspath(path))
    else:
        base = BUILTIN_RIG_MAPS[choice.lower()]
    return with_overrides(base, overrides)


def character_rig(obj, choice: str | None = None, path: str | None = None):
    """(RigMap, TargetRig) of the character ``obj`` (see :func:`character_rig_map`); the rig is
    checked against the map here, before anything changes."""
    rig_map = character_rig_map(obj, choice, path)
    return rig_map, target_rig_from_armature(obj, rig_map)


def resolved_map(rig, name: str) -> RigMap:
    """The map as it resolved on a rig (``TargetRig``): only bones the rig has, namespaces kept,
    every segment the rig carries; what Save Bone Map writes."""
    bones = {segment: rig.chain_names(segment) for segment in SEGMENTS if rig.chain_names(segment)}
    twist = {segment: rig.twist_names(segment) for segment in SEGMENTS if rig.twist_names(segment)}
    return RigMap(name, bones, twist, strict=True)
