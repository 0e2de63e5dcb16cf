"""Import IMU Recording (a body-worn IMU recording as an IMU set of animated empties), Calibrate IMU
Set (the mounting and heading from a still pose, kept on the set) and Reconstruct from IMU (the set
to full-body motion baked onto an SMPL armature as a new action)."""

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..blender.imu_objects import active_imu_parent
from ..blender.imu_solve import (FILE_PATTERNS, calibrate_set, import_imu, import_summary, reconstruct_onto_armature,
                                 recording_path, solve_summary, stillness_text)
from ..inference.imu_pipeline import ImuSolveOptions
from .common import (ActiveSetPoll, ArmatureTarget, FeetSettings, HeldPoseCalibration, RecordingRate, armature_text,
                     file_filter, object_mode, run_reported, select_only, target_items)
from .gap_fill import GapFillSettings

FORMAT_ITEMS = (
    ("AUTO", "Automatic", "From the path and the first lines"),
    ("TENSORS", "TransPose / PIP Tensors", "acc/ori arrays (.pt, .npz), already in a Y-up world"),
    ("CSV", "Generic CSV", "The documented sparse_mocap IMU CSV"),
    ("XSENS", "Xsens MT Export", "MT Manager text exports (MT_..._<serial>.txt), one per sensor"),
    ("DOT", "Movella DOT", "Movella DOT CSV exports, one per sensor"),
    ("XIO", "x-io x-IMU3", "x-io IMU-Mocap folder (one sub-folder per sensor)"),
)


class SPARSE_MOCAP_OT_import_imu(RecordingRate, bpy.types.Operator, ImportHelper):
    """Import a body-worn IMU recording (TransPose/PIP tensors, generic CSV, Xsens, Movella DOT, x-io \
folder) as an IMU set: one animated empty per sensor"""

    bl_idname = "sparse_mocap.import_imu"
    bl_label = "Import IMU Recording"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".csv"
    filter_glob: file_filter(FILE_PATTERNS)
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"},
                              description="The folder open in the file browser (a recording folder when no file "
                                          "is chosen)")

    kind: EnumProperty(name="Format", items=FORMAT_ITEMS, default="AUTO",
                       description="The recording's file format")
    whole_folder: BoolProperty(name="Whole Folder", default=False,
                               description="Read every sensor in the chosen file's folder as one recording "
                                           "(Xsens, Movella DOT, x-io); to pick a folder, open it and import "
                                           "with no file chosen")
    source_fps: FloatProperty(name="Tensor Rate", default=60.0, min=1.0, max=1000.0,
                              description="Frame rate of recordings without time stamps (TransPose/PIP tensors)")
    sensor_names: StringProperty(name="Sensor Names", default="",
                                 description="Rename sensors to body segments, e.g. '00B421E6=pelvis, "
                                             "00B421ED=left_upper_leg' (files that name sensors by serial)")

    def execute(self, context):
        chosen = self.filepath if Path(self.filepath).name else (self.directory or self.filepath)
        path = recording_path(bpy.path.abspath(chosen), self.whole_folder)
        object_mode(context)
        result = run_reported(self, context, path.name, lambda progress: import_imu(
            path, kind=self.kind.lower(), fps=self._fps(), source_fps=self.source_fps,
            sensor_names=self.sensor_names, context=context, progress=progress))
        if result is None:                       # the readers' errors are ImuErrors (ValueErrors)
            return {"CANCELLED"}
        select_only(context, result.parent)
        self.report({"INFO"}, f"Imported {path.name} as '{result.parent.name}': {import_summary(result)}")
        return {"FINISHED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "kind")
        layout.prop(self, "whole_folder")
        self._draw_frame_rate(layout).prop(self, "source_fps")
        layout.prop(self, "sensor_names")


POSE_ITEMS = (
    ("T", "T-Pose", "Standing, arms straight out to the sides, palms down (the armature's rest pose)"),
    ("N", "N-Pose", "Standing, arms down by the sides, palms facing the thighs"),
)
HEADING_ITEMS = (
    ("AUTO", "Automatic", "Core-frame recordings keep their heading; device recordings take it from the knees"),
    ("KNEES", "From the Knees", "The knees' flexion axis during the recording (needs upper and lower leg sensors on "
                                "a leg and some knee bending)"),
    ("LEFT_KNEE", "From the Left Knee", "The left knee alone (when the knees disagree)"),
    ("RIGHT_KNEE", "From the Right Knee", "The right knee alone (when the knees disagree)"),
    ("CORE", "Core Frame", "The recording is already in the core frame, the wearer facing +Z"),
    ("ANGLE", "Angle", "The direction the wearer faced, counter-clockwise from above from the device's reference "
                       "axis (+X for Z-up worlds: east for ENU, north for NWU)"),
)


class _ImuSetOperator(ActiveSetPoll):
    """An operator on the active IMU set: greyed out until there is one."""

    _active_set = staticmethod(active_imu_parent)
    set_hint = "Select an IMU set (the empties made by Import IMU Recording)"


class SPARSE_MOCAP_OT_calibrate_imu(_ImuSetOperator, HeldPoseCalibration, bpy.types.Operator):
    """Calibrate the active IMU set from a pose the wearer held still: each sensor's mounting on its \
bone and the heading, kept on the set for Reconstruct"""

    bl_idname = "sparse_mocap.calibrate_imu"
    bl_label = "Calibrate IMU Set"
    bl_options = {"REGISTER", "UNDO"}

    pose: EnumProperty(name="Pose", items=POSE_ITEMS, default="T", description="The pose held during the window")
    start: FloatProperty(name="Start (s)", default=0.0, min=0.0,
                         description="Start of the still window, seconds from the recording's first frame")
    duration: FloatProperty(name="Duration (s)", default=2.0, min=0.05, soft_max=10.0,
                            description="Length of the still window in seconds")
    heading: EnumProperty(name="Heading", items=HEADING_ITEMS, default="AUTO",
                          description="How to find the direction the wearer faced")
    heading_angle: FloatProperty(name="Facing", default=0.0, subtype="ANGLE", unit="ROTATION",
                                 description="The direction the wearer faced (Heading: Angle)")
    max_motion: FloatProperty(name="Stillness Limit (deg)", default=5.0, min=0.1, max=90.0,
                              description="Largest turn (degrees) a sensor may make during the window")

    def execute(self, context):
        parent = active_imu_parent(context)
        calibration = run_reported(self, context, parent.name, lambda progress: calibrate_set(
            parent, pose=self.pose.lower(), start_s=self.start, duration_s=self.duration, heading=self._heading(),
            max_motion_deg=self.max_motion), progress=False)
        if calibration is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Calibrated '{parent.name}': {calibration.summary().rstrip('.')}; largest turn "
                              f"per sensor: {stillness_text(calibration)}")
        return {"FINISHED"}

    def draw(self, context):
        self._draw_window(self.layout)
        self.layout.prop(self, "max_motion")


MODE_ITEMS = (
    ("AUTO", "Automatic", "Network for the six-sensor layout, direct for a full lower-body set"),
    ("NETWORK", "Network", "The six sensors (forearms, lower legs, head, pelvis) drive the poser network"),
    ("DIRECT", "Direct", "Every leg segment carries a sensor: those bones take the calibrated orientations"),
)
MODEL_ITEMS = (
    ("FULL", "Full", "The shape-aware network (uses the body measurements)"),
    ("NO_SHAPE", "Without Shape", "The same network without the measurements (the FIP ablation)"),
    ("BASELINE", "Baseline", "A plain recurrent network"),
)
TARGET_ITEMS = target_items("A new armature built from the Subject panel's measurements")


class SPARSE_MOCAP_OT_reconstruct_imu(_ImuSetOperator, ArmatureTarget, GapFillSettings, FeetSettings,
                                      bpy.types.Operator):
    """Reconstruct full-body motion from the active IMU set (calibrated, or already in the core frame) \
and bake it onto an SMPL armature as a new action"""

    bl_idname = "sparse_mocap.reconstruct_imu"
    bl_label = "Reconstruct from IMU"
    bl_options = {"REGISTER", "UNDO"}

    mode: EnumProperty(name="Mode", items=MODE_ITEMS, default="AUTO",
                       description="How the sensors drive the body")
    model: EnumProperty(name="Model", items=MODEL_ITEMS, default="FULL",
                        description="The shipped network (network mode)")
    translation: BoolProperty(name="Root Translation", default=True,
                              description="Move the root from foot contacts and the pelvis acceleration (off: "
                                          "the body stays over the origin)")
    target: EnumProperty(name="Target", items=TARGET_ITEMS, default="NEW",
                         description="The armature that receives the motion")
    armature: StringProperty(name="Armature",
                             description="The SMPL armature to bake onto (empty: the active or selected one)")
    with_body: BoolProperty(name="Body Mesh", default=True,
                            description="Give a new armature a simple skinned body mesh")

    def invoke(self, context, event):
        self._fill_target(context)
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        self._fill_target(context)
        parent = active_imu_parent(context)
        target = self._target_and_measurements(context)
        if target is None:
            return {"CANCELLED"}
        armature, measurements = target
        object_mode(context)
        options = ImuSolveOptions(mode=self.mode.lower(), model=self.model.lower(), translation=self.translation)
        options.feet = self._feet_options(options.feet)
        solved = run_reported(self, context, parent.name, lambda progress: reconstruct_onto_armature(
            parent, options, armature=armature, measurements=measurements, with_body=self.with_body,
            gap_fill=self._gap_fill_options(), context=context, progress=progress))
        if solved is None:
            return {"CANCELLED"}
        select_only(context, solved.armature)
        self.report({"INFO"}, f"Reconstructed '{parent.name}' onto {armature_text(solved)} as action "
                              f"'{solved.action.name}': {solve_summary(solved.report)}")
        return {"FINISHED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(heading="Solve")
        col.prop(self, "mode")
        sub = col.column()
        sub.active = self.mode != "DIRECT"
        sub.prop(self, "model")
        col.prop(self, "translation")
        self._draw_feet(col)
        self._draw_gap_fill(layout)
        self._draw_target_with_subject(context, layout)


CLASSES = (SPARSE_MOCAP_OT_import_imu, SPARSE_MOCAP_OT_calibrate_imu, SPARSE_MOCAP_OT_reconstruct_imu)
