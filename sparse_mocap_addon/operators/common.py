"""Small helpers shared by the operators (no operator calls another)."""

import dataclasses

import bpy
from bpy.props import BoolProperty, StringProperty

from ..blender.armature import is_smpl_armature
from ..core.feet.stage import FeetOptions, feet_summary


def active_smpl_armature(context):
    obj = context.active_object
    return obj if is_smpl_armature(obj) else None


def subject_source(context):
    """The measurements the UI shows: the active SMPL armature's, else the scene's for a new one."""
    obj = active_smpl_armature(context)
    return obj.sparse_mocap_subject if obj else context.scene.sparse_mocap_new_subject


def object_mode(context) -> None:
    """Leave edit/pose mode: the operators create and key objects."""
    if context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")


def select_only(context, obj) -> None:
    """``obj`` becomes the one selected and the active object."""
    for other in context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj


def error_text(exc, name) -> str:
    """An error for the report, naming ``name`` (the file or set) unless the message already does."""
    text = str(exc).rstrip(".")
    return text if not name or name in text else f"{name}: {text}"


def armature_text(solved) -> str:
    """How a report names the armature a solve baked onto (``solved.armature``, ``.created_armature``)."""
    if solved.created_armature:
        return f"new armature '{solved.armature.name}'"
    return f"'{solved.armature.name}'"


def target_items(new_description: str) -> tuple:
    """The items of a ``target`` property: a new armature (described by the caller) or an existing one."""
    return (
        ("NEW", "New Armature", new_description),
        ("ARMATURE", "Existing Armature", "An existing SMPL armature: the one named below, else the active or the "
                                          "selected one"),
    )


def target_armature(context, name):
    """The SMPL armature named ``name``; with no name the active one, else the one selected (or None)."""
    if name:
        obj = bpy.data.objects.get(name)
        return obj if is_smpl_armature(obj) else None
    found = active_smpl_armature(context)
    if found is not None:
        return found
    candidates = [o for o in (context.selected_objects or ()) if is_smpl_armature(o)]
    return candidates[0] if len(candidates) == 1 else None


class ArmatureTarget:
    """For operators with a ``target`` property (:func:`target_items`) and an ``armature`` name:
    the existing armature as default target when there is one, the armature chosen, the Target box."""

    target_verb = "bake"       # "No SMPL armature to <verb> onto"

    def _fill_target(self, context):
        if not self.properties.is_property_set("target"):
            self.target = "ARMATURE" if target_armature(context, "") is not None else "NEW"

    def _target(self, context):
        """(armature or None for a new one, error sentence or None)."""
        if self.target == "NEW":
            return None, None
        armature = target_armature(context, self.armature)
        if armature is None:
            if self.armature:
                return None, f"'{self.armature}' is no SMPL armature; choose one made by Sparse Mocap"
            return None, (f"No SMPL armature to {self.target_verb} onto: select one, name it, or choose "
                          "Target: New Armature")
        return armature, None

    def _target_and_measurements(self, context):
        """(armature or None for a new one, the Subject panel's measurements for a new one or None),
        or None after reporting why there is no target."""
        armature, error = self._target(context)
        if error:
            self.report({"ERROR"}, error)
            return None
        return armature, (subject_source(context).to_measurements() if armature is None else None)

    def _draw_target_with_subject(self, context, layout):
        """The Target box; for a new armature the Subject panel's figures and ``with_body``."""
        col = self._draw_target(layout)
        if col is not None:
            subject = subject_source(context)
            col.label(text=f"Subject: {subject.height:.2f} m, {subject.sex} (Subject panel)")
            col.prop(self, "with_body")

    def _draw_target(self, layout):
        """The Target box; returns its column for the new armature's options, or None (existing armature)."""
        col = layout.column(heading="Target")
        col.prop(self, "target", text="Armature")
        if self.target == "ARMATURE":
            col.prop_search(self, "armature", bpy.data, "objects", text="Name")
            return None
        return col


class Progress:
    """``with Progress(context) as p: p(0.5)`` drives the window manager's progress indicator."""

    def __init__(self, context, steps: int = 1000):
        self.wm = context.window_manager
        self.steps = steps

    def __enter__(self):
        self.wm.progress_begin(0, self.steps)
        return self

    def __call__(self, fraction: float):
        self.wm.progress_update(int(max(0.0, min(1.0, fraction)) * self.steps))

    def __exit__(self, *exc):
        self.wm.progress_end()
        return False


def run_reported(op, context, name, work, *, progress: bool = True):
    """``work(progress)`` with the window manager's progress indicator (``progress`` False: a no-op
    callback); its result, or None after reporting the readers' and the core's one-sentence errors
    (ValueError, OSError) with :func:`error_text` naming ``name``."""
    try:
        if not progress:
            return work(lambda fraction: None)
        with Progress(context) as bar:
            return work(bar)
    except (ValueError, OSError) as exc:
        op.report({"ERROR"}, error_text(exc, name))
        return None


def file_filter(patterns: str):
    """The hidden ``filter_glob`` property of a file browser operator: the files it lists."""
    return StringProperty(default=patterns, options={"HIDDEN"}, description="The file types the file browser lists")


class FeetSettings:
    """For operators that make a motion: the ``feet_on_floor`` switch of the feet stage (Blender
    reads a mixin's property annotations), the options it gives, its line of the dialog and of the
    report."""

    feet_on_floor: BoolProperty(
        name="Feet on Floor", default=True,
        description="Keep the feet that touch the floor planted on it (no sliding) and every foot above it, "
                    "with the root path fitted to the armature's legs; off: the raw result")

    def _feet_options(self, default: FeetOptions | None = None) -> FeetOptions:
        """``default`` (the path's own feet options; the stage's defaults when None), switched on or
        off by the property."""
        return dataclasses.replace(default or FeetOptions(), enabled=self.feet_on_floor)

    def _draw_feet(self, layout):
        layout.prop(self, "feet_on_floor")

    @staticmethod
    def _feet_text(report) -> str:
        """"; <what the feet stage changed>" for the end of a report sentence, or ""."""
        text = feet_summary(report)
        return f"; {text}" if text else ""
