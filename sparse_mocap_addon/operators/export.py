"""Export the active armature's animation (an SMPL armature or a character): FBX (Unity / Unreal presets) and BVH."""

import bpy
from bpy.props import EnumProperty
from bpy_extras.io_utils import ExportHelper

from ..blender.export import ExportError, export_bvh, export_fbx
from .common import file_filter, object_mode


def active_armature(context):
    """The active object when it is an armature: an SMPL armature or a character (export takes both)."""
    obj = context.active_object
    return obj if obj is not None and obj.type == "ARMATURE" else None


class _ExportBase:
    @classmethod
    def poll(cls, context):
        obj = active_armature(context)
        if obj is None:
            cls.poll_message_set("Select an armature: an SMPL armature or a character")
            return False
        if obj.animation_data is None or obj.animation_data.action is None:
            cls.poll_message_set("Bake a motion onto the armature first")
            return False
        return True

    def run(self, context, writer, **kwargs):
        object_mode(context)
        try:
            path = writer(active_armature(context), self.filepath, context=context, **kwargs)
        except ExportError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {path}")
        return {"FINISHED"}


class SPARSE_MOCAP_OT_export_fbx(_ExportBase, bpy.types.Operator, ExportHelper):
    """Export the armature, its body mesh and its action as FBX for a game engine"""

    bl_idname = "sparse_mocap.export_fbx"
    bl_label = "Export FBX"

    filename_ext = ".fbx"
    filter_glob: file_filter("*.fbx")
    preset: EnumProperty(
        name="Target",
        items=(("UNITY", "Unity", "Metres, Y up, no leaf bones"),
               ("UNREAL", "Unreal", "Centimetres, root motion on a 'root' bone, no leaf bones")),
        default="UNITY",
        description="The game engine the FBX is written for (its units, axes and root bone)",
    )

    def execute(self, context):
        return self.run(context, export_fbx, preset=self.preset)


class SPARSE_MOCAP_OT_export_bvh(_ExportBase, bpy.types.Operator, ExportHelper):
    """Export the armature's action as BVH"""

    bl_idname = "sparse_mocap.export_bvh"
    bl_label = "Export BVH"

    filename_ext = ".bvh"
    filter_glob: file_filter("*.bvh")

    def execute(self, context):
        return self.run(context, export_bvh)


CLASSES = (SPARSE_MOCAP_OT_export_fbx, SPARSE_MOCAP_OT_export_bvh)
