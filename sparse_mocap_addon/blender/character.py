"""A Motion onto the user's character rig in the scene: read the rig, retarget in core, key a new action.

The maths is core's (:mod:`..core.mocap.onto_rig`); here the rig's rest pose is read
(:func:`.target_rig.target_rig_from_armature`) and the pose-bone channels are keyed with the one
fast writer of :func:`.bake.bake_channels`. Pose-bone quaternions and locations are bone-local, so
they need no change of frame.
"""

from __future__ import annotations

from ..core.feet.stage import FeetOptions
from ..core.kinematics.motion import Motion
from ..core.mocap.onto_rig import RigMotion, retarget_to_rig
from ..core.mocap.target_rig import RigMap
from .bake import bake_channels
from .target_rig import target_rig_from_armature


def retarget_onto_armature(obj, motion: Motion, rig_map: RigMap | str | None = None,
                           feet: FeetOptions | None = None, root_motion: str = "auto") -> RigMotion:
    """``motion``'s channels for the character armature ``obj`` (bone map detected when None).
    Raises ValueError (``RigMapError``) in one sentence when the rig cannot take it."""
    return retarget_to_rig(motion, target_rig_from_armature(obj, rig_map), feet, root_motion)


def bake_rig_motion(obj, rig_motion: RigMotion, action_name: str, frame_start: int = 1, match_scene: bool = True,
                    scene=None, progress=None, keys: str = "keyframes"):
    """Key ``rig_motion`` into a new action on ``obj`` (its previous action kept with a fake user);
    the options as for :func:`.bake.bake_motion`. Returns the action."""
    channels = [(f'pose.bones["{name}"].rotation_quaternion', name, lambda k=k: rig_motion.rotations[:, k])
                for k, name in enumerate(rig_motion.bones)]
    channels += [(f'pose.bones["{name}"].location', name, lambda v=values: v)
                 for name, values in rig_motion.locations.items()]
    return bake_channels(obj, channels, rig_motion.num_frames, rig_motion.fps, action_name, frame_start,
                         match_scene, scene, progress, keys)


def bake_onto_character(obj, motion: Motion, action_name: str, rig_map: RigMap | str | None = None,
                        feet: FeetOptions | None = None, root_motion: str = "auto", frame_start: int = 1,
                        match_scene: bool = True, scene=None, progress=None) -> tuple:
    """Retarget ``motion`` onto the character armature ``obj`` and key it into a new action:
    (action, RigMotion). The rig is read (and refused, in one sentence) before anything changes."""
    rig_motion = retarget_onto_armature(obj, motion, rig_map, feet, root_motion)
    action = bake_rig_motion(obj, rig_motion, action_name, frame_start, match_scene, scene, progress)
    return action, rig_motion
