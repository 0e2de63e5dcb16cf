"""The Onto Character option of the operators that make motion (Import Mocap, Bake Motion File, Bake
Demo Walk, Import Landmarks and Solve IK, Reconstruct from IMU and from Trackers, Fill Gaps): the
SMPL result, kept as it is, also keyed onto the character picked in the Character panel as a new
action ``<character>_<take>``, through the character's own bone map, Root Motion and Hands settings,
on the same frames.

An operator inherits :class:`OntoCharacterOption` (Blender reads a mixin's property annotations)
and makes two calls: :meth:`~OntoCharacterOption._character_ready` before its own work (no
character, or a bone map that does not fit the rig: the error at once, nothing changed), and
:meth:`~OntoCharacterOption._report_onto_character` in place of its final report (the character
bake, and the report with one clause more; a bake that fails leaves nothing on the character and
turns the report into a WARNING that says why).
"""

from __future__ import annotations

from dataclasses import dataclass

from bpy.props import BoolProperty

from ..blender.action_motion import read_action_motion
from ..blender.character import bake_onto_character
from ..blender.mocap_import import removed_on_failure
from ..core.feet.stage import FeetOptions
from ..core.kinematics.motion import Motion
from ..blender.character_map import character_rig, picked_character
from .common import Progress, error_text


@dataclass
class Take:
    """One SMPL result to put onto the character: its motion, the name of its SMPL action and the
    scene frame of its first key (the character's keys land on the same frames)."""

    motion: Motion
    name: str
    frame_start: float


def active_take(armature, scene) -> Take:
    """The SMPL armature's active action (the one just made), read back as a :class:`Take`."""
    read = read_action_motion(armature, scene)
    return Take(read.motion, read.action.name, read.frame_start)


class OntoCharacterOption:
    """The ``onto_character`` switch and the character bake behind it (module docstring)."""

    onto_character: BoolProperty(
        name="Onto Character", default=False,
        description="The result also goes onto the character picked in the Character panel as a new action "
                    "(<character>_<take>), through its bone map; the SMPL result is kept")

    def _wants_character(self) -> bool:
        """Whether this run goes onto the character (an operator may ask more, e.g. that it solves)."""
        return self.onto_character

    def _character(self, context):
        """(character, bone map) as the Character panel sets them; ValueError in one sentence."""
        obj = picked_character(context)
        return obj, character_rig(obj)[0]

    def _character_ready(self, context) -> bool:
        """Before the operator's own work: False after reporting an ERROR when the character was
        asked for and there is none picked, or its bone map does not fit it."""
        if not self._wants_character():
            return True
        try:
            self._character(context)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, f"Onto Character: {error_text(exc, '')}")
            return False
        return True

    def _character_feet(self) -> FeetOptions:
        """The feet stage on the character: the operator's Feet on Floor where it has one, else on."""
        return FeetOptions(enabled=getattr(self, "feet_on_floor", True))

    def _onto_character(self, context, takes) -> str:
        """Key each :class:`Take` onto the character as a new action (the last one active); the
        report's clause. All or nothing: a failure leaves the character as it was and raises."""
        obj, rig_map = self._character(context)
        settings = obj.sparse_mocap_bone_map            # the character's Root Motion and Hands
        actions = []
        with Progress(context) as progress, removed_on_failure(obj):
            for k, take in enumerate(takes):
                action, _ = bake_onto_character(
                    obj, take.motion, f"{obj.name}_{take.name}", rig_map=rig_map, feet=self._character_feet(),
                    root_motion=settings.root_motion.lower(), hands=settings.hands, frame_start=take.frame_start,
                    match_scene=False, scene=context.scene, progress=lambda f, k=k: progress((k + f) / len(takes)))
                actions.append(action)
        names = ", ".join(f"'{action.name}'" for action in actions)
        return f"; onto '{obj.name}' as new action{'s' if len(actions) > 1 else ''} {names}"

    def _report_onto_character(self, context, level: set, text: str, armature=None, takes=None) -> set:
        """Report ``text`` at ``level``, after the result went onto the character when asked:
        ``takes`` (default: ``armature``'s active action, just made). A character bake that fails
        leaves the SMPL result and reports a WARNING with the reason. Returns {"FINISHED"}."""
        if self._wants_character():
            try:
                text += self._onto_character(context, takes or [active_take(armature, context.scene)])
            except (ValueError, OSError) as exc:
                level = {"WARNING"}
                text += f"; not onto the character: {error_text(exc, '')}"
        self.report(level, text)
        return {"FINISHED"}

    def _draw_onto_character(self, context, layout):
        """The switch, and under it the character it goes onto (or that none is picked)."""
        layout.prop(self, "onto_character")
        if self.onto_character:
            obj = context.scene.sparse_mocap_character
            layout.label(text=f"Character: {obj.name}" if obj else "Pick a character in the Character panel",
                         icon="OUTLINER_OB_ARMATURE" if obj else "ERROR")
