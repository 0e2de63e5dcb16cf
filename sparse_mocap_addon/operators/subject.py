"""Create Personalised Armature."""

import bpy
from bpy.props import BoolProperty, PointerProperty, StringProperty

from ..blender.armature import create_armature
from ..blender.smpl_body import fit_text
from ..core.body.measurements import MeasurementError, skeleton_from_measurements
from ..core.body.smpl_model import BodyModelError
from ..properties import SPARSE_MOCAP_PG_subject
from .common import object_mode, select_only, subject_source


class SPARSE_MOCAP_OT_create_armature(bpy.types.Operator):
    """Build an SMPL-topology armature with these body measurements and a simple skinned body (with an SMPL model
    file set: that model's body, its betas fitted to the measurements)"""

    bl_idname = "sparse_mocap.create_armature"
    bl_label = "Create Personalised Armature"
    bl_options = {"REGISTER", "UNDO"}

    subject: PointerProperty(type=SPARSE_MOCAP_PG_subject,
                             description="The body measurements the armature is built from")
    name: StringProperty(name="Name", default="Subject", description="Name of the new armature object")
    with_body: BoolProperty(name="Body Mesh", default=True,
                            description="Add a simple skinned body mesh so the figure is visible")

    def invoke(self, context, event):
        self.subject.set_from(subject_source(context))
        return self.execute(context)

    def execute(self, context):
        if not self.properties.is_property_set("subject"):
            self.subject.set_from(subject_source(context))
        try:
            skeleton = skeleton_from_measurements(self.subject.to_measurements())
        except MeasurementError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        object_mode(context)
        try:   # with an SMPL model file set (Subject panel), the body of its betas fitted to the skeleton
            obj = create_armature(skeleton, name=self.name, collection=context.collection,
                                  with_mesh=self.with_body, context=context)
        except BodyModelError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        obj.sparse_mocap_subject.set_from(self.subject)
        select_only(context, obj)
        body = fit_text(obj)
        self.report({"INFO"}, f"Created '{obj.name}' ({self.subject.height:.2f} m" + (f"; {body})" if body else ")"))
        return {"FINISHED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "name")
        for key in ("height", "sex", "arm_length", "leg_length", "shoulder_width", "hip_width"):
            layout.prop(self.subject, key)
        layout.prop(self, "with_body")


CLASSES = (SPARSE_MOCAP_OT_create_armature,)
