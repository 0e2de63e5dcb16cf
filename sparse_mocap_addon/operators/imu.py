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
from ..pipelines.imu import ImuSolveOptions
from .common import file_filter
from .sets import ActiveSetPoll, HeldPoseCalibration, RecordingImport, SetReconstruct, window_duration

FORMAT_ITEMS = (
    ("AUTO", "Automatic", "From the path and the first lines"),
    ("TENSORS", "TransPose / PIP Tensors", "acc/ori arrays (.pt, .npz), already in a Y-up world"),
    ("CSV", "Generic CSV", "The documented sparse_mocap IMU CSV"),
    ("XSENS", "Xsens MT Export", "MT Manager text exports (MT_..._<serial>.txt), one per sensor"),
    ("DOT", "Movella DOT", "Movella DOT CSV exports, one per sensor"),
    ("XIO", "x-io x-IMU3", "x-io IMU-Mocap folder (one sub-folder per sensor)"),
)


class SPARSE_MOCAP_OT_import_imu(RecordingImport, bpy.types.Operator, ImportHelper):
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
        return self._import_reported(context, path.name, lambda progress: import_imu(
            path, kind=self.kind.lower(), fps=self._fps(), source_fps=self.source_fps,
            sensor_names=self.sensor_names, context=context, progress=progress), import_summary)

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


def _calibration_text(calibration) -> str:
    return f"{calibration.summary().rstrip('.')}; largest turn per sensor: {stillness_text(calibration)}"


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
    duration: window_duration(2.0)
    heading: EnumProperty(name="Heading", items=HEADING_ITEMS, default="AUTO",
                          description="How to find the direction the wearer faced")
    max_motion: FloatProperty(name="Stillness Limit (deg)", default=5.0, min=0.1, max=90.0,
                              description="Largest turn (degrees) a sensor may make during the window")

    def execute(self, context):
        parent = active_imu_parent(context)
        return self._calibrate_reported(context, parent, lambda: calibrate_set(
            parent, pose=self.pose.lower(), start_s=self.start, duration_s=self.duration, heading=self._heading(),
            max_motion_deg=self.max_motion), _calibration_text)

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


class SPARSE_MOCAP_OT_reconstruct_imu(_ImuSetOperator, SetReconstruct, bpy.types.Operator):
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

    def execute(self, context):
        self._fill_defaults(context)
        if not self._character_ready(context):
            return {"CANCELLED"}
        parent = active_imu_parent(context)
        target = self._target_and_measurements(context)
        if target is None:
            return {"CANCELLED"}
        options = ImuSolveOptions(mode=self.mode.lower(), model=self.model.lower(), translation=self.translation,
                                  mirror_average=self.mirror_average)
        options.feet = self._feet_options(options.feet)
        solved = self._solve_reported(context, parent.name, lambda progress: reconstruct_onto_armature(
            parent, options, **self._onto(*target), context=context, progress=progress))
        if solved is None:
            return {"CANCELLED"}
        return self._report_solved(context, solved, f"Reconstructed '{parent.name}'", solve_summary)

    def _draw_solve_options(self, col):
        col.prop(self, "mode")
        sub = col.column()
        sub.active = self.mode != "DIRECT"
        sub.prop(self, "model")
        col.prop(self, "translation")


CLASSES = (SPARSE_MOCAP_OT_import_imu, SPARSE_MOCAP_OT_calibrate_imu, SPARSE_MOCAP_OT_reconstruct_imu)
