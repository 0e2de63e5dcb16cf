"""Onto the user's character rig: Retarget to Character (an SMPL armature's action), Bake Motion Files
onto Character (one action per .npz file), and the bone map's overrides and presets.

The character and its bone map are :mod:`..blender.character_map`'s; the retarget and the keys are
:func:`..blender.character.bake_onto_character`.
"""

import os
from pathlib import Path

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..blender.action_motion import read_action_motion
from ..blender.character import bake_onto_character
from ..blender.character_map import character_rig, find_override, picked_character, resolved_map
from ..blender.mocap_import import removed_on_failure
from ..blender.nla import active_action, push_to_nla
from ..blender.target_rig import target_rig_from_armature
from ..core.kinematics.motion import Motion
from ..core.mocap.target_rig import SEGMENTS, RigMap, load_rig_map, save_rig_map
from ..properties import BONE_MAP_ITEMS, HANDS_DESCRIPTION, ROOT_MOTION_ITEMS
from .common import FeetSettings, Progress, error_text, file_filter, object_mode, target_armature

# -- the retarget operators ------------------------------------------------------------------------

class _OntoCharacter(FeetSettings):
    """Options shared by the operators that key a motion onto the character (Blender reads a mixin's
    property annotations) and the bake itself."""

    bl_options = {"REGISTER", "UNDO"}

    character: StringProperty(name="Character", options={"SKIP_SAVE"},
                              description="The character armature to animate (empty: the one picked in the "
                                          "Character panel)")
    bone_map: EnumProperty(name="Bone Map", items=BONE_MAP_ITEMS, default="AUTO", options={"SKIP_SAVE"},
                           description="Which character bone carries each SMPL segment (not set: the character's "
                                       "own, from the Character panel); bones picked by hand there apply on top")
    bone_map_path: StringProperty(name="Bone Map File", subtype="FILE_PATH", options={"SKIP_SAVE"},
                                  description="The JSON bone map (Bone Map: JSON File)")
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION_ITEMS, default="AUTO", options={"SKIP_SAVE"},
                              description="Which bone carries the motion through the scene (not set: the "
                                          "character's own, from the Character panel)")
    hands: BoolProperty(name="Hands Reach Targets", default=False, options={"SKIP_SAVE"},
                        description=HANDS_DESCRIPTION + " (not set: the character's own, from the Character panel)")
    push_to_nla: BoolProperty(name="Push to NLA", default=False,
                              description="Put each new action into a new NLA track of the character, named after "
                                          "it, and keep the character's active action as it was")

    def _rig_map(self, obj) -> RigMap:
        """The operator's bone map when set, else the character's own (Character panel)."""
        choice = self.bone_map if self.properties.is_property_set("bone_map") else None
        path = self.bone_map_path if self.properties.is_property_set("bone_map_path") else None
        return character_rig(obj, choice, path)[0]

    def _character_settings(self, obj) -> None:
        """Root Motion and Hands not set on the operator: the character's own (Character panel),
        written into the operator so that its redo panel shows what was used."""
        settings = obj.sparse_mocap_bone_map
        if not self.properties.is_property_set("root_motion"):
            self.root_motion = settings.root_motion
        if not self.properties.is_property_set("hands"):
            self.hands = settings.hands

    def _bake(self, context, obj, motion, action_name, rig_map, frame_start, match_scene, progress):
        """Key ``motion`` into a new action on ``obj`` (pushed to the NLA when asked); the action and
        its NLA track (or None). Nothing is left of a bake that fails."""
        self._character_settings(obj)
        before = active_action(obj)
        with removed_on_failure(obj):
            action, rig_motion = bake_onto_character(
                obj, motion, action_name, rig_map=rig_map, feet=self._feet_options(),
                root_motion=self.root_motion.lower(), frame_start=frame_start, match_scene=match_scene,
                scene=context.scene, progress=progress, hands=self.hands)
        track = push_to_nla(obj, action, before) if self.push_to_nla else None
        return action, track, rig_motion

    def _where_text(self, obj, action, track) -> str:
        if track is None:
            return f"new action '{action.name}'"
        kept = obj.animation_data.action
        return (f"new action '{action.name}' in NLA track '{track.name}' (active action "
                f"{repr(kept.name) if kept else 'none'} kept)")

    def _draw_options(self, layout):
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(heading="Character")
        col.prop(self, "character", text="Armature")
        col.prop(self, "bone_map")
        if self.bone_map == "JSON":
            col.prop(self, "bone_map_path")
        col.prop(self, "root_motion")
        self._draw_feet(col)
        col.prop(self, "hands")
        col.prop(self, "push_to_nla")


class SPARSE_MOCAP_OT_retarget_to_character(_OntoCharacter, bpy.types.Operator):
    """Retarget an SMPL armature's action onto the character picked in the Character panel, as a new \
action on the character (its own actions kept)"""

    bl_idname = "sparse_mocap.retarget_to_character"
    bl_label = "Retarget to Character"

    armature: StringProperty(name="SMPL Armature", options={"SKIP_SAVE"},
                             description="The SMPL armature whose action is retargeted (empty: the active or the "
                                         "selected one)")
    action_name: StringProperty(name="Action Name", options={"SKIP_SAVE"},
                                description="Name of the new action on the character (empty: <character>_<take>)")

    def execute(self, context):
        smpl = target_armature(context, self.armature)
        if smpl is None:
            self.report({"ERROR"}, f"'{self.armature}' is no SMPL armature; name one made by Sparse Mocap"
                        if self.armature else "No SMPL armature to retarget from: select one or name it")
            return {"CANCELLED"}
        try:
            obj = picked_character(context, self.character)
            rig_map = self._rig_map(obj)
            source = read_action_motion(smpl, context.scene)
            object_mode(context)
            take = source.action.name
            with Progress(context) as progress:
                action, track, rig_motion = self._bake(
                    context, obj, source.motion, self.action_name or f"{obj.name}_{take}", rig_map,
                    int(round(source.frame_start)), False, progress)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, error_text(exc, ""))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Retargeted {rig_motion.num_frames} frames of '{take}' from '{smpl.name}' onto "
                              f"'{obj.name}' (bone map {rig_map.name}) as {self._where_text(obj, action, track)}"
                              f"{self._feet_text(rig_motion.metadata.get('feet'))}")
        return {"FINISHED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "armature")
        layout.prop(self, "action_name")
        self._draw_options(layout)


class SPARSE_MOCAP_OT_bake_motion_onto_character(_OntoCharacter, bpy.types.Operator, ImportHelper):
    """Bake sparse_mocap Motion files (.npz) onto the character picked in the Character panel: one new \
action per file, named after it; a bad file is reported and the others still baked"""

    bl_idname = "sparse_mocap.bake_motion_onto_character"
    bl_label = "Bake Motion Files onto Character"

    filename_ext = ".npz"
    filter_glob: file_filter("*.npz")
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"},
                              description="The Motion files chosen in the file browser (one action each)")
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"},
                              description="The folder of the chosen Motion files")
    match_scene: BoolProperty(name="Match Scene Rate and Range", default=True,
                              description="Set the scene's frame rate and range to the first file's (the range "
                                          "grows to hold the longest)")

    def _paths(self) -> list[Path]:
        """The chosen files: every one selected in the file browser, else ``filepath``."""
        names = [f.name for f in self.files if f.name]
        if names and self.directory:
            return [Path(bpy.path.abspath(self.directory)) / name for name in names]
        return [Path(bpy.path.abspath(self.filepath))]

    def execute(self, context):
        try:
            obj = picked_character(context, self.character)
            rig_map = self._rig_map(obj)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, error_text(exc, ""))
            return {"CANCELLED"}
        object_mode(context)
        paths = self._paths()
        baked, failed = [], []
        with Progress(context) as progress:
            for k, path in enumerate(paths):
                try:
                    baked.append(self._bake_file(context, obj, path, rig_map, self.match_scene and not baked,
                                                 lambda f, k=k: progress((k + f) / len(paths))))
                except (ValueError, OSError) as exc:     # MotionFileError is a ValueError
                    failed.append(error_text(exc, path.name))
        return self._finish(context, obj, baked, failed, len(paths))

    def _bake_file(self, context, obj, path: Path, rig_map, match_scene: bool, progress):
        """One file as a new action '<character>_<file>': (action, NLA track or None, RigMotion)."""
        return self._bake(context, obj, Motion.load(path), f"{obj.name}_{path.stem}", rig_map,
                          context.scene.frame_start, match_scene, progress)

    def _finish(self, context, obj, baked, failed, count):
        for text in failed if count > 1 else ():      # one file: its error is the report
            self.report({"WARNING"}, text)
        if not baked:
            self.report({"ERROR"}, f"None of the {count} Motion files could be baked onto '{obj.name}': {failed[0]}"
                        if count > 1 else failed[0])
            return {"CANCELLED"}
        scene = context.scene
        if self.match_scene:
            scene.frame_end = max(scene.frame_end, *(int(action.frame_range[1] + 0.5) for action, _, _ in baked))
        action, track, rig_motion = baked[-1]
        if len(baked) == 1:
            text = (f"Baked {rig_motion.num_frames} frames onto '{obj.name}' as {self._where_text(obj, action, track)}"
                    f"{self._feet_text(rig_motion.metadata.get('feet'))}")
        else:
            names = ", ".join(f"'{a.name}'" for a, _, _ in baked)
            where = "into NLA tracks" if self.push_to_nla else "the last one active"
            text = f"Baked {len(baked)} Motion files onto '{obj.name}' as new actions {names} ({where})"
        if failed:
            self.report({"WARNING"}, f"{text}; {len(failed)} of {count} files failed (see above)")
        else:
            self.report({"INFO"}, text)
        return {"FINISHED"}

    def draw(self, context):
        self._draw_options(self.layout)
        self.layout.prop(self, "match_scene")


# -- the bone map: bones picked by hand, presets ---------------------------------------------------

class _OnCharacterMap:
    bl_options = {"REGISTER", "UNDO"}

    character: StringProperty(name="Character", options={"SKIP_SAVE"},
                              description="The character armature (empty: the one picked in the Character panel)")

    def _character(self, context):
        """The character, or None after reporting why there is none."""
        try:
            return picked_character(context, self.character)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return None


class SPARSE_MOCAP_OT_pick_segment_bone(_OnCharacterMap, bpy.types.Operator):
    """Pick the character's bone for one SMPL segment by hand, in place of the bone map's"""

    bl_idname = "sparse_mocap.pick_segment_bone"
    bl_label = "Pick Bone by Hand"

    segment: StringProperty(name="Segment", options={"SKIP_SAVE"},
                            description="The SMPL segment (joint, or 'spine') to pick the bone of")
    bone: StringProperty(name="Bone", options={"SKIP_SAVE"},
                         description="The bone to use (empty: start from the map's own, to edit in the Bone Map panel)")

    def execute(self, context):
        obj = self._character(context)
        if obj is None:
            return {"CANCELLED"}
        if self.segment not in SEGMENTS:
            self.report({"ERROR"}, f"'{self.segment}' is no SMPL segment; expected one of {', '.join(SEGMENTS)}")
            return {"CANCELLED"}
        item = find_override(obj, self.segment) or obj.sparse_mocap_bone_map.overrides.add()
        item.segment = self.segment
        item.bone = self.bone or item.bone or ", ".join(self._mapped(obj))
        return {"FINISHED"}

    def _mapped(self, obj) -> tuple:
        """The bones the map gives the segment now (nothing when the map does not fit yet)."""
        try:
            return character_rig(obj)[1].chain_names(self.segment)
        except (ValueError, OSError):
            return ()


class SPARSE_MOCAP_OT_clear_segment_bone(_OnCharacterMap, bpy.types.Operator):
    """Give a segment back to the bone map (forget the bone picked by hand)"""

    bl_idname = "sparse_mocap.clear_segment_bone"
    bl_label = "Use the Map's Bone"

    segment: StringProperty(name="Segment", options={"SKIP_SAVE"},
                            description="The SMPL segment whose hand-picked bone is forgotten")

    def execute(self, context):
        obj = self._character(context)
        if obj is None:
            return {"CANCELLED"}
        overrides = obj.sparse_mocap_bone_map.overrides
        for index in reversed([i for i, item in enumerate(overrides) if item.segment == self.segment]):
            overrides.remove(index)
        return {"FINISHED"}


class SPARSE_MOCAP_OT_save_bone_map(_OnCharacterMap, bpy.types.Operator, ExportHelper):
    """Save the character's bone map (as it fits the rig, bones picked by hand included) as a JSON preset"""

    bl_idname = "sparse_mocap.save_bone_map"
    bl_label = "Save Bone Map"
    bl_options = {"REGISTER"}      # writes a file; nothing in the scene to undo

    filename_ext = ".json"
    filter_glob: file_filter("*.json")

    def invoke(self, context, event):
        obj = context.scene.sparse_mocap_character
        if obj is not None and not self.filepath:
            self.filepath = bpy.path.clean_name(obj.name) + self.filename_ext
        return super().invoke(context, event)

    def execute(self, context):
        obj = self._character(context)
        if obj is None:
            return {"CANCELLED"}
        path = Path(bpy.path.abspath(self.filepath))
        try:
            rig_map, rig = character_rig(obj)
            save_rig_map(resolved_map(rig, path.stem), path)
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, error_text(exc, ""))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved the bone map of '{obj.name}' ({rig_map.name}: {len(rig.chains)} segments) "
                              f"to {path}")
        return {"FINISHED"}


class SPARSE_MOCAP_OT_load_bone_map(_OnCharacterMap, bpy.types.Operator, ImportHelper):
    """Load a JSON bone map (preset) as the character's bone map; it replaces the bones picked by hand"""

    bl_idname = "sparse_mocap.load_bone_map"
    bl_label = "Load Bone Map"

    filename_ext = ".json"
    filter_glob: file_filter("*.json")

    def execute(self, context):
        obj = self._character(context)
        if obj is None:
            return {"CANCELLED"}
        path = bpy.path.abspath(self.filepath)
        try:
            rig_map = load_rig_map(path)
            rig = target_rig_from_armature(obj, rig_map)    # refused here when it does not fit
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, error_text(exc, os.path.basename(path)))
            return {"CANCELLED"}
        settings = obj.sparse_mocap_bone_map
        settings.map, settings.path = "JSON", self.filepath
        settings.overrides.clear()
        self.report({"INFO"}, f"Loaded bone map '{rig_map.name}' onto '{obj.name}' ({len(rig.chains)} segments)")
        return {"FINISHED"}


CLASSES = (SPARSE_MOCAP_OT_retarget_to_character, SPARSE_MOCAP_OT_bake_motion_onto_character,
           SPARSE_MOCAP_OT_pick_segment_bone, SPARSE_MOCAP_OT_clear_segment_bone, SPARSE_MOCAP_OT_save_bone_map,
           SPARSE_MOCAP_OT_load_bone_map)
