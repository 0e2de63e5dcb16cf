"""Character panel (the character picked, its bone map's state, Retarget / Bake onto it, presets) and
its Bone Map sub-panel (each SMPL segment with the bones it maps to, and bones picked by hand)."""

import os
import textwrap

import bpy

from ..core.mocap.target_rig import SEGMENTS
from ..blender.character_map import character_rig, find_override
from ..operators.common import target_armature
from .main import _SidebarPanel

_last_status = {}      # one entry: the state of the last character drawn (see map_status)


def map_status(obj):
    """(TargetRig, None) or (None, error sentence) for the character ``obj``'s bone map, as the
    operators will use it. Cached while the rig, its map settings and the map file stay the same
    (the sidebar redraws often; a rig of hundreds of bones takes a few milliseconds to read)."""
    settings = obj.sparse_mocap_bone_map
    path = bpy.path.abspath(settings.path) if settings.map == "JSON" and settings.path else ""
    key = (obj.as_pointer(), tuple(bone.name for bone in obj.data.bones), settings.map, path,
           os.path.getmtime(path) if path and os.path.isfile(path) else None,
           tuple((item.segment, item.bone) for item in settings.overrides))
    if _last_status.get("key") != key:
        try:
            status = (character_rig(obj)[1], None)
        except (ValueError, OSError) as exc:
            status = (None, str(exc).rstrip("."))
        _last_status.update(key=key, status=status)
    return _last_status["status"]


def draw_wrapped(layout, context, text: str, icon: str) -> None:
    """A long sentence over several labels, wrapped to the sidebar's width."""
    width = max(24, int(context.region.width / 7)) if context.region else 48
    for k, line in enumerate(textwrap.wrap(text, width)):
        layout.label(text=line, icon=icon if k == 0 else "BLANK1")


class SPARSE_MOCAP_PT_character(_SidebarPanel, bpy.types.Panel):
    bl_idname = "SPARSE_MOCAP_PT_character"
    bl_label = "Character"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        layout.prop(scene, "sparse_mocap_character", icon="OUTLINER_OB_ARMATURE")
        obj = scene.sparse_mocap_character
        if obj is None:
            layout.label(text="Pick the character's armature", icon="INFO")
            return
        settings = obj.sparse_mocap_bone_map
        col = layout.column(align=True)
        col.prop(settings, "map")
        if settings.map == "JSON":
            col.prop(settings, "path", text="")
        rig, error = map_status(obj)
        box = layout.box().column(align=True)
        if error:
            draw_wrapped(box, context, error, "ERROR")
        else:
            box.label(text=rig.map_name, icon="CHECKMARK")
            box.label(text=f"{len(rig.chains)} of {len(SEGMENTS)} segments mapped", icon="BLANK1")
        row = layout.row(align=True)
        row.operator("sparse_mocap.load_bone_map", icon="FILEBROWSER")
        row.operator("sparse_mocap.save_bone_map", icon="FILE_TICK")
        col = layout.column(align=True)
        col.prop(settings, "root_motion")
        col.prop(settings, "hands")

        smpl = target_armature(context, "")
        action = smpl.animation_data.action if smpl and smpl.animation_data else None
        col = layout.column(align=True)
        col.label(text=f"From {smpl.name}: {action.name}" if action else "Select an SMPL armature with an action",
                  icon="ACTION" if action else "INFO")
        col.operator("sparse_mocap.retarget_to_character", icon="ARMATURE_DATA")
        col.operator("sparse_mocap.bake_motion_onto_character", text="Bake Motion Files", icon="IMPORT")


class SPARSE_MOCAP_PT_character_bones(_SidebarPanel, bpy.types.Panel):
    bl_idname = "SPARSE_MOCAP_PT_character_bones"
    bl_label = "Bone Map"
    bl_parent_id = "SPARSE_MOCAP_PT_character"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return context.scene.sparse_mocap_character is not None

    def draw(self, context):
        obj = context.scene.sparse_mocap_character
        rig, _ = map_status(obj)
        col = self.layout.column(align=True)
        for segment in SEGMENTS:
            row = col.split(factor=0.35, align=True)
            row.label(text=segment)
            row = row.row(align=True)
            override = find_override(obj, segment)
            if override is not None:
                row.prop_search(override, "bone", obj.data, "bones", text="")
                row.operator("sparse_mocap.clear_segment_bone", text="", icon="X").segment = segment
            else:
                bones = rig.chain_names(segment) if rig is not None else ()
                row.label(text=", ".join(bones) if bones else "(not mapped)")
                row.operator("sparse_mocap.pick_segment_bone", text="", icon="EYEDROPPER").segment = segment


CLASSES = (SPARSE_MOCAP_PT_character, SPARSE_MOCAP_PT_character_bones)
