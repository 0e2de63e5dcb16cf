"""Tracker recordings (VR headsets, controllers, pucks) as animated empties, and back; and animated
empties the user made read as trackers.

A tracker set is a parent Empty (custom properties ``sparse_mocap_trackers = True``, ``fps``,
``source``, ``convention``, ``units``, ``format``, ``time_start``, ``frame_start``,
``frame_count``, ``trackers``, ``valid_fraction`` and ``metadata``, a JSON string of the reader's
small facts; Calibrate adds ``calibration``, a JSON string) with one child Empty (ARROWS) per
tracker, named after the tracker's body site (Blender adds ``.001`` when the name is taken; the true
name is the child's ``tracker`` property and its order ``tracker_index``).

Per child, LINEAR keys written the fast way (``keyframe_points.add`` + ``foreach_set``), frame ``i``
of the recording on scene frame ``frame_start + i``:

- ``location``: the device's position, on the frames where the sample is valid (a lost sample has
  no key);
- ``rotation_quaternion`` (w, x, y, z): the device's orientation, on the same frames;
- ``["valid"]``: 1 or 0 on every frame (CONSTANT keys), so lost samples show in the graph.

The recording is in the core frame; the set shows it in Blender's axes through :mod:`.coords`:
``p_blender = C p_core`` and ``R_blender = C R_core C^T`` (a quaternion keeps ``w`` and turns its
axis by ``C``), the same change of axes as the ``blender`` tracker file convention. So the empties
stand where the solved armature will stand, and an unrotated empty is a device in the core frame's
rest orientation. :func:`read_tracker_empties` gives the recording back from the keys, exactly (to
the float32 precision of F-curve keys), named after the set (its messages name the set; the file
it came from is ``metadata["file"]``); moving or turning the parent does not change the recording it
holds.

Empties the user made (a VR capture often arrives as animated empties: one per device, named
"HMD", "LeftHand", "Controller (left)", "left_foot_tracker", ...) are read by
:func:`recording_from_empties`: each name is matched to a body site with the tracker readers' alias
table, and the empties' world matrices are sampled on every frame of the scene's range, their
orientation taken as the device's.
"""

from __future__ import annotations

import re

import bpy
import numpy as np

from ..core.trackers.formats import tracker_name
from ..core.trackers.formats.checks import problem
from ..core.trackers.formats.common import ALIAS_EXAMPLES
from ..core.kinematics.rotations import matrix_to_quat, quat_continuous, quat_normalize
from ..core.trackers.recording import TRACKER_JOINTS, TrackerError, TrackerRecording
from .coords import blender_to_core_vectors, core_to_blender_vectors
from .empty_sets import VALID, Channel, SetKind, create_recording_set, read_recording_set, scene_frame
from .object_motion import custom_property, sample_by_stepping, world_matrices

TRACKER_SET = SetKind(marker="sparse_mocap_trackers", member_key="tracker", index_key="tracker_index",
                      noun="tracker set", member="tracker", made_by="Import Trackers", error=TrackerError,
                      suffix="_trackers", names_key="trackers")
MARKER = TRACKER_SET.marker
TRACKER_KEY = TRACKER_SET.member_key
INDEX_KEY = TRACKER_SET.index_key

_SUFFIX = re.compile(r"\.\d{3,}$")           # Blender's ".001" on a taken name
_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])


# --- the change of axes ----------------------------------------------------------------------------

def quats_to_blender(q: np.ndarray) -> np.ndarray:
    """Core device orientations (..., 4) wxyz -> Blender's: ``C R C^T`` is the same turn about ``C u``."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., :1], core_to_blender_vectors(q[..., 1:])], axis=-1)


def quats_to_core(q: np.ndarray) -> np.ndarray:
    """Blender orientations (..., 4) wxyz -> the core frame's (inverse of :func:`quats_to_blender`)."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., :1], blender_to_core_vectors(q[..., 1:])], axis=-1)


# --- finding tracker sets --------------------------------------------------------------------------

is_tracker_set = TRACKER_SET.is_set                    # a parent Empty made by create_tracker_empties
find_tracker_parent = TRACKER_SET.find_parent          # the tracker set an object belongs to: itself or its parent
active_tracker_parent = TRACKER_SET.active_parent      # of the active object, else the one among the selected
stored_calibration = TRACKER_SET.stored_calibration
tracker_children = TRACKER_SET.children                # the set's tracker empties in recording order


def site_of(obj) -> str | None:
    """The tracker site an empty stands for: its ``tracker`` property (a set's child), else its name
    without Blender's ``.001`` suffix read with the tracker files' aliases ("HMD" -> head,
    "Controller (left)" -> left_hand), else None."""
    if obj is None:
        return None
    own = obj.get(TRACKER_KEY)
    if isinstance(own, str) and own in TRACKER_JOINTS:
        return own
    return tracker_name(_SUFFIX.sub("", obj.name))


# --- writing ---------------------------------------------------------------------------------------

def create_tracker_empties(recording: TrackerRecording, name: str, collection=None, *,
                           frame_start: int | None = None, context=None, progress=None):
    """A parent Empty named ``name`` with one animated child Empty per tracker; returns the parent.

    ``frame_start`` defaults to the scene's start frame. New objects and new actions only: nothing
    that exists is changed.
    """
    context = context or bpy.context
    scene = context.scene
    valid = np.asarray(recording.valid, dtype=bool)
    positions = core_to_blender_vectors(np.where(valid[..., None], recording.positions, 0.0))     # (T, K, 3)
    quats = quats_to_blender(quat_normalize(np.where(valid[..., None], recording.orientations, _IDENTITY)))
    channels = [Channel("location", "Position", positions, shown=True),
                Channel("rotation_quaternion", "Orientation", quats, shown=True)]
    return create_recording_set(
        TRACKER_SET, name, collection or context.collection or scene.collection, names=recording.names,
        valid=valid, channels=channels, fps=recording.fps, source=recording.source, metadata=recording.metadata,
        facts={key: str(recording.metadata.get(key, "")) for key in ("convention", "units", "format")},
        frame_start=scene_frame(scene, frame_start), child_size=0.1,
        valid_description="1 where the tracker has a sample", progress=progress)


# --- reading a set ---------------------------------------------------------------------------------

def read_tracker_empties(parent) -> TrackerRecording:
    """The recording held by ``parent`` (made by :func:`create_tracker_empties`), in the core frame.

    Vectorised reads of the keys (``foreach_get``); a sample is valid where its ``valid`` key is 1
    and its position and orientation are keyed. Raises :class:`TrackerError` with one sentence when
    ``parent`` is no tracker set or has lost its trackers.
    """
    held = read_recording_set(TRACKER_SET, parent, (("location", 3), ("rotation_quaternion", 4)))
    valid = held.valid
    positions = np.where(valid[..., None], blender_to_core_vectors(np.nan_to_num(held.values["location"])), np.nan)
    quats = np.where(valid[..., None], held.values["rotation_quaternion"], _IDENTITY)
    quats = np.where(valid[..., None], quat_normalize(quats_to_core(quats)), np.nan)
    metadata = held.metadata
    metadata.update({"tracker_set": parent.name, "file": str(parent.get("source", ""))})
    for key in ("convention", "units", "format"):
        if parent.get(key):
            metadata[key] = parent[key]
    return TrackerRecording(held.names, positions, quats, held.fps, valid, source=parent.name, metadata=metadata)


# --- animated empties as trackers ------------------------------------------------------------------

def tracker_empties(objects) -> list[tuple[str, object]]:
    """(site, empty) for the empties among ``objects`` (tracker-set parents left out), in
    ``TRACKER_JOINTS`` order. Raises :class:`TrackerError` with one sentence when an empty's name
    names no tracker site, when two empties mark the same site, or when there is no empty."""
    empties = [o for o in objects if o is not None and o.type == "EMPTY" and not is_tracker_set(o)]
    if not empties:
        raise TrackerError("No empties to read as trackers: select the animated empties of the capture (named "
                           "after body sites, e.g. Head, LeftHand, RightHand) or a tracker set.")
    unknown = sorted(o.name for o in empties if site_of(o) is None)
    if unknown:
        raise TrackerError(f"The empties {', '.join(map(repr, unknown))} name no tracker site; rename them after "
                           f"body sites ({', '.join(TRACKER_JOINTS)}; {ALIAS_EXAMPLES}) or leave them unselected.")
    seen: dict = {}
    for obj in sorted(empties, key=lambda o: o.name):
        site = site_of(obj)
        if site in seen:
            raise TrackerError(f"The empties '{seen[site].name}' and '{obj.name}' both mark the {site} tracker; "
                               "select only one of them.")
        seen[site] = obj
    return [(site, seen[site]) for site in TRACKER_JOINTS if site in seen]


def _is_animated(obj) -> bool:
    """``obj`` or an ancestor has animation data or constraints (something that can move it)."""
    while obj is not None:
        anim = obj.animation_data
        if (anim is not None and (anim.action is not None or len(anim.drivers) or len(anim.nla_tracks))) \
                or len(obj.constraints):
            return True
        obj = obj.parent
    return False


def _rotations_of(matrices: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) of world 3x3 matrices that may carry scale or shear (nearest rotation)."""
    u, _, vt = np.linalg.svd(matrices)
    r = u @ vt
    flip = np.linalg.det(r) < 0                      # a mirrored empty: keep a proper rotation
    if flip.any():
        u = u.copy()
        u[flip, :, -1] *= -1
        r = u @ vt
    return matrix_to_quat(r)


def _sampled_from_curves(objects, frames: np.ndarray, scene):
    """(world matrices (F, K, 4, 4), ``valid`` flags (F, K)) of the empties at ``frames`` read from
    their F-curves (:mod:`.object_motion`), or None when something else moves them."""
    worlds = world_matrices(objects, frames, scene)
    if worlds is None:
        return None
    flags = np.ones(worlds.shape[:2])
    for k, obj in enumerate(objects):
        if VALID in obj:
            values = custom_property(obj, VALID, frames)
            if values is None:
                return None
            flags[:, k] = values
    return worlds, flags


def _sampled_by_stepping(objects, first: int, count: int, scene, tick):
    """What :func:`_sampled_from_curves` gives, for empties that constraints, drivers or the like
    move: the scene stepped through the frames (:func:`.object_motion.sample_by_stepping`)."""
    has_flag = [VALID in obj for obj in objects]

    def read(objs):
        return ([np.array(obj.matrix_world) for obj in objs],
                [float(obj[VALID]) if flag else 1.0 for obj, flag in zip(objs, has_flag)])

    samples = sample_by_stepping(objects, first + np.arange(count), scene, read, tick)
    return np.array([worlds for worlds, _ in samples]), np.array([flags for _, flags in samples])


def recording_from_empties(objects, context=None, frame_range=None, progress=None) -> TrackerRecording:
    """A :class:`TrackerRecording` (core frame) from animated empties named after tracker sites.

    Every empty among ``objects`` must name a site (see :func:`tracker_empties`). Their world
    matrices are sampled on each frame of ``frame_range`` (first, last; default the scene's range),
    at the scene's frame rate: position = the world translation, orientation = the world rotation
    (scale removed), both turned into the core frame by :mod:`.coords`. An empty with a ``valid``
    property (as a set's children have) is lost on the frames where it is below 0.5. Empties (and
    parents) that only their F-curves move are read from the curves; others by stepping the scene
    through the frames, its current frame put back afterwards. Raises :class:`TrackerError` with one sentence when the
    empties are not animated or do not look like a person (a head below the feet, a 170 m body).
    """
    context = context or bpy.context
    scene = context.scene
    tick = progress or (lambda fraction: None)
    named = tracker_empties(objects)
    if not any(_is_animated(obj) for _, obj in named):
        raise TrackerError(f"The empties {', '.join(repr(o.name) for _, o in named)} are not animated, so there is "
                           "no motion to read.")
    first, last = (scene.frame_start, scene.frame_end) if frame_range is None else (int(f) for f in frame_range)
    count = int(last) - int(first) + 1
    if count < 2:
        raise TrackerError(f"The frame range {first}-{last} has {max(count, 0)} frame(s); at least two are needed.")
    objects = [obj for _, obj in named]
    sampled = _sampled_from_curves(objects, int(first) + np.arange(count), scene)
    worlds, flags = sampled if sampled is not None else _sampled_by_stepping(objects, int(first), count, scene, tick)
    tick(1.0)
    valid = flags > 0.5
    positions = np.where(valid[..., None], blender_to_core_vectors(worlds[..., :3, 3]), np.nan)
    quats = quat_continuous(quats_to_core(_rotations_of(worlds[..., :3, :3])), axis=0)
    quats = np.where(valid[..., None], quats, np.nan)
    names = tuple(site for site, _ in named)
    why = problem(names, positions, valid)
    if why is not None:
        raise TrackerError(f"The empties {', '.join(repr(o.name) for _, o in named)} do not look like a person's "
                           f"trackers in metres with Z up: {why}.")
    fps = scene.render.fps / scene.render.fps_base
    parents = {obj.parent.name if obj.parent else None for _, obj in named}
    source = parents.pop() if len(parents) == 1 and None not in parents else "empties"
    return TrackerRecording(names, positions, quats, fps, valid, source=source or "empties",
                            metadata={"convention": "blender", "units": "m", "format": "empties",
                                      "frame_start": int(first), "times": np.arange(count) / fps,
                                      "empties": {site: obj.name for site, obj in named}})
