"""What the operators on the IMU, tracker and landmark sets share (mixins: Blender reads a mixin's
property annotations): the import of a recording into a set, the poll on the active set, the
held-pose Calibrate dialog, and the bake of a set's motion onto an SMPL armature, each run with the
progress indicator and one-sentence error reports, ending in one report line."""

import math

from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty

from .common import (ArmatureTarget, FeetSettings, armature_text, object_mode, run_reported, select_only,
                     target_items)
from .gap_fill import GapFillSettings
from .onto_character import OntoCharacterOption

TARGET_ITEMS = target_items("A new armature built from the Subject panel's measurements")


class ActiveSetPoll:
    """An operator on the active empty set (``_active_set(context)``, a staticmethod): greyed out,
    with ``set_hint`` as the reason, until there is one."""

    set_hint = ""

    @classmethod
    def poll(cls, context):
        if cls._active_set(context) is None:
            cls.poll_message_set(cls.set_hint)
            return False
        return True


class RecordingImport:
    """For the imports of recordings into a set (IMU, trackers): one frame-rate rule, ``resample``
    and ``fps``; by default a set keeps the recording's own rate (one key per recorded frame, the
    scene takes its rate); resampling happens only when asked. :meth:`_import_reported` runs the
    import and reports it."""

    resample: BoolProperty(
        name="Resample", default=False,
        description="Off (default): keep the recording's own frame rate, one key per recorded frame. On: "
                    "resample the recording to the frame rate below first (interpolated between samples). The "
                    "scene takes the set's rate either way; reconstruction runs at 60 fps and resamples by itself")
    fps: FloatProperty(name="Frame Rate", default=60.0, min=1.0, max=1000.0,
                       description="The rate the recording is resampled to (Resample on)")

    def _fps(self) -> float | None:
        """The rate to resample to, or None to keep the recording's."""
        return self.fps if self.resample else None

    def _draw_frame_rate(self, layout):
        """The Frame Rate column: ``resample`` and, active with it, ``fps``; returns the column."""
        col = layout.column(heading="Frame Rate")
        col.prop(self, "resample")
        sub = col.column()
        sub.active = self.resample
        sub.prop(self, "fps")
        return col

    def _import_reported(self, context, file_name: str, work, summary):
        """``work(progress)`` (the glue's import, giving ``.parent``) run with progress and its errors
        reported naming ``file_name``; the new set selected and "Imported <file> as '<set>':
        <summary(result)>" reported."""
        object_mode(context)
        result = run_reported(self, context, file_name, work)
        if result is None:                       # the readers' errors are one-sentence ValueErrors
            return {"CANCELLED"}
        select_only(context, result.parent)
        self.report({"INFO"}, f"Imported {file_name} as '{result.parent.name}': {summary(result)}")
        return {"FINISHED"}


def window_duration(default: float):
    """The ``duration`` property of a held-pose window (its default differs per kind of set)."""
    return FloatProperty(name="Duration (s)", default=default, min=0.05, soft_max=10.0,
                         description="Length of the still window in seconds")


class HeldPoseCalibration:
    """For Calibrate operators with ``pose`` and ``heading`` properties (their items differ per kind
    of set) and a ``duration`` (:func:`window_duration`): the window's start, the facing angle, the
    dialog, the heading argument, the pose window's part of the dialog and the run."""

    start: FloatProperty(name="Start (s)", default=0.0, min=0.0,
                         description="Start of the still window, seconds from the recording's first frame")
    heading_angle: FloatProperty(name="Facing", default=0.0, subtype="ANGLE", unit="ROTATION",
                                 description="The direction the wearer faced (Heading: Angle)")

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def _heading(self):
        """The heading argument: the mode's name in lower case, or the angle in degrees."""
        return self.heading.lower() if self.heading != "ANGLE" else math.degrees(self.heading_angle)

    def _draw_window(self, layout):
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "pose")
        col = layout.column(align=True)
        col.prop(self, "start")
        col.prop(self, "duration")
        layout.prop(self, "heading")
        if self.heading == "ANGLE":
            layout.prop(self, "heading_angle")

    def _calibrate_reported(self, context, parent, calibrate, summary):
        """``calibrate()`` with its errors reported naming the set; "Calibrated '<set>':
        <summary(calibration)>" reported."""
        calibration = run_reported(self, context, parent.name, lambda progress: calibrate(), progress=False)
        if calibration is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Calibrated '{parent.name}': {summary(calibration)}")
        return {"FINISHED"}


def onto_text(solved, summary) -> str:
    """"onto <armature> as action '<action>': <summary(report)>", how the reports end."""
    return f"onto {armature_text(solved)} as action '{solved.action.name}': {summary(solved.report)}"


class OntoArmature(ArmatureTarget, GapFillSettings, FeetSettings, OntoCharacterOption):
    """For the operators that bake a set's motion onto an SMPL armature (Reconstruct from IMU and
    from Trackers, Solve IK, Import Landmarks): the dialog with the defaults filled in, the run with
    progress and errors reported, the armature selected and the report line (the result onto the
    character too when asked: callers check :meth:`_character_ready` first)."""

    def _fill_defaults(self, context):
        """Unset properties that follow the scene (the target: the existing armature when there is one)."""
        self._fill_target(context)

    def invoke(self, context, event):
        self._fill_defaults(context)
        return context.window_manager.invoke_props_dialog(self)

    def _solve_reported(self, context, label: str, work):
        """``work(progress)`` run in object mode with progress, its errors reported naming ``label``;
        the result (``.armature``, ``.action``, ``.report``), or None after reporting."""
        object_mode(context)
        return run_reported(self, context, label, work)

    def _report_solved(self, context, solved, subject: str, summary):
        """The armature selected and "<subject> onto ... as action ...: <summary>" reported."""
        select_only(context, solved.armature)
        return self._report_onto_character(context, {"INFO"}, f"{subject} {onto_text(solved, summary)}",
                                           solved.armature)


class SetReconstruct(OntoArmature):
    """Reconstruct from a recording set (IMU, trackers): the target properties, the arguments of
    the glue's ``reconstruct_onto_armature`` and the dialog around the kind's own solve options
    (``_draw_solve_options(column)``)."""

    target: EnumProperty(name="Target", items=TARGET_ITEMS, default="NEW",
                         description="The armature that receives the motion")
    armature: StringProperty(name="Armature",
                             description="The SMPL armature to bake onto (empty: the active or selected one)")
    with_body: BoolProperty(name="Body Mesh", default=True,
                            description="Give a new armature a simple skinned body mesh")
    mirror_average: BoolProperty(name="Average Mirror Image", default=True,
                                 description="Also run the offline network on the recording's left-right mirror "
                                             "image and average the two: a more accurate pose for twice the "
                                             "network's time")

    def _onto(self, armature, measurements) -> dict:
        """The target and gap-filling arguments of ``reconstruct_onto_armature``."""
        return {"armature": armature, "measurements": measurements, "with_body": self.with_body,
                "gap_fill": self._gap_fill_options()}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(heading="Solve")
        self._draw_solve_options(col)
        col.prop(self, "mirror_average")
        self._draw_feet(col)
        self._draw_gap_fill(layout)
        self._draw_target_with_subject(context, layout)
        self._draw_onto_character(context, layout)
