"""AMASS-style npz out and in (issue 20): the user's SMPL body's motion for the SMPL family's tools."""

import bpy
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..blender.action_motion import ActionReadError
from ..blender.smpl_body import export_amass, fit_text, import_amass, stored_body
from ..core.body.smpl_model import BodyModelError
from .common import active_smpl_armature, file_filter, object_mode, select_only


class SPARSE_MOCAP_OT_export_amass(bpy.types.Operator, ExportHelper):
    """Export the active SMPL armature's action as an AMASS-style .npz (poses, trans, betas, gender, frame rate)
    with its body's betas; needs an armature made with an SMPL model file"""

    bl_idname = "sparse_mocap.export_amass"
    bl_label = "Export AMASS (.npz)"

    filename_ext = ".npz"
    filter_glob: file_filter("*.npz")

    @classmethod
    def poll(cls, context):
        obj = active_smpl_armature(context)
        if obj is None or stored_body(obj) is None:
            cls.poll_message_set("Select an SMPL armature made with an SMPL model file (Subject panel)")
            return False
        return True

    def execute(self, context):
        object_mode(context)
        try:
            path = export_amass(active_smpl_armature(context), self.filepath, scene=context.scene)
        except (BodyModelError, ActionReadError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Wrote {path}")
        return {"FINISHED"}


class SPARSE_MOCAP_OT_import_amass(bpy.types.Operator, ImportHelper):
    """Import an AMASS-style .npz onto a new armature with the body of its betas (needs the SMPL model file set in
    the Subject panel)"""

    bl_idname = "sparse_mocap.import_amass"
    bl_label = "Import AMASS (.npz)"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: file_filter("*.npz")

    def execute(self, context):
        object_mode(context)
        try:
            obj, action = import_amass(self.filepath, context=context)
        except (BodyModelError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        select_only(context, obj)
        frames = int(round(action.frame_range[1] - action.frame_range[0])) + 1
        self.report({"INFO"}, f"Baked {frames} frames onto new armature '{obj.name}' as action '{action.name}' "
                              f"({fit_text(obj)})")
        return {"FINISHED"}


CLASSES = (SPARSE_MOCAP_OT_export_amass, SPARSE_MOCAP_OT_import_amass)
