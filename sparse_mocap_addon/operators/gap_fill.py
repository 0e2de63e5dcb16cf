"""Fill Gaps: the unkeyed frames of the active SMPL armature's action filled by the motion predictor
(or slerp), as a new action."""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty

from ..blender.gap_fill import fill_action_gaps, summary
from ..inference.gap_fill import DEFAULT_MAX_GAP_SECONDS
from ..inference.gap_fill import GapFillOptions
from .common import FeetSettings, active_smpl_armature, object_mode, run_reported
from .onto_character import OntoCharacterOption

METHOD_ITEMS = (
    ("PREDICTOR", "Motion Predictor", "The learned motion predictor: continues the motion from before the gap and "
                                      "from after it (slerp when the predictor is not installed)"),
    ("SLERP", "Slerp", "Interpolate every joint's rotation and the root's position between the frames around the "
                       "gap"),
)


def max_gap_property():
    return FloatProperty(name="Longest Gap", default=DEFAULT_MAX_GAP_SECONDS, min=0.01, soft_max=5.0,
                         unit="TIME_ABSOLUTE", description="Gaps longer than this are left alone (seconds)")


def method_property():
    return EnumProperty(name="Method", items=METHOD_ITEMS, default="PREDICTOR", description="How gaps are filled")


class GapFillSettings:
    """For the reconstruction operators: ``fill_gaps`` and ``max_gap_seconds`` (Blender reads a
    mixin's property annotations), the options they give and their part of the dialog."""

    fill_gaps: BoolProperty(name="Fill Gaps", default=True,
                            description="Frames whose input was lost (the head or reference tracker, an IMU "
                                        "sample, most landmarks) are filled by the motion predictor")
    max_gap_seconds: max_gap_property()

    def _gap_fill_options(self) -> GapFillOptions | None:
        return GapFillOptions(max_gap_seconds=self.max_gap_seconds) if self.fill_gaps else None

    def _draw_gap_fill(self, layout):
        col = layout.column(heading="Gaps")
        col.prop(self, "fill_gaps")
        sub = col.column()
        sub.active = self.fill_gaps
        sub.prop(self, "max_gap_seconds")


class SPARSE_MOCAP_OT_fill_gaps(OntoCharacterOption, FeetSettings, bpy.types.Operator):
    """Fill the frames the active SMPL armature's action skips (a recording's holes) with the motion \
predictor or slerp, as a new action; gaps longer than the limit are left alone"""

    bl_idname = "sparse_mocap.fill_gaps"
    bl_label = "Fill Gaps"
    bl_options = {"REGISTER", "UNDO"}

    max_gap_seconds: max_gap_property()
    method: method_property()

    @classmethod
    def poll(cls, context):
        if active_smpl_armature(context) is None:
            cls.poll_message_set("Select an SMPL armature whose action has gaps")
            return False
        return True

    def execute(self, context):
        if not self._character_ready(context):
            return {"CANCELLED"}
        obj = active_smpl_armature(context)
        object_mode(context)
        options = GapFillOptions(max_gap_seconds=self.max_gap_seconds, method=self.method.lower())
        filled = run_reported(self, context, obj.name, lambda progress: fill_action_gaps(
            obj, options, feet=self._feet_options(), context=context, progress=progress))
        if filled is None:
            return {"CANCELLED"}
        return self._report_onto_character(context, {"INFO"}, summary(filled), obj)

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "method")
        layout.prop(self, "max_gap_seconds")
        self._draw_feet(layout)
        self._draw_onto_character(context, layout)


CLASSES = (SPARSE_MOCAP_OT_fill_gaps,)
