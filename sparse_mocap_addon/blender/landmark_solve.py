"""Landmarks to a baked SMPL armature: read a file into landmark empties, solve IK, bake.

The steps, each a core or blender function: :func:`~..core.landmarks.formats.read_landmarks`,
:func:`~..core.landmarks.orient`, :func:`.landmark_objects.create_landmark_empties`,
:func:`~..core.landmark_pipeline.solve_landmarks` (onto the target armature's skeleton, or the
performer's skeleton estimated from the landmarks, optionally blended with body measurements),
:func:`.armature.create_armature` when a new armature is wanted, and :func:`.bake.bake_motion`
(always a new action).

Everything that can fail on the data (reading, orientation, the solve, the measurements) runs
before anything is created; if a later step still fails, everything this call created is removed
and the target armature gets its previous action back (``mocap_import.removed_on_failure``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import bpy

from ..core.body.measurements import BodyMeasurements, measure_skeleton
from ..core.feet.stage import feet_summary
from ..core.landmarks.formats import read_landmarks
from ..pipelines.landmarks import SolveOptions, solve_landmarks
from ..core.landmarks.sequence import LandmarkSequence, orient
from ..inference.gap_fill import GapFillOptions, gap_fill_summary
from ..pipelines.missing_frames import landmark_missing_frames
from .armature import skeleton_from_armature
from .empty_sets import scene_frame
from .landmark_objects import LANDMARK_SET, create_landmark_empties, read_landmark_empties
from .mocap_import import removed_on_failure, take_name
from .set_solve import BakedSolve, fill_and_bake, set_into_scene, stage

# What the import dialog lists (text files may be gzipped).
FILE_PATTERNS = "*.trc;*.json;*.csv;*.npy;*.npz;*.trc.gz;*.json.gz;*.csv.gz"
SET_SUFFIX = LANDMARK_SET.suffix

# Share of the progress bar per step.
_READ, _EMPTIES, _SOLVE = 0.15, 0.35, 0.6
_READ_SET = 0.1


LandmarkSolve = BakedSolve      # what solve_onto_armature did


@dataclass
class LandmarkImport:
    """What :func:`import_landmarks` did; ``solve`` is None when IK was not asked for."""

    parent: bpy.types.Object
    sequence: LandmarkSequence          # in the core frame, as the empties hold it
    solve: LandmarkSolve | None = None


def solve_onto_armature(seq: LandmarkSequence, options: SolveOptions | None = None, *, armature=None,
                        measurements: BodyMeasurements | None = None, name: str | None = None,
                        frame_start: int = 1, with_body: bool = True, gap_fill: GapFillOptions | None = None,
                        context=None, progress=None) -> LandmarkSolve:
    """Solve ``seq`` and bake the motion into a new action.

    Target: ``armature`` (an existing SMPL armature: solved onto its skeleton) when given, else a
    new armature named ``name`` with the performer's skeleton from the landmarks, blended with
    ``measurements`` when given (their sex picks the proportion table). The first landmark frame is
    baked at ``frame_start``; the scene's frame rate and range are set to the motion's. With
    ``gap_fill`` the frames without hips or most joints
    (:func:`~..inference.missing_frames.landmark_missing_frames`) are filled before baking
    (``report["gap_fill"]``), the filled frames through the feet stage of ``options.feet``. Raises the
    core's errors (``LandmarkError``, ``MeasurementError``: ValueErrors) before anything is created.
    """
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    options = dataclasses.replace(options or SolveOptions())
    if armature is not None:
        options.skeleton = skeleton_from_armature(armature)
        options.measurements = None
    elif measurements is not None:
        options.measurements = measurements
        options.sex = measurements.sex
    name = name or take_name(seq.source or "landmarks")
    file_up = seq.metadata.get("file_up_axis")
    motion, report = solve_landmarks(seq, options)
    if file_up:
        report["file_up_axis"] = file_up
    report["stature_m"] = float(motion.skeleton.stature())
    tick(_SOLVE)
    performer = BodyMeasurements(**measure_skeleton(motion.skeleton), sex=options.sex) if armature is None else None
    missing = landmark_missing_frames(seq, options.threshold) if gap_fill is not None else None
    # The scene takes the landmarks' rate (one key per frame), so the keys' step is 1.
    return fill_and_bake(motion, report, missing=missing, gap_fill=gap_fill, feet=options.feet, match_scene=True,
                         armature=armature, name=name, measurements=performer, frame_start=frame_start,
                         with_body=with_body, context=context, progress=stage(tick, _SOLVE, 1.0))


def solve_set_onto_armature(parent, options: SolveOptions | None = None, *, armature=None,
                            measurements: BodyMeasurements | None = None, with_body: bool = True,
                            gap_fill: GapFillOptions | None = None, context=None, progress=None) -> LandmarkSolve:
    """Solve the landmark set ``parent`` (made by Import Landmarks, or the user's named empties: see
    :func:`.landmark_objects.read_landmark_empties`) as :func:`solve_onto_armature` does, the take
    named after the set and baked from the set's first frame."""
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    seq = read_landmark_empties(parent, context=context)
    tick(_READ_SET)
    start = int(seq.metadata.get("frame_start", context.scene.frame_start))
    return solve_onto_armature(seq, options, armature=armature, measurements=measurements, name=set_name(parent),
                               frame_start=start, with_body=with_body, gap_fill=gap_fill, context=context,
                               progress=stage(tick, _READ_SET, 1.0))


def import_landmarks(path, *, layout: str = "auto", fps: float | None = None, metres_per_unit: float | None = None,
                     height: float | None = None, up_axis: str = "auto", threshold: float = 0.5,
                     solve: SolveOptions | None = None, armature=None, measurements: BodyMeasurements | None = None,
                     with_body: bool = True, gap_fill: GapFillOptions | None = None, frame_start: int | None = None,
                     context=None, progress=None, name: str | None = None) -> LandmarkImport:
    """Read a landmark file into a new landmark set (parent + child empties) and, when ``solve``
    options are given, solve and bake it (see :func:`solve_onto_armature`, also for ``gap_fill``).

    The reading options are those of :func:`read_landmarks`; ``up_axis`` is the file's up axis
    ("auto": from the body, with points at or above ``threshold``). The scene's frame rate and
    range are set to the file's; the first frame lands on ``frame_start`` (default: the scene's
    start frame). ``name``: the take's (the set's and a new armature's) name, default the file's.
    Either everything is made or, on an error, nothing is left behind.
    """
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    scene = context.scene
    tick(0.0)
    seq = read_landmarks(path, layout=layout, fps=fps, metres_per_unit=metres_per_unit, height=height)
    seq = orient(seq, up_axis, threshold)
    if solve is not None:
        solve = dataclasses.replace(solve, threshold=threshold, up_axis="auto").check()
    tick(_READ)
    name = name or take_name(path)
    frame_start = scene_frame(scene, frame_start)
    with removed_on_failure(armature):
        parent = set_into_scene(create_landmark_empties, seq, name + SET_SUFFIX, fps=seq.fps,
                                num_frames=seq.num_frames, frame_start=frame_start, context=context,
                                progress=stage(tick, _READ, _EMPTIES))
        result = LandmarkImport(parent, seq)
        if solve is not None:
            result.solve = solve_onto_armature(
                seq, solve, armature=armature, measurements=measurements, name=name, frame_start=frame_start,
                with_body=with_body, gap_fill=gap_fill, context=context,
                progress=stage(tick, _EMPTIES, 1.0))
    tick(1.0)
    return result


set_name = LANDMARK_SET.take_name     # the take's name: the set's without the ``_landmarks`` suffix


def summary(report: dict) -> str:
    """One line for the user: frames, masked share, missing joints, stature, foot contact."""
    parts = [f"{report.get('frames', 0)} frames", f"{100.0 * report.get('masked_fraction', 0.0):.1f}% masked"]
    missing = report.get("missing_joints") or []
    parts.append(f"missing joints: {', '.join(missing)}" if missing else "no missing joints")
    bridged = report.get("bridged_frame_count", 0)
    if bridged:
        parts.append(f"{bridged} frames bridged over long gaps")
    if "stature_m" in report:
        parts.append(f"stature {report['stature_m']:.2f} m")
    feet = report.get("feet")
    if feet:
        left, right = feet.get("contact_fraction", (0.0, 0.0))
        parts.append(f"foot contact L {100.0 * left:.0f}% R {100.0 * right:.0f}%")
        parts.append(feet_summary(feet))
    if report.get("file_up_axis"):
        parts.append(f"file up axis {report['file_up_axis']}")
    if gap_fill_summary(report.get("gap_fill")):
        parts.append(gap_fill_summary(report["gap_fill"]))
    return "; ".join(parts)
