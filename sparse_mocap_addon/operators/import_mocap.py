"""Import Mocap: a BVH, ASF/AMC, CMU exp-map or FBX take retargeted onto an SMPL armature."""

from pathlib import Path

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..blender.mocap_import import FILE_PATTERNS, animated_objects, import_mocap_takes
from ..core.mocap.joint_maps import BUILTIN_MAPS, load_joint_map
from .common import (FeetSettings, Progress, active_smpl_armature, file_filter, object_mode, select_only,
                     subject_source)
from .onto_character import OntoCharacterOption, Take

_MAP_KEYS = {key.upper(): key for key in BUILTIN_MAPS}
JOINT_MAP_ITEMS = (
    [("AUTO", "Detect", "The built-in map that fits the rig's joint names")]
    + [(item, key, BUILTIN_MAPS[key].name) for item, key in _MAP_KEYS.items()]
    + [("JSON", "JSON File", 'A JSON joint map for this rig: {"joints": {"<SMPL joint>": "<rig joint>", ...}}')]
)

REFERENCE_ITEMS = (
    ("AUTO", "Automatic", "The rig's zero pose when it is a T-, A- or I-pose, else the take's straightest "
                          "frame that is one"),
    ("ZERO", "Rig Zero Pose", "The rig's zero (rest) pose; refused if it is no T-, A- or I-pose"),
    ("FRAME", "Frame", "A frame of the take where the performer stands in a T-, A- or I-pose"),
)

TARGET_ITEMS = (
    ("ACTIVE", "Active Armature", "Bake onto the active SMPL armature"),
    ("PERFORMER", "New: Performer's Body", "A new armature with the performer's proportions measured from "
                                            "the file's rig"),
    ("SUBJECT", "New: Subject Measurements", "A new armature from the measurements in the Subject panel"),
)

FPS_ITEMS = (
    ("FILE", "Keep the Take's Frames", "Every frame of the file becomes a key. A scene with no other animation "
                                       "takes the take's frame rate and range; a scene with other animated "
                                       "objects keeps its rate, and the keys are spaced to keep the take's timing"),
    ("SCENE", "Resample to Scene Rate", "Resample the take to the scene's frame rate, one key per scene frame (a "
                                        "120 fps take in a 24 fps scene keeps one pose in five); the scene's rate "
                                        "stays as it is"),
)


class SPARSE_MOCAP_OT_import_mocap(OntoCharacterOption, FeetSettings, bpy.types.Operator, ImportHelper):
    """Import mocap takes (BVH, ASF/AMC, CMU exp-map, FBX), retarget them onto an SMPL armature \
and bake each as a new action (several takes of one performer share one body)"""

    bl_idname = "sparse_mocap.import_mocap"
    bl_label = "Import Mocap"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".bvh"
    filter_glob: file_filter(FILE_PATTERNS)
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"},
                              description="The takes chosen in the file browser (one action each)")
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"},
                              description="The folder of the chosen takes")

    asf_path: StringProperty(name="ASF Skeleton", subtype="FILE_PATH",
                             description="The .asf skeleton of an AMC take (empty: look beside the AMC file)")
    source_fps: FloatProperty(name="File Frame Rate", default=120.0, min=1.0, max=1000.0,
                              description="Frame rate of AMC and CMU exp-map takes (the files do not store it)")
    joint_map: EnumProperty(name="Joint Map", items=JOINT_MAP_ITEMS, default="AUTO",
                            description="Which rig joint sits at each SMPL joint")
    joint_map_path: StringProperty(name="Joint Map File", subtype="FILE_PATH",
                                   description="JSON joint map (Joint Map: JSON File)")
    reference: EnumProperty(name="Reference Pose", items=REFERENCE_ITEMS, default="AUTO",
                            description="The pose that checks the rig's left and right and gives its leg length; "
                                        "it is also the neutral posture of a take where the performer never stands")
    reference_frame: IntProperty(name="Reference Frame", default=0, min=0,
                                 description="Frame of the take (0 = first) used as the reference pose")
    target: EnumProperty(name="Target", items=TARGET_ITEMS, default="ACTIVE",
                         description="The armature that receives the motion")
    with_body: BoolProperty(name="Body Mesh", default=True,
                            description="Give a new armature a simple skinned body mesh")
    fps: EnumProperty(name="Frame Rate", items=FPS_ITEMS, default="FILE",
                      description="Keep every frame of the take (default) or resample it to the scene's frame rate")
    frame_start: IntProperty(name="Start Frame", default=1, description="Frame of the take's first key")

    def invoke(self, context, event):
        self._fill_defaults(context)
        return ImportHelper.invoke(self, context, event)

    def _fill_defaults(self, context):
        """Context-dependent defaults: the active SMPL armature as target, the scene's start frame."""
        if not self.properties.is_property_set("target"):
            self.target = "ACTIVE" if active_smpl_armature(context) else "PERFORMER"
        if not self.properties.is_property_set("frame_start"):
            self.frame_start = context.scene.frame_start

    def _paths(self) -> list[Path]:
        """The chosen files: every one selected in the file browser, else ``filepath``."""
        names = [f.name for f in self.files if f.name]
        if names and self.directory:
            folder = Path(bpy.path.abspath(self.directory))
            return [folder / name for name in names]
        return [Path(bpy.path.abspath(self.filepath))]

    def execute(self, context):
        self._fill_defaults(context)
        if not self._character_ready(context):
            return {"CANCELLED"}
        paths = self._paths()
        path = paths[0]
        target = active_smpl_armature(context) if self.target == "ACTIVE" else None
        if self.target == "ACTIVE" and target is None:
            self.report({"ERROR"}, "No active SMPL armature: select one, or import onto a new armature "
                                   "(Target: New)")
            return {"CANCELLED"}
        object_mode(context)
        try:
            joint_map = self._joint_map()
            measurements = subject_source(context).to_measurements() if self.target == "SUBJECT" else None
            scene_fps = self._scene_fps(context)
            others = animated_objects(context.scene, ignore=target)
            with Progress(context) as progress:
                results = import_mocap_takes(
                    paths, armature=target, measurements=measurements,
                    asf_path=bpy.path.abspath(self.asf_path) if self.asf_path else None,
                    source_fps=self.source_fps, joint_map=joint_map, rest_reference=self._rest_reference(),
                    fps=scene_fps if self.fps == "SCENE" else None, match_scene=self.fps == "SCENE" or not others,
                    frame_start=self.frame_start, with_body=self.with_body,
                    name="Subject" if self.target == "SUBJECT" else None, feet=self._feet_options(),
                    context=context, progress=progress)
        except (ValueError, OSError) as exc:   # the readers' and core's errors are ValueErrors
            message = str(exc)
            named = any(p.name in message for p in paths)
            self.report({"ERROR"}, message if named else f"{path.name}: {message}")
            return {"CANCELLED"}
        result = results[-1]
        obj = result.armature
        target_text = f"'{obj.name}'"
        if result.created_armature:
            select_only(context, obj)
            body = " (one body from all takes)" if len(results) > 1 else ""
            target_text = f"new armature '{obj.name}' ({result.measurements.height:.2f} m{body})"
        if len(results) == 1:
            text = (f"Imported {result.motion.num_frames} frames ({result.motion.fps:g} fps) from "
                    f"{path.name} (joint map {result.joint_map.name}, reference {result.reference}) "
                    f"onto {target_text} as action '{result.action.name}'; "
                    f"{self._rate_text(context, result, scene_fps, others)}{self._feet_text(result.feet)}")
        else:
            actions = ", ".join(f"'{r.action.name}'" for r in results)
            text = (f"Imported {len(results)} takes onto {target_text} as actions {actions}; "
                    f"the last one is active; {self._rate_text(context, result, scene_fps, others)}"
                    f"{self._feet_text(result.feet)}")
        takes = [Take(r.motion, r.action.name, self.frame_start) for r in results]
        return self._report_onto_character(context, {"INFO"}, text, takes=takes)

    def _joint_map(self):
        if self.joint_map == "AUTO":
            return None
        if self.joint_map == "JSON":
            if not self.joint_map_path:
                raise ValueError("Joint Map is 'JSON File' but no joint map file is chosen")
            return load_joint_map(bpy.path.abspath(self.joint_map_path))
        return BUILTIN_MAPS[_MAP_KEYS[self.joint_map]]

    def _rest_reference(self):
        return {"AUTO": "auto", "ZERO": "zero"}.get(self.reference, self.reference_frame)

    def _rate_text(self, context, result, scene_fps_before, others) -> str:
        """What became of the frame rates: the take resampled, the scene's rate set, or kept."""
        take_fps, scene_fps = result.source.fps, self._scene_fps(context)
        if self.fps == "SCENE":
            if abs(take_fps - scene_fps) < 1e-6:
                return f"the take is at the scene's {scene_fps:g} fps"
            return f"resampled from the take's {take_fps:g} fps to the scene's {scene_fps:g} fps"
        if others:
            return (f"the scene keeps its {scene_fps:g} fps ({others[0]} is animated): the take's {take_fps:g} fps "
                    f"keys are {scene_fps / take_fps:.3g} frames apart")
        if abs(scene_fps_before - scene_fps) < 1e-6:
            return f"the scene plays the take's {take_fps:g} fps"
        return f"the scene's frame rate is set to the take's {take_fps:g} fps (was {scene_fps_before:g})"

    @staticmethod
    def _scene_fps(context):
        render = context.scene.render
        return render.fps / render.fps_base

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        name = Path(self.filepath).name.lower()

        col = layout.column(heading="Source")
        row = col.row()
        row.prop(self, "asf_path")
        row.active = ".amc" in name or not name
        row = col.row()
        row.prop(self, "source_fps")
        row.active = name.endswith((".amc", ".amc.gz", ".txt", ".txt.gz")) or not name
        col.prop(self, "joint_map")
        if self.joint_map == "JSON":
            col.prop(self, "joint_map_path")
        col.prop(self, "reference")
        if self.reference == "FRAME":
            col.prop(self, "reference_frame")

        col = layout.column(heading="Target")
        col.prop(self, "target", text="Armature")
        row = col.row()
        row.prop(self, "with_body")
        row.active = self.target != "ACTIVE"
        col.prop(self, "fps")
        col.prop(self, "frame_start")
        self._draw_feet(col)
        self._draw_onto_character(context, layout)


CLASSES = (SPARSE_MOCAP_OT_import_mocap,)
