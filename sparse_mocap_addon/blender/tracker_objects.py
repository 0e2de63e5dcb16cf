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

import json
import re

import bpy
import numpy as np

from ..core.formats.trackers import tracker_name
from ..core.formats.trackers.checks import problem
from ..core.formats.trackers.common import ALIAS_EXAMPLES
from ..core.rotations import matrix_to_quat, quat_continuous, quat_normalize
from ..core.trackers import TRACKER_JOINTS, TrackerError, TrackerRecording
from . import compat
from .coords import blender_to_core_vectors, core_to_blender_vectors
from .empty_sets import (VALID, active_set, add_valid_property, curves_by_path, find_parent, first_time,
                         keyed_values, new_set_child, new_set_parent, ordered_children, read_valid, set_members,
                         small_metadata, stored_dict, stored_metadata, write_keys, write_valid_keys)
from .object_motion import custom_property, world_matrices

MARKER = "sparse_mocap_trackers"
TRACKER_KEY = "tracker"
INDEX_KEY = "tracker_index"
CALIBRATION = "calibration"

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

def is_tracker_set(obj) -> bool:
    """``obj`` is a parent Empty made by :func:`create_tracker_empties`."""
    return obj is not None and bool(obj.get(MARKER, False))


def find_tracker_parent(obj):
    """The tracker set ``obj`` belongs to: ``obj`` itself or its parent."""
    return find_parent(obj, is_tracker_set)


def active_tracker_parent(context):
    """The tracker set of the active object, else the one tracker set among the selected objects."""
    return active_set(context, find_tracker_parent)


def stored_calibration(parent) -> dict | None:
    """The dict Calibrate stored on the set, or None."""
    return stored_dict(parent, CALIBRATION, TrackerError)


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
    collection = collection or context.collection or scene.collection
    tick = progress or (lambda fraction: None)
    frame_start = int(scene.frame_start if frame_start is None else frame_start)
    T, K = recording.num_frames, len(recording.names)
    valid = np.asarray(recording.valid, dtype=bool)
    positions = core_to_blender_vectors(np.where(valid[..., None], recording.positions, 0.0))     # (T, K, 3)
    quats = quats_to_blender(quat_normalize(np.where(valid[..., None], recording.orientations, _IDENTITY)))
    frames = frame_start + np.arange(T, dtype=np.float64)
    time_start = first_time(recording.metadata, T)

    parent = new_set_parent(name, collection, MARKER)
    parent["fps"] = float(recording.fps)
    parent["source"] = str(recording.source)
    for key in ("convention", "units", "format"):
        parent[key] = str(recording.metadata.get(key, ""))
    parent["time_start"] = time_start
    parent["frame_start"] = frame_start
    parent["frame_count"] = T
    parent["trackers"] = list(recording.names)
    parent["valid_fraction"] = float(valid.mean()) if valid.size else 0.0
    parent["metadata"] = json.dumps(small_metadata(recording.metadata), sort_keys=True)

    action = bpy.data.actions.new(name) if compat.has_slotted_actions() else None
    for k, tracker in enumerate(recording.names):
        child = new_set_child(tracker, parent, collection, 0.1)
        child.rotation_mode = "QUATERNION"
        child[TRACKER_KEY] = tracker
        child[INDEX_KEY] = k
        add_valid_property(child, "1 where the tracker has a sample")
        keyed = np.flatnonzero(valid[:, k])
        q = quat_continuous(quats[keyed, k], axis=0) if len(keyed) else quats[:0, k]
        if len(keyed):
            child.location = positions[keyed[0], k]
            child.rotation_quaternion = q[0]
        fcurves = compat.assign_new_action(child, action or bpy.data.actions.new(f"{name}_{tracker}"))
        for i in range(3):
            write_keys(compat.new_fcurve(fcurves, "location", i, "Position"), frames[keyed], positions[keyed, k, i])
        for i in range(4):
            write_keys(compat.new_fcurve(fcurves, "rotation_quaternion", i, "Orientation"), frames[keyed], q[:, i])
        write_valid_keys(fcurves, frames, valid[:, k])
        tick((k + 1) / K)
    return parent


# --- reading a set ---------------------------------------------------------------------------------

def tracker_children(parent) -> list:
    """The set's tracker empties in recording order."""
    return ordered_children(parent, TRACKER_KEY, INDEX_KEY)


def read_tracker_empties(parent) -> TrackerRecording:
    """The recording held by ``parent`` (made by :func:`create_tracker_empties`), in the core frame.

    Vectorised reads of the keys (``foreach_get``); a sample is valid where its ``valid`` key is 1
    and its position and orientation are keyed. Raises :class:`TrackerError` with one sentence when
    ``parent`` is no tracker set or has lost its trackers.
    """
    if not is_tracker_set(parent):
        raise TrackerError(f"'{getattr(parent, 'name', parent)}' is no tracker set: expected the empties made by "
                           "Import Trackers.")
    children = tracker_children(parent)
    names, start, count = set_members(parent, children, TRACKER_KEY, TrackerError, "tracker set", "tracker")
    positions = np.full((count, len(children), 3), np.nan)
    quats = np.full((count, len(children), 4), np.nan)
    valid = np.zeros((count, len(children)), dtype=bool)
    for k, child in enumerate(children):
        curves = curves_by_path(child)
        for i in range(3):
            positions[:, k, i] = keyed_values(curves.get(("location", i)), start, count)
        for i in range(4):
            quats[:, k, i] = keyed_values(curves.get(("rotation_quaternion", i)), start, count)
        valid[:, k] = read_valid(curves, start, count)
    valid &= np.isfinite(positions).all(axis=-1) & np.isfinite(quats).all(axis=-1)
    positions = np.where(valid[..., None], blender_to_core_vectors(np.nan_to_num(positions)), np.nan)
    quats = np.where(valid[..., None], quat_normalize(quats_to_core(np.where(valid[..., None], quats, _IDENTITY))),
                     np.nan)
    metadata, fps = stored_metadata(parent, count)
    metadata.update({"tracker_set": parent.name, "file": str(parent.get("source", ""))})
    for key in ("convention", "units", "format"):
        if parent.get(key):
            metadata[key] = parent[key]
    return TrackerRecording(tuple(names), positions, quats, fps, valid, source=parent.name, metadata=metadata)


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
    move: the scene stepped through the frames (slow in a scene with characters), its current frame
    put back afterwards."""
    worlds = np.empty((count, len(objects), 4, 4))
    flags = np.ones((count, len(objects)))
    has_flag = [VALID in obj for obj in objects]
    current = scene.frame_current, scene.frame_current_final - scene.frame_current
    try:
        for f in range(count):
            scene.frame_set(first + f)
            worlds[f] = [np.array(obj.matrix_world) for obj in objects]
            for k, obj in enumerate(objects):
                if has_flag[k]:
                    flags[f, k] = float(obj[VALID])
            if f % 64 == 0:
                tick(f / count)
    finally:
        scene.frame_set(current[0], subframe=current[1])
    return worlds, flags


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
