"""Blender properties: the subject's body measurements, stored on each armature object.

Measurements live in a PropertyGroup on the armature *object* so they are saved in the .blend with
each character. A scene-level copy holds the values for the next armature to be created.
A length of 0 means "take it from the anthropometric table for this height and sex".
A character rig's bone map (and the bones picked by hand) lives on its object too; the scene names
the character that Retarget to Character animates.
"""

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from .blender.armature import is_smpl_armature
from .core.body.measurements import BodyMeasurements
from .core.mocap.target_rig import BUILTIN_RIG_MAPS

SEX_ITEMS = (
    ("neutral", "Neutral", "Mean of the male and female proportion tables"),
    ("male", "Male", "de Leva (1996) male segment proportions"),
    ("female", "Female", "de Leva (1996) female segment proportions"),
)


def _length(name, description, default=0.0):
    return FloatProperty(name=name, description=description, default=default, min=0.0, max=3.0,
                         soft_max=2.5, subtype="DISTANCE", unit="LENGTH", precision=3)


class SPARSE_MOCAP_PG_subject(bpy.types.PropertyGroup):
    height: _length("Height", "Standing height, floor to the top of the head", 1.75)
    arm_length: _length("Arm Length", "Armpit to wrist, arm straight (0: from the table)")
    leg_length: _length("Leg Length", "Hip joint to ankle, leg straight (0: from the table)")
    sex: EnumProperty(name="Sex", items=SEX_ITEMS, default="neutral",
                      description="Selects the segment proportion table")
    shoulder_width: _length("Shoulder Width", "Acromion to acromion across the back (0: from the table)")
    hip_width: _length("Hip Width", "Across the hips at the greater trochanters (0: from the table)")

    def to_measurements(self) -> BodyMeasurements:
        def optional(value):
            return float(value) if value > 0.0 else None

        return BodyMeasurements(height=float(self.height), arm_length=optional(self.arm_length),
                                leg_length=optional(self.leg_length), sex=self.sex,
                                shoulder_width=optional(self.shoulder_width),
                                hip_width=optional(self.hip_width))

    def set_from(self, other):
        for key in ("height", "arm_length", "leg_length", "sex", "shoulder_width", "hip_width"):
            setattr(self, key, getattr(other, key))


# The bone map a character rig is retargeted through (Character panel, Retarget to Character).
BONE_MAP_ITEMS = (
    [("AUTO", "Auto-detect", "The built-in bone map that fits the rig's bone names")]
    + [(key.upper(), rig_map.name, f"The built-in bone map '{rig_map.name}'")
       for key, rig_map in BUILTIN_RIG_MAPS.items()]
    + [("JSON", "JSON File", "A bone map saved as JSON (Save Bone Map, or written by hand)")]
)


class SPARSE_MOCAP_PG_bone_override(bpy.types.PropertyGroup):
    segment: StringProperty(name="Segment", description="The SMPL segment (joint, or 'spine') this bone carries")
    bone: StringProperty(name="Bone", description="The character's bone that carries the segment (several: "
                                                  "'a, b, c', root to tip)")


# Which bone of a character carries the motion through the scene (Character panel, the retarget operators).
ROOT_MOTION_ITEMS = (
    ("AUTO", "Auto", "On the rig's floor-level root bone above its hips when it has one (as Root), else on the hips"),
    ("HIPS", "Hips", "The hips carry all the motion; a root bone stays where it is"),
    ("ROOT", "Root", "The floor-level root bone follows the hips along the floor and the hips carry the rest "
                     "(Unreal Engine root motion); refused for a rig without such a root bone"),
)
HANDS_DESCRIPTION = ("Re-solve the arms (two-bone IK) so the wrists reach where the performer's were, in the world "
                     "scaled to the character's legs (a hand on a prop); off: the arms turn as the performer's did")


class SPARSE_MOCAP_PG_bone_map(bpy.types.PropertyGroup):
    """How a character rig takes SMPL motion: its bone map, and the retarget's settings for it."""

    map: EnumProperty(name="Bone Map", items=BONE_MAP_ITEMS, default="AUTO",
                      description="Which character bone carries each SMPL segment")
    path: StringProperty(name="Bone Map File", subtype="FILE_PATH",
                         description="The JSON bone map (Bone Map: JSON File)")
    overrides: CollectionProperty(type=SPARSE_MOCAP_PG_bone_override,
                                  description="Bones picked by hand in place of the map's, one per segment")
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION_ITEMS, default="AUTO",
                              description="Which bone carries the motion through the scene (Retarget to Character, "
                                           "Bake Motion Files and the Onto Character option use it unless told)")
    hands: BoolProperty(name="Hands Reach Targets", default=False, description=HANDS_DESCRIPTION)


# The user's SMPL / SMPL+H / SMPL-X model file (issue 20): when set, every new armature gets that body.
GENDER_ITEMS = (
    ("AUTO", "From File Name", "The gender the file's name says (female, male), else neutral"),
    ("NEUTRAL", "Neutral", "A gender-neutral model file"),
    ("FEMALE", "Female", "A female model file"),
    ("MALE", "Male", "A male model file"),
)


def _check_body_model(settings, _context):
    """The file checked as it is set: ``status`` says what it is, or why it is refused."""
    from .blender.smpl_body import load_model
    from .core.body.smpl_model import BodyModelError

    path = settings.filepath.strip()
    settings.readable = False
    if not path:
        settings.status = ""
        return
    try:
        model = load_model(path, None if settings.gender == "AUTO" else settings.gender.lower())
    except BodyModelError as exc:
        settings.status = str(exc)
        return
    settings.readable = True
    settings.status = (f"{model.kind.upper()} {model.gender}: {len(model.v_template)} vertices, "
                       f"{model.num_joints} joints, {model.num_betas} betas")


class SPARSE_MOCAP_PG_body_model(bpy.types.PropertyGroup):
    filepath: StringProperty(name="SMPL Model File", subtype="FILE_PATH", update=_check_body_model,
                             description="Your SMPL, SMPL+H or SMPL-X model file (.pkl or .npz): new armatures get "
                                         "that body, fitted to the measurements; empty: the simple default body")
    gender: EnumProperty(name="Gender", items=GENDER_ITEMS, default="AUTO", update=_check_body_model,
                         description="The model file's gender, kept with the betas and written to AMASS files (a file "
                                     "holds one model)")
    num_betas: IntProperty(name="Betas", default=10, min=1, max=300,
                           description="How many shape coefficients are fitted to the skeleton (at most the "
                                       "model's own)")
    status: StringProperty(name="Model", description="What the model file is, or why it is refused")
    readable: BoolProperty(name="Model Readable", description="Whether the model file was read and passed the checks")


def _is_character(_scene, obj) -> bool:
    return obj.type == "ARMATURE" and not is_smpl_armature(obj)


CLASSES = (SPARSE_MOCAP_PG_subject, SPARSE_MOCAP_PG_bone_override, SPARSE_MOCAP_PG_bone_map, SPARSE_MOCAP_PG_body_model)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Object.sparse_mocap_subject = PointerProperty(
        type=SPARSE_MOCAP_PG_subject, description="The body measurements this SMPL armature was built from")
    bpy.types.Scene.sparse_mocap_new_subject = PointerProperty(
        type=SPARSE_MOCAP_PG_subject, description="The body measurements of the next armature Sparse Mocap creates")
    bpy.types.Object.sparse_mocap_bone_map = PointerProperty(
        type=SPARSE_MOCAP_PG_bone_map, description="How this character rig takes SMPL motion: its bone map")
    bpy.types.Scene.sparse_mocap_character = PointerProperty(
        type=bpy.types.Object, poll=_is_character, name="Character",
        description="The character armature (not an SMPL one) that Retarget to Character animates")
    bpy.types.Scene.sparse_mocap_body_model = PointerProperty(
        type=SPARSE_MOCAP_PG_body_model, description="Your SMPL model file: new armatures get its body")


def unregister():
    del bpy.types.Scene.sparse_mocap_body_model
    del bpy.types.Scene.sparse_mocap_character
    del bpy.types.Object.sparse_mocap_bone_map
    del bpy.types.Scene.sparse_mocap_new_subject
    del bpy.types.Object.sparse_mocap_subject
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
