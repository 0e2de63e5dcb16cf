"""Fill Gaps on an SMPL armature: the frames its action leaves unkeyed get the motion predictor's (or
slerp's) poses, in a new action.

A recording with holes arrives in Blender as an action whose keys skip frames; Blender would
interpolate across them (:mod:`.action_motion`). The steps: read the action into a Motion and a
missing-frame mask (:func:`.action_motion.read_action_motion`), fill the gaps
(:func:`~..inference.gap_fill.fill_with_fallback`), put the filled frames' feet on the floor
(:func:`~..inference.gap_fill.feet_on_filled_frames`: the feet stage on those frames only, eased in
from the gaps' edges), bake the result into a new action
``<action>_filled`` (:func:`.mocap_import.bake_onto_armature`: the user's action is kept, with a
fake user), then keep of the baked keys only those on the filled frames, beside the user's own keys
copied exactly (gaps left alone, longer than the limit, stay holes that Blender interpolates as
before), and copy the action's other F-curves (object transforms, custom properties) as they are.

Everything that can fail on the data runs before anything is created; if a later step fails, the
new action is removed and the armature gets its action back (``mocap_import.removed_on_failure``).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.feet.stage import FeetOptions, feet_summary
from ..inference.gap_fill import (GapFillOptions, GapFillResult, feet_on_filled_frames, fill_with_fallback,
                                  gap_fill_report, gap_fill_summary)
from . import compat
from .action_motion import POSE_CHANNELS, read_action_motion
from .mocap_import import bake_onto_armature, removed_on_failure

FILLED_SUFFIX = "_filled"
# Keyframe properties copied with the action's other F-curves (co first: add() then foreach_set).
_KEY_FIELDS = (("co", 2, np.float32), ("handle_left", 2, np.float32), ("handle_right", 2, np.float32),
               ("interpolation", 1, np.int8), ("easing", 1, np.int8), ("handle_left_type", 1, np.int8),
               ("handle_right_type", 1, np.int8))

# Share of the progress bar per step.
_READ, _FILL = 0.1, 0.4


class GapFillError(ValueError):
    """Nothing to fill, or nothing that can be filled; the message says why in one sentence."""


@dataclass
class ActionGapFill:
    """What :func:`fill_action_gaps` did."""

    armature: bpy.types.Object
    source: bpy.types.Action        # the user's action, unchanged
    action: bpy.types.Action        # the new, filled one
    result: GapFillResult
    report: dict                    # :func:`~..inference.gap_fill.gap_fill_report` (+ "feet": the feet stage's)


def fill_action_gaps(obj, options: GapFillOptions | None = None, *, feet: FeetOptions | None = None, context=None,
                     progress=None) -> ActionGapFill:
    """Fill the gaps of the SMPL armature ``obj``'s action of up to ``options.max_gap_seconds``
    into a new action assigned to ``obj`` (module docstring); ``feet``: the feet stage on the filled
    frames (default on, the floor found under the action's soles; ``FeetOptions(enabled=False)``:
    the predictor's poses as they are). Raises ``ActionReadError`` or :class:`GapFillError`
    (ValueErrors, one sentence) before anything is created."""
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    options = (options or GapFillOptions()).validate()
    tick(0.0)
    read = read_action_motion(obj, context.scene)
    source = read.action
    first, last = (int(round(f)) for f in (read.frame_start, read.frame_end))
    where = f"action '{source.name}' of '{obj.name}'"
    if read.keyed.all():
        raise GapFillError(f"{where} has no gaps: every frame from {first} to {last} is keyed")
    tick(_READ)
    result, method, note = fill_with_fallback(read.motion, ~read.keyed, options)
    report = gap_fill_report(result, method, note, options, read.frame_start, read.frame_step)
    if not result.gaps:
        raise GapFillError(f"{where}: {gap_fill_summary(report)}; nothing was filled")
    result, feet_report = feet_on_filled_frames(result, feet or FeetOptions())
    if feet_report is not None:
        report["feet"] = feet_report
    tick(_FILL)

    channels = set(POSE_CHANNELS)
    curves = compat.action_fcurves(obj)
    source_keys = {(c.data_path, c.array_index): _key_pairs(c) for c in curves
                   if (c.data_path, c.array_index) in channels}
    other_curves = [c for c in curves if (c.data_path, c.array_index) not in channels]
    with removed_on_failure(obj):
        _, action, _ = bake_onto_armature(
            result.motion, obj, name=obj.name, action_name=filled_name(source.name), frame_start=read.frame_start,
            match_scene=False, context=context, progress=lambda f: tick(_FILL + (0.95 - _FILL) * f))
        _merge_keys(compat.action_fcurves(obj), source_keys, result, read.frame_start, read.frame_step)
        _copy_curves(other_curves, compat.assigned_fcurve_collection(obj))
    tick(1.0)
    return ActionGapFill(obj, source, action, result, report)


def key_step(scene, motion_fps: float, match_scene: bool) -> float:
    """Scene frames between the keys :func:`.bake.bake_motion` writes for a motion at ``motion_fps``
    (1 when it sets the scene's rate to the motion's)."""
    return 1.0 if match_scene else scene.render.fps / scene.render.fps_base / motion_fps


def filled_name(name: str) -> str:
    """``walk`` -> ``walk_filled`` (and a filled action filled again stays ``walk_filled``, numbered by
    Blender)."""
    return name if name.endswith(FILLED_SUFFIX) else name + FILLED_SUFFIX


def _key_pairs(curve) -> np.ndarray:
    """(N, 3) keys of an F-curve: frame, value, interpolation (the enum's integer)."""
    count = len(curve.keyframe_points)
    co = np.empty(2 * count, dtype=np.float32)
    interpolation = np.empty(count, dtype=np.int8)
    curve.keyframe_points.foreach_get("co", co)
    curve.keyframe_points.foreach_get("interpolation", interpolation)
    return np.column_stack((co.reshape(-1, 2), interpolation))


def _merge_keys(curves, source_keys: dict, result: GapFillResult, frame_start: float, frame_step: float) -> None:
    """Rewrite the new action's pose F-curves (one baked key per motion frame) as the user's own keys
    of that channel (values and interpolation) plus the baked keys on the filled frames. A channel the
    user did not animate keeps the baked keys on every frame but those of the gaps left alone."""
    for curve in curves:
        baked = _key_pairs(curve)
        frame = np.clip(np.rint((baked[:, 0] - frame_start) / frame_step).astype(np.int64), 0, len(result.filled) - 1)
        own = source_keys.get((curve.data_path, curve.array_index))
        if own is None:
            merged = baked[~result.unfilled[frame]]
        else:
            merged = np.concatenate((own, baked[result.filled[frame]]))
            merged = merged[np.argsort(merged[:, 0], kind="stable")]
        curve.keyframe_points.clear()
        curve.keyframe_points.add(len(merged))
        curve.keyframe_points.foreach_set("co", merged[:, :2].astype(np.float32).ravel())
        curve.keyframe_points.foreach_set("interpolation", merged[:, 2].astype(np.int8))
        if (merged[:, 2] != compat.LINEAR).any():
            curve.update()                       # the user's Bezier keys get their handles


def _copy_curves(curves, target) -> None:
    """Copy F-curves (keys with their handles and interpolation, extrapolation, group) into ``target``."""
    for curve in curves:
        copy = compat.new_fcurve(target, curve.data_path, curve.array_index, curve.group.name if curve.group else "")
        count = len(curve.keyframe_points)
        copy.keyframe_points.add(count)
        for field, width, dtype in _KEY_FIELDS:
            values = np.empty(width * count, dtype=dtype)
            curve.keyframe_points.foreach_get(field, values)
            copy.keyframe_points.foreach_set(field, values)
        copy.extrapolation = curve.extrapolation
        copy.update()


def summary(fill: ActionGapFill) -> str:
    """One sentence for the report: "Filled 3 gaps (45 frames) by slerp into new action 'walk_filled';
    1 gap longer than 1.0 s left alone (frames 300-420)"."""
    text = gap_fill_summary(fill.report)
    filled, _, rest = text.partition("; ")
    filled = filled[0].upper() + filled[1:] + f" into new action '{fill.action.name}'"
    rest = "; ".join(part for part in (rest, feet_summary(fill.report.get("feet"))) if part)
    return f"{filled}; {rest}" if rest else filled
