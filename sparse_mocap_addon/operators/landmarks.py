"""Import Landmarks (a 3D landmark file as animated empties, optionally solved at once) and Solve IK
(a landmark set onto an SMPL armature as a new action)."""

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..blender.landmark_objects import active_landmark_parent
from ..blender.landmark_solve import FILE_PATTERNS, import_landmarks, solve_set_onto_armature, summary
from ..pipelines.landmarks import SolveOptions
from .common import file_filter, select_only, subject_source, target_items
from .sets import ActiveSetPoll, OntoArmature

LAYOUT_ITEMS = (
    ("AUTO", "Automatic", "From the file: point names, or the number of points (33 MediaPipe, 26 Halpe, "
                          "24 SMPL; 17 must be chosen)"),
    ("MEDIAPIPE33", "MediaPipe 33", "MediaPipe Pose world landmarks"),
    ("H36M17", "Human3.6M 17", "MotionBERT, VideoPose3D (needs the performer's height)"),
    ("COCO17", "COCO 17", "AlphaPose, ViTPose and other COCO keypoint tools"),
    ("HALPE26", "Halpe 26", "AlphaPose Halpe-26 (with feet)"),
    ("SMPL24", "SMPL 24", "The 24 SMPL joints of a body-model regressor"),
)
UNIT_ITEMS = (
    ("AUTO", "From File", "The file's unit (TRC 'Units'), else metres"),
    ("M", "Metres", ""),
    ("CM", "Centimetres", ""),
    ("MM", "Millimetres", ""),
)
_METRES_PER_UNIT = {"AUTO": None, "M": 1.0, "CM": 0.01, "MM": 0.001}
UP_AXIS_ITEMS = (
    ("AUTO", "Automatic", "The axis along which the head is farthest from the feet"),
    ("POS_Y", "+Y", "Y up (OpenSim, Pose2Sim)"),
    ("NEG_Y", "-Y", "Y down (camera space: MediaPipe, MotionBERT)"),
    ("POS_Z", "+Z", "Z up (Blender, most mocap labs)"),
    ("NEG_Z", "-Z", ""),
    ("POS_X", "+X", ""),
    ("NEG_X", "-X", ""),
)
_UP_AXES = {"AUTO": "auto", "POS_Y": "+Y", "NEG_Y": "-Y", "POS_Z": "+Z", "NEG_Z": "-Z", "POS_X": "+X", "NEG_X": "-X"}
FPS_ITEMS = (
    ("FILE", "From File", "The file's frame rate (30 fps for files without one)"),
    ("CUSTOM", "Custom", "The frame rate given below"),
)
FILTER_ITEMS = (
    ("OFFLINE", "Offline", "Zero-phase smoothing over the whole take: no lag"),
    ("ONLINE", "Online", "Causal One Euro filter, as a live solve would see it"),
)
TARGET_ITEMS = target_items("A new armature with the performer's skeleton measured from the landmarks")


class _SolveMixin(OntoArmature):
    """The Solve IK options and helpers, shared by both operators (Blender reads a mixin's
    property annotations, as it does ImportHelper's ``filepath``)."""

    threshold: FloatProperty(name="Confidence Threshold", default=0.5, min=0.0, max=1.0,
                             description="Points below this confidence count as missing")
    strength: FloatProperty(name="Filter Strength", default=0.5, min=0.0, max=1.0, subtype="FACTOR",
                            description="Smoothing: 0 fills gaps only, 1 smooths heavily")
    filter_mode: EnumProperty(name="Filter", items=FILTER_ITEMS, default="OFFLINE",
                              description="How the landmarks are smoothed over time")
    target: EnumProperty(name="Target", items=TARGET_ITEMS, default="NEW",
                         description="The armature that receives the motion")
    armature: StringProperty(name="Armature",
                             description="The SMPL armature to solve onto (empty: the active or selected one)")
    blend_subject: BoolProperty(name="Blend Subject Measurements", default=False,
                                description="Blend the Subject panel's measurements into the skeleton measured "
                                            "from the landmarks (new armature)")
    with_body: BoolProperty(name="Body Mesh", default=True,
                            description="Give a new armature a simple skinned body mesh")

    target_verb = "solve"

    def _solve_options(self) -> SolveOptions:
        return SolveOptions(threshold=self.threshold, strength=self.strength, filter_mode=self.filter_mode.lower(),
                            feet=self._feet_options())

    def _measurements(self, context):
        return subject_source(context).to_measurements() if self.target == "NEW" and self.blend_subject else None

    def _draw_solve(self, context, layout):
        col = layout.column(heading="Solve")
        col.prop(self, "threshold")
        col.prop(self, "strength", slider=True)
        col.prop(self, "filter_mode")
        self._draw_feet(col)
        self._draw_gap_fill(layout)
        col = self._draw_target(layout)
        if col is not None:
            col.prop(self, "blend_subject")
            col.prop(self, "with_body")
        self._draw_onto_character(context, layout)


class SPARSE_MOCAP_OT_import_landmarks(_SolveMixin, bpy.types.Operator, ImportHelper):
    """Import 3D landmarks (Pose2Sim/OpenSim TRC, MediaPipe JSON/CSV, AlphaPose JSON, MotionBERT .npy) \
as animated empties, and solve them onto an SMPL armature"""

    bl_idname = "sparse_mocap.import_landmarks"
    bl_label = "Import Landmarks"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".trc"
    filter_glob: file_filter(FILE_PATTERNS)

    layout_name: EnumProperty(name="Layout", items=LAYOUT_ITEMS, default="AUTO",
                              description="Which point is which in files that do not name their points")
    units: EnumProperty(name="Units", items=UNIT_ITEMS, default="AUTO", description="The file's length unit")
    up_axis: EnumProperty(name="Up Axis", items=UP_AXIS_ITEMS, default="AUTO",
                          description="The file's axis that points up")
    fps_source: EnumProperty(name="Frame Rate", items=FPS_ITEMS, default="FILE",
                             description="Where the landmarks' frame rate comes from; every frame of the file is "
                                         "kept either way (no resampling)")
    fps: FloatProperty(name="FPS", default=30.0, min=1.0, max=1000.0, description="Frame rate (Frame Rate: Custom)")
    height: FloatProperty(name="Performer Height", default=0.0, min=0.0, max=2.5, subtype="DISTANCE",
                          unit="LENGTH", description="Stature in metres; scales the landmarks to it (needed for "
                                                      "Human3.6M-17, which is not metric). 0: keep the file's scale")
    solve: BoolProperty(name="Solve IK Now", default=True,
                        description="Solve the landmarks onto an armature and bake an action right away")

    def invoke(self, context, event):
        self._fill_defaults(context)
        return ImportHelper.invoke(self, context, event)

    def _wants_character(self) -> bool:
        return self.onto_character and self.solve      # the empties alone: nothing to put onto it

    def execute(self, context):
        self._fill_defaults(context)
        path = Path(bpy.path.abspath(self.filepath))
        if not self._character_ready(context):
            return {"CANCELLED"}
        armature, error = self._target(context) if self.solve else (None, None)
        if error:
            self.report({"ERROR"}, error)
            return {"CANCELLED"}
        result = self._solve_reported(context, path.name, lambda progress: import_landmarks(
            path, layout=self.layout_name.lower(), fps=self.fps if self.fps_source == "CUSTOM" else None,
            metres_per_unit=_METRES_PER_UNIT[self.units], height=self.height or None,
            up_axis=_UP_AXES[self.up_axis], threshold=self.threshold,
            solve=self._solve_options() if self.solve else None, armature=armature,
            measurements=self._measurements(context) if self.solve else None,
            with_body=self.with_body, gap_fill=self._gap_fill_options(), context=context, progress=progress))
        if result is None:
            return {"CANCELLED"}
        seq, solved = result.sequence, result.solve
        text = (f"Imported {len(seq.names)} landmarks x {seq.num_frames} frames ({seq.fps:g} fps) from "
                f"{path.name} as '{result.parent.name}'")
        if solved is not None:
            return self._report_solved(context, solved, f"{text}; solved", summary)
        select_only(context, result.parent)
        self.report({"INFO"}, text)
        return {"FINISHED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(heading="File")
        col.prop(self, "layout_name")
        col.prop(self, "units")
        col.prop(self, "up_axis")
        col.prop(self, "fps_source")
        if self.fps_source == "CUSTOM":
            col.prop(self, "fps")
        col.prop(self, "height")
        layout.prop(self, "solve")
        if self.solve:
            self._draw_solve(context, layout)
        else:
            layout.prop(self, "threshold")


class SPARSE_MOCAP_OT_solve_landmarks(ActiveSetPoll, _SolveMixin, bpy.types.Operator):
    """Solve the active landmark set (empties) onto an SMPL armature and bake it as a new action"""

    bl_idname = "sparse_mocap.solve_landmarks"
    bl_label = "Solve IK"
    bl_options = {"REGISTER", "UNDO"}

    _active_set = staticmethod(active_landmark_parent)
    set_hint = "Select a landmark set (the empties made by Import Landmarks)"

    def execute(self, context):
        self._fill_defaults(context)
        if not self._character_ready(context):
            return {"CANCELLED"}
        parent = active_landmark_parent(context)
        armature, error = self._target(context)
        if error:
            self.report({"ERROR"}, error)
            return {"CANCELLED"}
        solved = self._solve_reported(context, parent.name, lambda progress: solve_set_onto_armature(
            parent, self._solve_options(), armature=armature, measurements=self._measurements(context),
            with_body=self.with_body, gap_fill=self._gap_fill_options(), context=context, progress=progress))
        if solved is None:
            return {"CANCELLED"}
        return self._report_solved(context, solved, f"Solved '{parent.name}'", summary)

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        self._draw_solve(context, layout)


CLASSES = (SPARSE_MOCAP_OT_import_landmarks, SPARSE_MOCAP_OT_solve_landmarks)
