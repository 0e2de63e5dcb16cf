"""Differences between the Blender versions we support (4.2 minimum, 4.4+/5.0 slotted actions).

Blender 4.2-4.3 keep F-curves on ``Action.fcurves``. 4.4 introduced slotted (layered) actions,
where F-curves live in a channelbag of a keyframe strip for one slot; 5.0 removed
``Action.fcurves``. Everything else in the add-on asks this module for the F-curve container.
"""

from __future__ import annotations

import bpy

# Keyframe.interpolation enum values (``foreach_set("interpolation", ...)`` takes the integers).
CONSTANT = 0
LINEAR = 1


def has_slotted_actions() -> bool:
    return hasattr(bpy.types, "ActionSlot")


def assign_new_action(obj: "bpy.types.Object", action: "bpy.types.Action"):
    """Assign ``action`` to ``obj`` (creating a slot on 4.4+) and return its F-curve collection.

    The collection's ``new`` takes ``(data_path, index=..., <group>)``; use :func:`new_fcurve`
    to call it the same way on every version.
    """
    anim = obj.animation_data or obj.animation_data_create()
    if has_slotted_actions():
        from bpy_extras import anim_utils

        slot = action.slots.new(id_type="OBJECT", name=obj.name)
        anim.action = action
        anim.action_slot = slot
        return anim_utils.action_ensure_channelbag_for_slot(action, slot).fcurves
    anim.action = action
    return action.fcurves


def assigned_fcurve_collection(obj: "bpy.types.Object"):
    """The F-curve collection (with ``new``) of ``obj``'s assigned action and slot, created if needed."""
    anim = obj.animation_data
    if has_slotted_actions():
        from bpy_extras import anim_utils

        return anim_utils.action_ensure_channelbag_for_slot(anim.action, anim.action_slot).fcurves
    return anim.action.fcurves


def new_fcurve(fcurves, data_path: str, index: int, group: str):
    if has_slotted_actions():
        return fcurves.new(data_path, index=index, group_name=group)
    return fcurves.new(data_path, index=index, action_group=group)


def action_fcurves(obj: "bpy.types.Object"):
    """The F-curves animating ``obj`` through its assigned action (and slot), or an empty list."""
    anim = obj.animation_data
    if anim is None or anim.action is None:
        return []
    if has_slotted_actions():
        from bpy_extras import anim_utils

        bag = anim_utils.animdata_get_channelbag_for_assigned_slot(anim)
        return list(bag.fcurves) if bag else []
    return list(anim.action.fcurves)
