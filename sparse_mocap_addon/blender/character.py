"""A Motion onto the user's character rig in the scene: read the rig, retarget in core, key a new action.

The maths is core's (:mod:`..core.mocap.onto_rig`); here the rig's rest pose is read
(:func:`.target_rig.target_rig_from_armature`) and the pose-bone channels are keyed with the one
fast writer of :func:`.bake.bake_channels`. Pose-bone quaternions and locations are bone-local, so
they need no change of frame.

A generated Rigify rig moves through its controls (constraints drive its ORG and DEF bones): the
motion is retargeted onto its ORG bones (the ``rigify_org`` map), their world rotations and the
pelvis path are worked out by the rig's forward kinematics, and :mod:`.rigify_controls` turns them
into the FK controls' channels (the rig set to FK once; the root bone stays at rest).
"""

from __future__ import annotations

import numpy as np

from ..core.feet.stage import FeetOptions
from ..core.kinematics.motion import Motion
from ..core.mocap.onto_rig import RigMotion, retarget_to_rig, rig_forward_kinematics
from ..core.mocap.target_rig import RigMap
from .bake import bake_channels, keys_for
from .coords import CORE_TO_BLENDER
from .rigify_controls import ORG_BONES, apply_rigify_settings, is_rigify_rig, rigify_control_channels
from .target_rig import object_rest_transform, target_rig_from_armature

RIGIFY_MAP = "rigify_org"


def retarget_onto_armature(obj, motion: Motion, rig_map: RigMap | str | None = None,
                           feet: FeetOptions | None = None, root_motion: str = "auto",
                           hands: bool = False) -> RigMotion:
    """``motion``'s channels for the character armature ``obj`` (bone map detected when None; a
    generated Rigify rig's ORG bones by default). Raises ValueError (``RigMapError``) in one
    sentence when the rig cannot take it."""
    if rig_map is None and is_rigify_rig(obj):
        rig_map = RIGIFY_MAP
    return retarget_to_rig(motion, target_rig_from_armature(obj, rig_map), feet, root_motion, hands)


def _rig_channels(obj, rig_motion: RigMotion) -> list:
    """Quaternions as they are (bone-local); locations back into the armature's own units."""
    _, scale = object_rest_transform(obj)
    channels = [(f'pose.bones["{name}"].rotation_quaternion', name, lambda k=k: rig_motion.rotations[:, k])
                for k, name in enumerate(rig_motion.bones)]
    channels += [(f'pose.bones["{name}"].location', name, lambda v=values: v / scale)
                 for name, values in rig_motion.locations.items()]
    return channels


def _rigify_channels(obj, rig_motion: RigMotion) -> list:
    """The Rigify controls' channels reproducing ``rig_motion``'s ORG bones (settings applied)."""
    world, heads = rig_forward_kinematics(rig_motion)
    turn, scale = object_rest_transform(obj)
    to_armature = turn.T @ CORE_TO_BLENDER        # the core rig is the armature as it stands in the world
    # The fingers' ORG bones have no FK control here: they keep their rest pose.
    org_world = {name: to_armature @ world[:, k] for k, name in enumerate(rig_motion.bones) if name in ORG_BONES}
    pelvis_bone = rig_motion.bones.index(rig_motion.rig.bone_names[rig_motion.rig.chains["pelvis"][0]])
    pelvis = heads[:, pelvis_bone] @ to_armature.T / scale
    settings, controls = rigify_control_channels(obj, org_world, pelvis)
    apply_rigify_settings(obj, settings, controls)
    return [(f'pose.bones["{control}"].{path}', control, lambda v=values: np.asarray(v))
            for control, paths in controls.items() for path, values in paths.items()]


def bake_rig_motion(obj, rig_motion: RigMotion, action_name: str, frame_start: int = 1, match_scene: bool = True,
                    scene=None, progress=None, keys: str = "keyframes"):
    """Key ``rig_motion`` into a new action on ``obj`` (its previous action kept with a fake user;
    a Rigify rig through its controls); the options as for :func:`.bake.bake_motion`. Returns the action."""
    channels = _rigify_channels(obj, rig_motion) if is_rigify_rig(obj) else _rig_channels(obj, rig_motion)
    return bake_channels(obj, channels, rig_motion.num_frames, rig_motion.fps, action_name, frame_start,
                         match_scene, scene, progress, keys)


def bake_onto_character(obj, motion: Motion, action_name: str, rig_map: RigMap | str | None = None,
                        feet: FeetOptions | None = None, root_motion: str = "auto", frame_start: int = 1,
                        match_scene: bool = True, scene=None, progress=None, hands: bool = False,
                        keys: str | None = None) -> tuple:
    """Retarget ``motion`` onto the character armature ``obj`` and key it into a new action:
    (action, RigMotion). The rig is read (and refused, in one sentence) before anything changes.
    ``keys``: as for :func:`.bake.bake_motion`; None: sampled curves for a long take (``keys_for``)."""
    rig_motion = retarget_onto_armature(obj, motion, rig_map, feet, root_motion, hands)
    action = bake_rig_motion(obj, rig_motion, action_name, frame_start, match_scene, scene, progress,
                             keys or keys_for(rig_motion.num_frames))
    return action, rig_motion
