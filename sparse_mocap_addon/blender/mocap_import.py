"""Import a mocap take (BVH, ASF/AMC, CMU exp-map, FBX) onto an SMPL armature as a new Action.

The steps, each a core or blender function: read the file into a
:class:`~..core.source.SourceMotion`, pick the joint map, choose the target skeleton (an existing
SMPL armature, the performer's own proportions measured from the file's rig, or given body
measurements), retarget, resample only when asked (by default every frame of the file becomes a key), the feet stage (contact feet planted on the floor:
:func:`~..core.feet_stage.feet_on_floor`), create the armature when there is none yet, and bake.

Everything that can fail on the file (reading, joint map, reference pose, measurements) runs
before anything is created. If a later step still fails, the datablocks this import created are
removed and the target armature gets its previous action back: an import either happens whole or
leaves the file as it was.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import bpy
import numpy as np

from ..core.body.measurements import BodyMeasurements, skeleton_from_measurements
from ..core.feet.stage import FeetOptions, feet_on_floor
from ..core.mocap.formats.mocap import read_mocap
from ..core.mocap.joint_maps import JointMap, detect_joint_map
from ..core.kinematics.motion import Motion
from ..core.kinematics.resample import resample_motion
from ..core.mocap.retarget import retarget
from ..core.mocap.rig_body import measure_take, performer_body
from ..core.mocap.source import SourceMotion
from .armature import create_armature, skeleton_from_armature
from .bake import bake_motion, fit_to_armature

# What the import dialog lists (FBX comes in through Blender, the rest through core readers).
FILE_PATTERNS = "*.bvh;*.bvh.gz;*.amc;*.amc.gz;*.fbx;*.txt;*.txt.gz"

# Datablock collections an import can add to; anything new there is removed when it fails.
_CREATED_KINDS = ("objects", "armatures", "meshes", "actions")

# Share of the progress bar per step.
_READ, _RETARGET = 0.3, 0.5


def take_name(path) -> str:
    """The file name without its format suffix(es): ``62_18.bvh.gz`` -> ``62_18``."""
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem or name


def is_fbx(path) -> bool:
    return Path(path).name.lower().endswith(".fbx")


def load_source(path, asf_path=None, fps: float | None = None, context=None) -> SourceMotion:
    """Read any supported take: ``.fbx`` through Blender's importer, the rest with the core readers.

    ``asf_path`` is the skeleton of an AMC take (found beside it when ``None``); ``fps`` the frame
    rate of the formats that do not store one (AMC, CMU exp-map). Raises ``SourceFormatError`` (or
    ``OSError`` for a missing/unreadable file) with a one-sentence message.
    """
    if is_fbx(path):
        from .fbx_source import read_fbx_source
        return read_fbx_source(path, context)
    return read_mocap(path, asf_path or None, fps)


@dataclass
class MocapImport:
    """What :func:`import_mocap` did."""

    armature: bpy.types.Object
    action: bpy.types.Action
    motion: Motion                 # the baked SMPL motion (after resampling)
    source: SourceMotion
    joint_map: JointMap
    reference: str                 # the reference pose the rigs were aligned in ("zero pose", "frame 12")
    created_armature: bool
    measurements: BodyMeasurements | None = None   # of a new armature
    feet: dict | None = None       # what the feet stage changed (``feet_stage.feet_summary``)


def import_mocap(path, *, armature=None, measurements: BodyMeasurements | None = None, asf_path=None,
                 source_fps: float | None = None, joint_map: JointMap | None = None, rest_reference="auto",
                 fps: float | None = None, match_scene: bool = True, frame_start: int = 1, with_body: bool = True,
                 name: str | None = None, feet: FeetOptions | None = None, context=None,
                 progress=None) -> MocapImport:
    """Retarget the take at ``path`` onto an SMPL armature and bake it into a new Action.

    Target: ``armature`` (an existing SMPL armature) when given; else a new armature built from
    ``measurements``; else a new armature with the performer's proportions measured from the rig
    (:func:`~..core.rig_body.skeleton_from_rig`). New armatures are named ``name`` (default: the
    take's name), carry ``with_body`` a skinned body and store their measurements on the object.

    ``joint_map`` defaults to the built-in map that fits the rig; ``rest_reference`` is "auto",
    "zero" or a frame index (see :func:`~..core.retarget.retarget`). ``fps`` resamples the motion to
    that rate (``None``: every frame of the file becomes a key). With ``match_scene`` the scene's
    rate and range are set to the baked motion's; without, the scene keeps its rate and the keys
    are spaced to keep the take's real timing (:func:`.bake.bake_motion`). The action is named
    after the take (:func:`take_name`: the file name without its suffixes, never a path).
    ``feet``: the feet stage's options (default: on, the floor found under the soles;
    ``FeetOptions(enabled=False)`` bakes the raw retarget). ``progress(fraction)`` is called along
    the way. Raises the readers' and the core's errors
    (``SourceFormatError``, ``JointMapError``, ``RetargetError``, ``MeasurementError``, ``OSError``)
    before anything is created.
    """
    return import_mocap_takes([path], armature=armature, measurements=measurements, asf_path=asf_path,
                              source_fps=source_fps, joint_map=joint_map, rest_reference=rest_reference, fps=fps,
                              match_scene=match_scene, frame_start=frame_start, with_body=with_body, name=name, feet=feet, context=context,
                              progress=progress)[0]


def import_mocap_takes(paths, *, armature=None, measurements: BodyMeasurements | None = None, asf_path=None,
                       source_fps: float | None = None, joint_map: JointMap | None = None, rest_reference="auto",
                       fps: float | None = None, match_scene: bool = True, frame_start: int = 1,
                       with_body: bool = True, name: str | None = None, feet: FeetOptions | None = None, context=None,
                       progress=None) -> list[MocapImport]:
    """Several takes of one performer onto one SMPL armature, one new Action per take (named after
    the take), as :func:`import_mocap` does for one.

    Every file is read before anything is created, and a failure on any take leaves the file as it
    was. One skeleton serves every take: the armature's, the ``measurements``', or, for a new
    armature with the performer's body, the one measured from all the takes together
    (:func:`~..core.rig_body.performer_body`: medians over the takes), so the takes of one performer
    never disagree about their body. A new armature is named ``name`` (default: the first take's).
    """
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no mocap file to import")
    tick(0.0)
    takes = []
    for k, path in enumerate(paths):
        source = load_source(path, asf_path, source_fps, context)
        takes.append((path, source, joint_map or detect_joint_map(source.skeleton.names, path.name)))
        tick(_READ * (k + 1) / len(paths))
    if armature is not None:
        skeleton = skeleton_from_armature(armature)
    elif measurements is not None:
        skeleton = skeleton_from_measurements(measurements)
    else:
        skeleton, report = performer_body([measure_take(source, take_map, rest_reference=rest_reference)
                                           for _, source, take_map in takes])
        measurements = BodyMeasurements(**report["measurements"])
    motions = []
    for path, source, take_map in takes:
        motion = retarget(source, skeleton, take_map, rest_reference=rest_reference)
        if fps is not None:
            motion = resample_motion(motion, fps)
        motions.append(feet_on_floor(motion, options=feet))
    tick(_RETARGET)

    results = []
    share = (1.0 - _RETARGET) / len(takes)
    with removed_on_failure(armature):
        target, created_any = armature, False
        for k, ((path, source, take_map), (motion, feet_report)) in enumerate(zip(takes, motions)):
            target, action, created = bake_onto_armature(
                motion, target, name=name or take_name(paths[0]), action_name=take_name(path), skeleton=skeleton,
                measurements=measurements, frame_start=frame_start, match_scene=match_scene, with_body=with_body,
                context=context, progress=lambda f, k=k: tick(_RETARGET + share * (k + f)))
            created_any |= created
            results.append(MocapImport(target, action, motion, source, take_map,
                                       motion.metadata["retarget"]["reference"], created_any,
                                       measurements if created_any else None, feet_report))
    return results


def animated_objects(scene, ignore=None) -> list[str]:
    """Names of the objects in ``scene`` (``ignore`` left out) that play an action or NLA strips: the
    animation a change of the scene's frame rate would retime."""
    names = []
    for obj in scene.objects:
        anim = obj.animation_data
        if obj != ignore and anim is not None and (anim.action is not None or len(anim.nla_tracks)):
            names.append(obj.name)
    return names


def store_measurements(obj, measurements: BodyMeasurements | None) -> None:
    """Keep the measurements on the armature object (0 = "from the table", as the UI shows it).

    Does nothing when the add-on's properties are not registered (plain library use)."""
    subject = getattr(obj, "sparse_mocap_subject", None)
    if subject is None or measurements is None:
        return
    values = {key: (0.0 if value is None else value) for key, value in measurements.as_dict().items()}
    subject.set_from(SimpleNamespace(**values))


def bake_onto_armature(motion: Motion, armature=None, *, name: str, action_name: str | None = None,
                       skeleton=None, measurements: BodyMeasurements | None = None, frame_start: int = 1,
                       match_scene: bool = True, with_body: bool = True, context=None, progress=None):
    """Bake ``motion`` into a new action (named ``action_name``, default ``name``) on ``armature``,
    or on a new armature named ``name`` built from ``skeleton`` (default: the motion's), with
    ``with_body`` a skinned body and ``measurements`` stored on it. Returns (armature, action,
    created). If anything fails, what this created is removed and ``armature`` gets its previous
    action back (:func:`removed_on_failure`)."""
    context = context or bpy.context
    created = armature is None
    with removed_on_failure(armature):
        if created:
            armature = create_armature(motion.skeleton if skeleton is None else skeleton, name=name,
                                       collection=context.collection, with_mesh=with_body, context=context)
            store_measurements(armature, measurements)
            # A body of its own (the user's SMPL model fitted to the skeleton) has other proportions:
            # the feet stage fits the motion to its legs first (a no-op on the motion's own body).
            motion, _ = fit_to_armature(armature, motion)
        action = bake_motion(armature, motion, action_name=action_name or name, frame_start=frame_start,
                             match_scene=match_scene, scene=context.scene, progress=progress)
    return armature, action, created


def require_poses(motion: Motion, label: str, error) -> None:
    """Raise ``error`` naming ``label`` when the motion has frames without a pose (NaN rotations or
    translation)."""
    bad = ~(np.isfinite(motion.rotations).all(axis=(1, 2)) & np.isfinite(motion.translation).all(axis=1))
    if bad.any():
        raise error(f"{label}: the reconstruction gave no pose on {int(bad.sum())} frame(s) "
                    f"(first: frame {int(np.flatnonzero(bad)[0])}).")


def _pointers() -> dict:
    return {kind: {idb.as_pointer() for idb in getattr(bpy.data, kind)} for kind in _CREATED_KINDS}


@contextlib.contextmanager
def removed_on_failure(target=None):
    """If the block raises: remove the objects, armatures, meshes and actions it created, and give
    ``target`` (an existing object) back the action, slot and fake-user flag it had."""
    before = _pointers()
    anim = target.animation_data if target is not None else None
    previous = anim.action if anim is not None else None
    slot = getattr(anim, "action_slot", None) if previous is not None else None
    fake_user = previous.use_fake_user if previous is not None else None
    try:
        yield
    except BaseException:
        new = [idb for kind in _CREATED_KINDS for idb in getattr(bpy.data, kind)
               if idb.as_pointer() not in before[kind]]
        if new:
            bpy.data.batch_remove(new)
        if previous is not None:
            with contextlib.suppress(ReferenceError, AttributeError, TypeError, RuntimeError):
                target.animation_data.action = previous
                if slot is not None:
                    target.animation_data.action_slot = slot
                previous.use_fake_user = fake_user
        raise
