"""Landmark sequences as animated empties, and back.

A landmark set is a parent Empty (custom properties ``sparse_mocap_landmarks = True``, ``layout``,
``fps``, ``source``, ``file_up_axis``, ``frame_start``, ``frame_count``) with one child Empty per
landmark, named after the landmark's canonical name (Blender adds ``.001`` when the name is taken;
the true name is the child's ``landmark`` property and its order ``landmark_index``). A child's
location (in the parent's space, Blender axes) and its custom property ``confidence`` are animated
with LINEAR keys written the fast way (``keyframe_points.add`` + ``foreach_set``), one key per frame
where the point exists: a missing point has no key on that frame. Frame ``i`` of the sequence is
scene frame ``frame_start + i``.

The empties hold the sequence in the core frame (after :func:`~..core.landmarks.orient`) turned into
Blender's axes by :mod:`.coords`, so they stand where the solved armature will stand.
:func:`read_landmark_empties` gives the sequence back exactly (to the float32 precision of F-curve
keys); it also reads empties the user made (a VR or mocap capture arriving as animated empties)
whose names :func:`~..core.landmarks.formats.canonical_name` recognises, sampling their world
positions on every frame of their animation (from their F-curves when nothing else moves them,
:mod:`.object_motion`; else by stepping the scene).
"""

from __future__ import annotations

import re

import bpy
import numpy as np

from ..core.landmarks.formats import canonical_name
from ..core.landmarks.sequence import LandmarkError, LandmarkSequence, orient
from . import compat
from .coords import blender_to_core_vectors, core_to_blender_vectors
from .empty_sets import SetKind, active_set, keyed_values, new_set_child, new_set_parent, scene_frame, write_keys
from .object_motion import sampled_world_matrices

LANDMARK_SET = SetKind(marker="sparse_mocap_landmarks", member_key="landmark", index_key="landmark_index",
                       noun="landmark set", member="landmark", made_by="Import Landmarks", error=LandmarkError,
                       suffix="_landmarks")
MARKER = LANDMARK_SET.marker
LANDMARK_KEY = LANDMARK_SET.member_key
INDEX_KEY = LANDMARK_SET.index_key
CONFIDENCE = "confidence"
CONFIDENCE_PATH = f'["{CONFIDENCE}"]'
# Recognised children a user-made empty needs before it counts as a landmark set.
MIN_RECOGNISED_CHILDREN = 4

_SUFFIX = re.compile(r"\.\d{3,}$")


# --- finding landmark sets -----------------------------------------------------------------------

is_landmark_set = LANDMARK_SET.is_set        # a parent Empty made by create_landmark_empties


def landmark_name(obj) -> str | None:
    """The canonical landmark an empty stands for: its ``landmark`` property, else its name
    (without Blender's ``.001`` suffix) when :func:`canonical_name` recognises it."""
    if obj is None or obj.type != "EMPTY":
        return None
    own = obj.get(LANDMARK_KEY)
    if isinstance(own, str) and own:
        return own
    return canonical_name(_SUFFIX.sub("", obj.name))


def _recognised_children(obj) -> list:
    """(name, child) of the children whose names are landmarks; first one (by name) per landmark."""
    found = {}
    for child in sorted(obj.children, key=lambda c: c.name):
        name = None if child.type != "EMPTY" else canonical_name(_SUFFIX.sub("", child.name))
        if name is not None and name not in found:
            found[name] = child
    return list(found.items())


def _is_user_set(obj) -> bool:
    return obj is not None and len(_recognised_children(obj)) >= MIN_RECOGNISED_CHILDREN


def find_landmark_parent(obj):
    """The landmark set ``obj`` belongs to: ``obj`` itself or its parent, ours or user-made."""
    if obj is None:
        return None
    for candidate in (obj, obj.parent):
        if is_landmark_set(candidate):
            return candidate
    for candidate in (obj, obj.parent):
        if _is_user_set(candidate):
            return candidate
    return None


def active_landmark_parent(context):
    """The landmark set of the active object, else the one landmark set among the selected objects."""
    return active_set(context, find_landmark_parent)


# --- writing -------------------------------------------------------------------------------------

def create_landmark_empties(seq: LandmarkSequence, name: str, collection=None, *, frame_start: int | None = None,
                            up_axis: str = "auto", threshold: float = 0.5, context=None, progress=None):
    """A parent Empty named ``name`` with one animated child Empty per landmark; returns the parent.

    A sequence not yet in the core frame (``seq.up_axis != "+Y"``) is oriented first with
    ``up_axis`` ("auto" finds it from the body, using points at or above ``threshold``).
    ``frame_start`` defaults to the scene's start frame. New objects and action(s) only: nothing
    that exists is changed. Raises :class:`LandmarkError` before creating anything when the up axis
    cannot be found.
    """
    context = context or bpy.context
    scene = context.scene
    collection = collection or context.collection or scene.collection
    tick = progress or (lambda fraction: None)
    file_up = seq.metadata.get("file_up_axis", "+Y")
    if seq.up_axis != "+Y":
        seq = orient(seq, up_axis, threshold)
        file_up = seq.metadata["file_up_axis"]
    frame_start = scene_frame(scene, frame_start)
    points = core_to_blender_vectors(seq.points)                          # (T, K, 3), NaN where missing
    exists = np.isfinite(points).all(axis=-1)
    frames = frame_start + np.arange(seq.num_frames, dtype=np.float64)

    parent = new_set_parent(name, collection, MARKER, size=0.25)
    parent["layout"] = seq.layout
    parent["fps"] = float(seq.fps)
    parent["source"] = str(seq.source)
    parent["file_up_axis"] = str(file_up)
    parent["frame_start"] = frame_start
    parent["frame_count"] = seq.num_frames

    shared = bpy.data.actions.new(name) if compat.has_slotted_actions() else None
    for k, landmark in enumerate(seq.names):
        child = new_set_child(landmark, parent, collection, 0.025, display="SPHERE")
        child[LANDMARK_KEY] = landmark
        child[INDEX_KEY] = k
        child[CONFIDENCE] = 1.0
        child.id_properties_ui(CONFIDENCE).update(min=0.0, max=1.0, soft_min=0.0, soft_max=1.0,
                                                  description="Confidence of the landmark in this frame")
        keyed = np.flatnonzero(exists[:, k])
        if len(keyed):
            child.location = points[keyed[0], k]
            action = shared or bpy.data.actions.new(f"{name}_{landmark}")
            fcurves = compat.assign_new_action(child, action)
            channels = [("location", i, "Location", points[keyed, k, i]) for i in range(3)]
            channels.append((CONFIDENCE_PATH, 0, "Confidence", seq.confidence[keyed, k]))
            for path, index, group, values in channels:
                write_keys(compat.new_fcurve(fcurves, path, index, group), frames[keyed], values)
        tick((k + 1) / len(seq.names))
    return parent


# --- reading -------------------------------------------------------------------------------------

def read_landmark_empties(parent, frame_range=None, context=None) -> LandmarkSequence:
    """The landmark sequence held by ``parent`` (points in the core frame, metres).

    Our own sets (:func:`create_landmark_empties`) are read from their keys: a point exists on the
    frames where it is keyed, with the keyed confidence. Other empties whose children have
    recognised landmark names are sampled: every frame of their animation (or ``frame_range``),
    the children's world positions, confidence 1. ``frame_range`` is (first, last) scene frames,
    inclusive. Raises :class:`LandmarkError` with one sentence when there is nothing to read.
    """
    if is_landmark_set(parent):
        return _read_own(parent, frame_range)
    if _is_user_set(parent):
        return _read_user(parent, frame_range, context or bpy.context)
    raise LandmarkError(f"'{parent.name}' is no landmark set: expected the empties made by Import Landmarks, "
                        f"or an empty with at least {MIN_RECOGNISED_CHILDREN} child empties named after "
                        "landmarks (left_hip, RKnee, ...).")


def _frames(parent, frame_range, default_start: int, default_count: int) -> tuple[int, int]:
    if frame_range is None:
        return default_start, default_count
    first, last = (int(round(f)) for f in frame_range)
    if last < first:
        raise LandmarkError(f"'{parent.name}': the frame range {first}-{last} is empty.")
    return first, last - first + 1


def _read_own(parent, frame_range) -> LandmarkSequence:
    children = LANDMARK_SET.children(parent)
    names = LANDMARK_SET.member_names(parent, children)
    start, count = _frames(parent, frame_range, int(parent.get("frame_start", 1)),
                           int(parent.get("frame_count", 0)))
    points = np.full((count, len(children), 3), np.nan)
    confidence = np.zeros((count, len(children)))
    for k, child in enumerate(children):
        curves = compat.action_fcurves(child)
        location = {c.array_index: c for c in curves if c.data_path == "location"}
        conf_curve = next((c for c in curves if c.data_path == CONFIDENCE_PATH), None)
        channels = [keyed_values(location.get(i), start, count) for i in range(3)]
        keyed = np.zeros(count, dtype=bool)
        for values in channels:
            keyed |= np.isfinite(values)
        for i, values in enumerate(channels):
            gap = keyed & ~np.isfinite(values)          # another channel keyed here: evaluate this one
            if gap.any():
                values[gap] = _evaluate(location.get(i), start, gap, child.location[i])
            points[:, k, i] = values
        conf = keyed_values(conf_curve, start, count)
        gap = keyed & ~np.isfinite(conf)
        if gap.any():
            conf[gap] = _evaluate(conf_curve, start, gap, float(child.get(CONFIDENCE, 1.0)))
        confidence[:, k] = np.where(keyed, conf, 0.0)
    points = _to_world(parent, points)
    fps = float(parent.get("fps", bpy.context.scene.render.fps / bpy.context.scene.render.fps_base))
    return LandmarkSequence(
        names=names, points=blender_to_core_vectors(points), confidence=confidence, fps=fps,
        layout=str(parent.get("layout", "named")), source=str(parent.get("source", "")) or parent.name,
        up_axis="+Y",
        metadata={"file_up_axis": str(parent.get("file_up_axis", "+Y")), "frame_start": start,
                  "empties": parent.name})


def _evaluate(fcurve, start: int, where: np.ndarray, static: float) -> np.ndarray:
    frames = start + np.flatnonzero(where)
    if fcurve is None:
        return np.full(len(frames), float(static))
    return np.array([fcurve.evaluate(float(f)) for f in frames])


def _to_world(parent, points: np.ndarray) -> np.ndarray:
    """Parent-space points (..., 3) in world space (unchanged, exactly, for an identity parent)."""
    matrix = np.array(parent.matrix_world, dtype=np.float64)
    if np.array_equal(matrix, np.eye(4)):
        return points
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def _animated_range(objects) -> tuple[int, int] | None:
    ranges = []
    for obj in objects:
        anim = obj.animation_data
        if anim is not None and anim.action is not None:
            ranges.append(tuple(anim.action.frame_range))
    if not ranges:
        return None
    return int(np.floor(min(r[0] for r in ranges))), int(np.ceil(max(r[1] for r in ranges)))


def _read_user(parent, frame_range, context) -> LandmarkSequence:
    named = _recognised_children(parent)
    scene = context.scene
    if frame_range is None:
        lineage, up = [parent], parent.parent
        while up is not None:
            lineage.append(up)
            up = up.parent
        frame_range = _animated_range([child for _, child in named] + lineage)
        if frame_range is None:
            raise LandmarkError(f"'{parent.name}': its landmark empties are not animated, so there are no "
                                "frames to solve.")
    start, count = _frames(parent, frame_range, 0, 0)
    # From the empties' curves when only they move them (no scene stepping), else frame by frame.
    worlds = sampled_world_matrices([child for _, child in named], start + np.arange(count), scene)
    points = worlds[..., :3, 3]
    fps = scene.render.fps / scene.render.fps_base
    return LandmarkSequence(
        names=[n for n, _ in named], points=blender_to_core_vectors(points),
        confidence=np.ones((count, len(named))), fps=fps, layout="named", source=parent.name, up_axis="+Y",
        metadata={"file_up_axis": "+Z", "frame_start": start, "empties": parent.name})
