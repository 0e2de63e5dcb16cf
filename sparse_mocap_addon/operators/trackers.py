"""Import Trackers (a VR / positional tracker recording as a tracker set of animated empties),
Calibrate Trackers (the mountings and heading from a held pose, kept on the set) and Reconstruct from
Trackers (a tracker set, or animated empties named after body sites, to full-body motion baked onto
an SMPL armature as a new action)."""

import bpy
from bpy.props import EnumProperty
from bpy_extras.io_utils import ImportHelper

from ..blender.tracker_objects import active_tracker_parent, is_tracker_set
from ..blender.tracker_solve import (FILE_PATTERNS, calibrate_set, calibration_summary, import_summary,
                                     import_trackers, reconstruct_onto_armature, solve_summary, target_skeleton)
from ..pipelines.trackers import TrackerSolveOptions
from .common import file_filter, target_armature
from .sets import ActiveSetPoll, HeldPoseCalibration, RecordingImport, SetReconstruct, window_duration

CONVENTION_ITEMS = (
    ("FILE", "As the File States", "The convention written in the file (files from Sparse Mocap state theirs)"),
    ("UNITY", "Unity", "Left-handed, Y up, +Z forward, metres, quaternions x, y, z, w"),
    ("UNREAL", "Unreal", "Left-handed, Z up, +X forward, centimetres, quaternions x, y, z, w"),
    ("OPENXR", "OpenXR", "Right-handed, Y up, -Z forward, metres, quaternions x, y, z, w"),
    ("STEAMVR", "SteamVR / OpenVR", "Right-handed, Y up, -Z forward, metres, quaternions w, x, y, z"),
    ("BLENDER", "Blender", "Right-handed, Z up, -Y forward, metres, quaternions w, x, y, z"),
    ("CORE", "Sparse Mocap Core", "Right-handed, Y up, +Z forward, +X left, metres"),
)
UNIT_ITEMS = (
    ("FILE", "Default", "The unit the file states, else the convention's (centimetres for Unreal, else metres)"),
    ("M", "Metres", ""),
    ("CM", "Centimetres", ""),
    ("MM", "Millimetres", ""),
)


class SPARSE_MOCAP_OT_import_trackers(RecordingImport, bpy.types.Operator, ImportHelper):
    """Import a VR / positional tracker recording (CSV, JSON or npz from Unity, Unreal, OpenXR, SteamVR, \
Blender) as a tracker set: one animated empty per tracker"""

    bl_idname = "sparse_mocap.import_trackers"
    bl_label = "Import Trackers"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".csv"
    filter_glob: file_filter(FILE_PATTERNS)

    convention: EnumProperty(name="Convention", items=CONVENTION_ITEMS, default="FILE",
                             description="The coordinate convention of the file's positions and quaternions")
    units: EnumProperty(name="Units", items=UNIT_ITEMS, default="FILE", description="The file's length unit")

    def execute(self, context):
        path = bpy.path.abspath(self.filepath)
        return self._import_reported(context, bpy.path.basename(path), lambda progress: import_trackers(
            path, convention=None if self.convention == "FILE" else self.convention.lower(),
            units=None if self.units == "FILE" else self.units.lower(), fps=self._fps(),
            context=context, progress=progress), import_summary)

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "convention")
        layout.prop(self, "units")
        self._draw_frame_rate(layout)


POSE_ITEMS = (
    ("T", "T-Pose", "Standing, arms straight out to the sides, palms down (the armature's rest pose)"),
    ("A", "A-Pose", "Standing, arms 45 degrees down from the T-pose"),
    ("N", "N-Pose", "Standing, arms down by the sides"),
)
HEADING_ITEMS = (
    ("AUTO", "Automatic", "From the trackers' layout when the pose spreads them out (the hands in a T-pose), else "
                          "from the headset"),
    ("POSITIONS", "From the Layout", "Fit the held pose's joints to where the trackers are, seen from above"),
    ("HEAD", "From the Headset", "The headset's forward axis points where the wearer faced"),
    ("ANGLE", "Angle", "The direction the wearer faced in the recording, counter-clockwise seen from above from "
                       "the recording's forward axis"),
)


def _calibration_skeleton(context):
    """The skeleton the held pose is posed on: the active or selected SMPL armature's, else the
    Subject panel's measurements for a new armature."""
    armature = target_armature(context, "")
    if armature is not None:
        return target_skeleton(armature)
    return target_skeleton(measurements=context.scene.sparse_mocap_new_subject.to_measurements())


class _TrackerSetOperator(ActiveSetPoll):
    """An operator on the active tracker set: greyed out until there is one."""

    _active_set = staticmethod(active_tracker_parent)
    set_hint = "Select a tracker set (the empties made by Import Trackers)"


class SPARSE_MOCAP_OT_calibrate_trackers(_TrackerSetOperator, HeldPoseCalibration, bpy.types.Operator):
    """Calibrate the active tracker set from a pose the wearer held still: how each device sits on its \
bone and where the wearer faced, kept on the set for Reconstruct"""

    bl_idname = "sparse_mocap.calibrate_trackers"
    bl_label = "Calibrate Trackers"
    bl_options = {"REGISTER", "UNDO"}

    pose: EnumProperty(name="Pose", items=POSE_ITEMS, default="T", description="The pose held during the window")
    duration: window_duration(1.0)
    heading: EnumProperty(name="Heading", items=HEADING_ITEMS, default="AUTO",
                          description="How to find the direction the wearer faced")

    def execute(self, context):
        parent = active_tracker_parent(context)
        return self._calibrate_reported(context, parent, lambda: calibrate_set(
            parent, _calibration_skeleton(context), pose=self.pose.lower(), start_s=self.start,
            duration_s=self.duration, heading=self._heading()),
            lambda calibration: calibration_summary(calibration, parent["fps"]))

    def draw(self, context):
        self._draw_window(self.layout)


SOURCE_ITEMS = (
    ("SET", "Tracker Set", "The active tracker set (made by Import Trackers), calibrated or not"),
    ("EMPTIES", "Selected Empties", "The selected animated empties, named after body sites (Head/HMD, LeftHand, "
                                    "Controller (left), Hips, left_foot_tracker, ...), over the scene's frame range"),
)
MODE_ITEMS = (
    ("AUTO", "Automatic", "Six-point with pelvis, head, hands and feet; three-point with the head and hands"),
    ("SIX_POINT", "Six-Point", "Pelvis, head, hands and feet: the network guesses what six points leave open, "
                               "the solver reaches every tracker exactly"),
    ("THREE_POINT", "Three-Point", "Head and hands: the network guesses the pelvis, torso and legs"),
    ("ANALYTIC", "Analytic", "Six trackers, the closed-form solver alone (no network)"),
)


def _selected_empties(context) -> list:
    return [o for o in (context.selected_objects or ()) if o.type == "EMPTY" and not is_tracker_set(o)]


class SPARSE_MOCAP_OT_reconstruct_trackers(SetReconstruct, bpy.types.Operator):
    """Reconstruct full-body motion from the active tracker set or the selected animated empties and bake \
it onto an SMPL armature as a new action"""

    bl_idname = "sparse_mocap.reconstruct_trackers"
    bl_label = "Reconstruct from Trackers"
    bl_options = {"REGISTER", "UNDO"}

    source: EnumProperty(name="Source", items=SOURCE_ITEMS, default="SET",
                         description="Where the trackers come from")
    mode: EnumProperty(name="Mode", items=MODE_ITEMS, default="AUTO",
                       description="Which trackers drive the body and how the rest is found")

    @classmethod
    def poll(cls, context):
        if active_tracker_parent(context) is None and not _selected_empties(context):
            cls.poll_message_set("Select a tracker set, or the animated empties of a capture")
            return False
        return True

    def _fill_defaults(self, context):
        if not self.properties.is_property_set("source"):
            self.source = "SET" if active_tracker_parent(context) is not None else "EMPTIES"
        self._fill_target(context)

    def execute(self, context):
        self._fill_defaults(context)
        if not self._character_ready(context):
            return {"CANCELLED"}
        if self.source == "SET":
            source = active_tracker_parent(context)
            if source is None:
                self.report({"ERROR"}, "No tracker set is active: select one, or choose Source: Selected Empties")
                return {"CANCELLED"}
            label = source.name
        else:
            source = _selected_empties(context)
            label = ""
        target = self._target_and_measurements(context)
        if target is None:
            return {"CANCELLED"}
        options = TrackerSolveOptions(mode=self.mode.lower(), mirror_average=self.mirror_average)
        options.feet = self._feet_options(options.feet)
        solved = self._solve_reported(context, label, lambda progress: reconstruct_onto_armature(
            source, options, **self._onto(*target), context=context, progress=progress))
        if solved is None:
            return {"CANCELLED"}
        return self._report_solved(context, solved, f"Reconstructed {solved.source.label}", solve_summary)

    def _draw_solve_options(self, col):
        col.prop(self, "source")
        col.prop(self, "mode")


CLASSES = (SPARSE_MOCAP_OT_import_trackers, SPARSE_MOCAP_OT_calibrate_trackers, SPARSE_MOCAP_OT_reconstruct_trackers)
