"""VR / positional tracker recordings to a baked SMPL armature: import into a tracker set, calibrate,
reconstruct (from a set or from animated empties the user made), bake.

The steps, each a core, inference or blender function: :func:`~..core.trackers.formats.read_trackers`,
:func:`.tracker_objects.create_tracker_empties` (or :func:`.tracker_objects.recording_from_empties`
for the user's own empties), :func:`~..core.tracker_calibration.calibrate_trackers` (its settings
and result kept on the set as JSON), :func:`~..pipelines.trackers.reconstruct_trackers`
(onto the skeleton of the Subject panel's measurements, or of an existing SMPL armature),
:func:`.armature.create_armature` when a new armature is wanted, and :func:`.bake.bake_motion`
(always a new action).

Calibration depends on the skeleton (the held pose is posed on it), so Reconstruct calibrates
again with the stored settings on the target's own skeleton: the stored result is what the user
saw when calibrating, and the reconstruction is right for whichever armature receives it. Without
a calibration the devices are taken to sit exactly on their joints (identity mountings), which is
right for empties that mark joints.

Everything that can fail on the data (reading, names, calibration, the reconstruction, the
measurements) runs before anything is created; if a later step still fails, everything the call
created is removed and the target armature gets its previous action back
(``mocap_import.removed_on_failure``). Calibrating changes only the set's ``calibration`` property,
and only when calibration succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.body.measurements import BodyMeasurements, skeleton_from_measurements
from ..core.trackers.formats import read_trackers
from ..core.kinematics.skeleton import Skeleton
from ..core.trackers.calibration import TrackerCalibration, calibrate_trackers
from ..core.trackers.recording import TrackerError, TrackerRecording
from ..inference.gap_fill import GapFillOptions
from ..pipelines.trackers import TrackerSolveOptions, failure_summary, network_summary, reconstruct_trackers
from .armature import skeleton_from_armature
from .empty_sets import scene_frame
from .mocap_import import removed_on_failure, require_poses, take_name
from .set_solve import (BakedSolve, fill_and_bake, missing_text, recording_text, require_frames, same_rate,
                        set_into_scene, stage, summary_ending)
from .tracker_objects import (TRACKER_SET, create_tracker_empties, read_tracker_empties, recording_from_empties,
                              stored_calibration)

# What the import dialog lists.
FILE_PATTERNS = "*.csv;*.csv.gz;*.txt;*.txt.gz;*.json;*.json.gz;*.npz"
SET_SUFFIX = TRACKER_SET.suffix
CALIBRATION_FORMAT = "sparse_mocap tracker calibration"

# Share of the progress bar per step.
_READ, _EMPTIES = 0.4, 1.0
_SOURCE, _SOLVE = 0.15, 0.8


@dataclass
class TrackerImport:
    """What :func:`import_trackers` did."""

    parent: bpy.types.Object
    recording: TrackerRecording


# --- import ----------------------------------------------------------------------------------------

def read_recording(path, *, convention: str | None = None, fps: float | None = None,
                   units: str | None = None) -> TrackerRecording:
    """:func:`~..core.trackers.formats.read_trackers` (``None``: what the file states), refusing a
    recording of fewer than two frames."""
    recording = read_trackers(path, convention=convention, fps=fps, units=units)
    require_frames(recording.num_frames, recording.source or path, TrackerError)
    return recording


def import_trackers(path, *, convention: str | None = None, fps: float | None = None, units: str | None = None,
                    frame_start: int | None = None, context=None, progress=None) -> TrackerImport:
    """Read a tracker file into a new tracker set (parent + one animated empty per tracker).

    Reading options as :func:`read_recording` (``fps`` None, the default: keep the recording's own
    rate, as :func:`~.imu_solve.import_imu` does). The scene's frame rate and range are set to the
    recording's; its first frame lands on ``frame_start`` (default: the scene's start frame).
    Either everything is made or, on an error, nothing is left behind.
    """
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    scene = context.scene
    tick(0.0)
    recording = read_recording(path, convention=convention, fps=fps, units=units)
    tick(_READ)
    frame_start = scene_frame(scene, frame_start)
    with removed_on_failure():
        parent = set_into_scene(create_tracker_empties, recording, take_name(path) + SET_SUFFIX,
                                fps=recording.fps, num_frames=recording.num_frames, frame_start=frame_start,
                                context=context, progress=stage(tick, _READ, _EMPTIES))
    tick(1.0)
    return TrackerImport(parent, recording)


set_name = TRACKER_SET.take_name     # the take's name: the set's without the ``_trackers`` suffix


def import_summary(result: TrackerImport) -> str:
    rec = result.recording
    meta = rec.metadata
    text = recording_text(rec.names, rec.num_frames, rec.fps, "trackers")
    if meta.get("convention"):
        text += f", read as {meta['convention']} in {meta.get('units', 'm')}"
    text += missing_text(rec.valid, "lost")
    if meta.get("ignored_trackers"):
        text += f"; ignored {', '.join(meta['ignored_trackers'])}"
    return text


# --- the skeleton ----------------------------------------------------------------------------------

def target_skeleton(armature=None, measurements: BodyMeasurements | None = None) -> Skeleton:
    """An existing SMPL armature's own skeleton, else the skeleton of ``measurements``."""
    if armature is not None:
        return skeleton_from_armature(armature)
    if measurements is None:
        raise TrackerError("Trackers need the wearer's body measurements or an SMPL armature to reconstruct onto.")
    return skeleton_from_measurements(measurements)


# --- calibrate -------------------------------------------------------------------------------------

def calibration_settings(pose: str = "t", start_s: float = 0.0, duration_s: float = 1.0, heading="auto") -> dict:
    return {"pose": str(pose), "start_s": float(start_s), "duration_s": float(duration_s),
            "heading": heading if isinstance(heading, str) else float(heading)}


def calibration_record(calibration: TrackerCalibration, settings: dict, skeleton: Skeleton) -> dict:
    """A JSON-safe dict of the settings and what they gave (kept on the set)."""
    return {
        "format": CALIBRATION_FORMAT, "version": 1, "settings": dict(settings),
        "pose": calibration.pose, "method": calibration.method, "heading_deg": float(calibration.heading_deg),
        "frames": [int(f) for f in calibration.frames],
        "height_m": None if calibration.height_m is None else float(calibration.height_m),
        "skeleton_stature_m": float(skeleton.stature()),
        "alignment": np.asarray(calibration.alignment).round(12).tolist(),
        "body_position": np.asarray(calibration.body_position).round(12).tolist(),
        "mountings": {n: {"offset": np.asarray(m.offset).round(12).tolist(),
                          "rotation": np.asarray(m.rotation).round(12).tolist()}
                      for n, m in calibration.mountings.items()},
        "motion": {n: [float(d), float(a)] for n, (d, a) in calibration.motion.items()},
    }


def _settings_of(stored: dict, where: str) -> dict:
    settings = stored.get("settings")
    if stored.get("format") != CALIBRATION_FORMAT or not isinstance(settings, dict) or \
            not {"pose", "start_s", "duration_s", "heading"} <= set(settings):
        raise TrackerError(f"'{where}': its stored calibration is not one Calibrate Trackers wrote; calibrate it "
                           "again.")
    return settings


def calibrate_set(parent, skeleton: Skeleton, pose: str = "t", start_s: float = 0.0, duration_s: float = 1.0,
                  heading="auto") -> TrackerCalibration:
    """Calibrate the tracker set ``parent`` on the pose held in ``[start_s, start_s + duration_s)``
    (seconds from the set's first frame), posed on ``skeleton``, and keep the settings and the
    result on the set as JSON.

    The arguments are those of :func:`~..core.tracker_calibration.calibrate_trackers`. Raises its
    ``TrackerError`` (one sentence) before changing anything.
    """
    recording = read_tracker_empties(parent)
    settings = calibration_settings(pose, start_s, duration_s, heading)
    calibration = calibrate_trackers(recording, skeleton, **settings)
    TRACKER_SET.store_calibration(parent, calibration_record(calibration, settings, skeleton))
    return calibration


def calibration_summary(calibration: TrackerCalibration, fps: float) -> str:
    """One line: trackers, pose, window, heading and how it was found, the head's height, stillness."""
    first, last = calibration.frames
    worst = max(calibration.motion.items(), key=lambda item: item[1][0]) if calibration.motion else None
    text = (f"{len(calibration.mountings)} trackers on the {calibration.pose}-pose held {first / fps:.2f}-"
            f"{(last + 1) / fps:.2f} s; heading {calibration.heading_deg:.1f} deg ({calibration.method})")
    if calibration.height_m is not None:
        text += f"; the headset's height suggests a {calibration.height_m:.2f} m wearer"
    if worst is not None:
        text += f"; still within {100.0 * worst[1][0]:.1f} cm ({worst[0]})"
    return text


# --- reconstruct -----------------------------------------------------------------------------------

@dataclass
class TrackerSource:
    """A recording to reconstruct and how to use it."""

    recording: TrackerRecording
    calibration: TrackerCalibration | None
    note: str                 # how it is used, for the report
    frame_start: int          # the scene frame of the recording's first frame
    name: str                 # the take's name (new armature and action)
    label: str                # what messages call it


def set_source(parent, skeleton: Skeleton) -> TrackerSource:
    """The tracker set ``parent``: its stored calibration settings applied on ``skeleton``, else the
    devices taken to sit on their joints."""
    recording = read_tracker_empties(parent)
    stored = stored_calibration(parent)
    calibration, note = None, "not calibrated: the devices taken to sit on their joints"
    if stored is not None:
        settings = _settings_of(stored, parent.name)
        calibration = calibrate_trackers(recording, skeleton, **settings)
        note = f"calibrated on the {calibration.pose}-pose (heading {calibration.heading_deg:.1f} deg)"
    return TrackerSource(recording, calibration, note, int(parent.get("frame_start", 1)), set_name(parent),
                         f"'{parent.name}'")


def empties_source(objects, context=None, progress=None) -> TrackerSource:
    """Animated empties named after tracker sites, over the scene's frame range (devices on joints)."""
    context = context or bpy.context
    recording = recording_from_empties(objects, context, progress=progress)
    empties = recording.metadata["empties"]
    name = recording.source if recording.source != "empties" else "Trackers"
    label = "the empties " + ", ".join(f"'{n}'" for n in empties.values())
    return TrackerSource(recording, None, "animated empties: the devices taken to sit on their joints",
                         int(recording.metadata["frame_start"]), name, label)


TrackerSolve = BakedSolve    # what reconstruct_onto_armature did (its ``source``: the TrackerSource)


def reconstruct_onto_armature(source, options: TrackerSolveOptions | None = None, *, armature=None,
                              measurements: BodyMeasurements | None = None, name: str | None = None,
                              with_body: bool = True, gap_fill: GapFillOptions | None = None, context=None,
                              progress=None) -> TrackerSolve:
    """Reconstruct ``source`` (a tracker set, or a list of animated empties named after tracker
    sites) and bake the motion into a new action.

    Target: ``armature`` (an existing SMPL armature: reconstructed on its own skeleton) when given,
    else a new armature named ``name`` (default: the take's) built from ``measurements``. The
    motion's first frame lands on the recording's first frame; when the motion has the recording's
    frame rate the scene takes it, otherwise (the networks run at 60 fps) the keys are spaced to
    keep real time at the scene's rate. With ``gap_fill`` the frames where the input was lost
    (the solve's ``report["failed_frames"]``: lost or impossible input) are filled before baking
    (``report["gap_fill"]``), the filled frames through the feet stage of ``options.feet`` too.
    Raises the core's errors (``TrackerError``, ``MeasurementError``: ValueErrors; a missing weight
    file: OSError) before anything is created; a later failure removes what was created.
    """
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    options = options or TrackerSolveOptions()
    tick(0.0)
    skeleton = target_skeleton(armature, measurements)
    if isinstance(source, bpy.types.Object):
        source = set_source(source, skeleton)
    else:
        source = empties_source(list(source), context, progress=stage(tick, 0.0, _SOURCE))
    tick(_SOURCE)
    recording = source.recording
    motion, report = reconstruct_trackers(recording, skeleton, calibration=source.calibration, options=options,
                                          progress=stage(tick, _SOURCE, _SOLVE))
    require_poses(motion, source.label, TrackerError)
    report = dict(report, calibration=source.note, frames=motion.num_frames, fps=float(motion.fps),
                  stature_m=float(motion.skeleton.stature()))
    missing = report["failed_frames"] if gap_fill is not None else None
    solved = fill_and_bake(motion, report, missing=missing, gap_fill=gap_fill, feet=options.feet,
                           match_scene=same_rate(motion, recording.fps), armature=armature,
                           name=name or source.name, measurements=measurements, frame_start=source.frame_start,
                           with_body=with_body, context=context, progress=stage(tick, _SOLVE, 1.0), source=source)
    tick(1.0)
    return solved


def solve_summary(report: dict) -> str:
    """One line for the user: mode, frames, trackers, lost samples, guesses, calibration."""
    mode = f"{str(report.get('mode', '?')).replace('_', '-')} mode"
    network = network_summary(report)
    if network:
        mode += f" ({network})"
    parts = [mode, f"{report.get('frames', 0)} frames at {report.get('fps', 0.0):g} fps"]
    if report.get("trackers"):
        parts.append(f"trackers {', '.join(report['trackers'])}")
    lost = report.get("lost_samples") or report.get("filled_frames") or {}
    lost_total = int(sum(lost.values())) if isinstance(lost, dict) else 0
    if lost_total:
        parts.append(f"{lost_total} lost samples filled")
    if report.get("guessed"):
        parts.append(f"guessed {', '.join(report['guessed'])}")
    unreachable = report.get("unreachable_frames") or {}
    out_of_reach = int(sum(unreachable.values())) if isinstance(unreachable, dict) else 0
    if out_of_reach:
        parts.append(f"{out_of_reach} target(s) out of reach")
    if failure_summary(report):
        parts.append(failure_summary(report))
    if report.get("resampled_from_fps"):
        parts.append(f"resampled from {report['resampled_from_fps']:g} fps")
    return "; ".join(parts + summary_ending(report))
