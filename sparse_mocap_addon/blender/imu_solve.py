"""IMU recordings to a baked SMPL armature: import into an IMU set, calibrate, reconstruct, bake.

The steps, each a core, inference or blender function: :func:`~..core.imu.formats.read_imu` (and
:func:`~..core.imu.formats.resample_imu`), :func:`.imu_objects.create_imu_empties`,
:func:`~..core.imu_calibration.calibrate` (its dict kept on the set as JSON),
:func:`~..core.imu_calibration.apply_calibration`,
:func:`~..pipelines.imu.reconstruct_imu` (onto the skeleton of the Subject panel's
measurements, or of an existing SMPL armature), :func:`.armature.create_armature` when a new
armature is wanted, and :func:`.bake.bake_motion` (always a new action).

Everything that can fail on the data (reading, sensor names, calibration, the reconstruction, the
measurements) runs before anything is created; if a later step still fails, everything the call
created is removed and the target armature gets its previous action back
(``mocap_import.removed_on_failure``). Calibrating changes only the set's ``calibration`` property,
and only when calibration succeeds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import bpy

from ..core.body.measurements import BodyMeasurements, measure_skeleton
from ..core.imu.formats import read_imu, resample_imu, segment_name
from ..core.imu.recording import SEGMENT_JOINTS, ImuError, ImuRecording
from ..core.imu.calibration import ImuCalibration, apply_calibration, calibrate
from ..inference.gap_fill import GapFillOptions
from ..pipelines.imu import ImuSolveOptions, network_summary, reconstruct_imu
from ..pipelines.missing_frames import imu_missing_frames
from .armature import skeleton_from_armature
from .empty_sets import scene_frame
from .imu_objects import IMU_SET, create_imu_empties, read_imu_empties, stored_calibration
from .mocap_import import removed_on_failure, require_poses, take_name
from .set_solve import (BakedSolve, fill_and_bake, missing_text, recording_text, require_frames, same_rate,
                        set_into_scene, stage, summary_ending)

# What the import dialog lists (a folder is picked by opening it and importing with no file chosen).
FILE_PATTERNS = "*.pt;*.npz;*.csv;*.csv.gz;*.txt;*.txt.gz"
SET_SUFFIX = IMU_SET.suffix

# Share of the progress bar per step.
_READ, _EMPTIES = 0.4, 1.0
_SET, _SOLVE = 0.05, 0.8


@dataclass
class ImuImport:
    """What :func:`import_imu` did."""

    parent: bpy.types.Object
    recording: ImuRecording             # as the set holds it (renamed, resampled)
    resampled_from: float | None = None


# --- sensor names --------------------------------------------------------------------------------

def parse_sensor_names(text: str) -> dict:
    """``"00B421E6=pelvis, 00B421ED = left thigh"`` -> {"00B421E6": "pelvis", "00B421ED": "left_upper_leg"}.

    Pairs are separated by commas or semicolons; each new name is a body segment (a key of
    ``SEGMENT_JOINTS``, or a label :func:`~..core.imu.formats.segment_name` recognises). Raises
    :class:`ImuError` with one sentence on a malformed pair or an unknown segment.
    """
    mapping = {}
    for item in (p.strip() for p in text.replace(";", ",").split(",")):
        if not item:
            continue
        if item.count("=") != 1:
            raise ImuError(f"sensor names: {item!r} is not of the form 'sensor=segment' "
                           "(e.g. '00B421E6=pelvis, 00B421ED=left_upper_leg').")
        old, new = (part.strip() for part in item.split("="))
        segment = new if new in SEGMENT_JOINTS else segment_name(new)
        if not old or segment is None:
            raise ImuError(f"sensor names: {new!r} is no body segment; use one of {', '.join(SEGMENT_JOINTS)}.")
        mapping[old] = segment
    return mapping


def rename_sensors(recording: ImuRecording, mapping: dict) -> ImuRecording:
    """The recording with its sensors renamed by ``mapping`` (exact names, else ignoring case)."""
    if not mapping:
        return recording
    lower = {s.lower(): s for s in recording.sensors}
    renamed = dict(zip(recording.sensors, recording.sensors))
    for old, new in mapping.items():
        found = old if old in renamed else lower.get(old.lower())
        if found is None:
            raise ImuError(f"{recording.source or 'the recording'}: there is no sensor {old!r} to rename; it has "
                           f"{', '.join(recording.sensors)}.")
        renamed[found] = new
    names = tuple(renamed[s] for s in recording.sensors)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ImuError(f"{recording.source or 'the recording'}: after renaming, {', '.join(twice)} would name "
                       "two sensors; each sensor needs its own segment.")
    return dataclasses.replace(recording, sensors=names)


# --- import --------------------------------------------------------------------------------------

_XIO_FILES = ("inertial.csv", "quaternion.csv", "command.json")


def recording_path(path, whole_folder: bool = False) -> Path:
    """The file or folder to read: ``path``, or with ``whole_folder`` the recording folder holding
    the file (for an x-io sensor file, the folder above its sensor's folder)."""
    path = Path(path)
    if not whole_folder or path.is_dir():
        return path
    folder = path.parent
    if path.name.lower() in _XIO_FILES and folder.parent != folder:
        return folder.parent
    return folder


def read_recording(path, *, kind: str = "auto", fps: float | None = None, source_fps: float | None = None,
                   sensor_names: str | dict = "") -> tuple[ImuRecording, float | None]:
    """Read, rename and resample; returns (recording, the rate it was resampled from or None).

    ``source_fps`` is the rate of recordings without time stamps (TransPose/PIP tensors; default 60
    or the .npz's own); ``fps`` the rate to resample to (default None: keep the recording's own rate,
    as :func:`~.tracker_solve.import_trackers` does; the reconstruction resamples to its networks'
    60 fps by itself).
    """
    recording = read_imu(path, kind=kind)
    if source_fps and recording.metadata.get("format") == "tensors" and abs(recording.fps - source_fps) > 1e-9:
        recording = read_imu(path, fps=source_fps, kind="tensors")
    mapping = parse_sensor_names(sensor_names) if isinstance(sensor_names, str) else dict(sensor_names)
    recording = rename_sensors(recording, mapping)
    resampled_from = None
    if fps is not None and abs(recording.fps - float(fps)) > 1e-9:
        resampled_from = recording.fps
        recording = resample_imu(recording, float(fps))
    require_frames(recording.num_frames, recording.source or path, ImuError)
    return recording, resampled_from


def import_imu(path, *, kind: str = "auto", fps: float | None = None, source_fps: float | None = None,
               sensor_names: str | dict = "", frame_start: int | None = None, context=None,
               progress=None) -> ImuImport:
    """Read an IMU recording (file or folder) into a new IMU set (parent + child empties).

    Reading options as :func:`read_recording`. The scene's frame rate and range are set to the
    recording's; its first frame lands on ``frame_start`` (default: the scene's start frame).
    Either everything is made or, on an error, nothing is left behind.
    """
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    scene = context.scene
    tick(0.0)
    recording, resampled_from = read_recording(path, kind=kind, fps=fps, source_fps=source_fps,
                                               sensor_names=sensor_names)
    tick(_READ)
    frame_start = scene_frame(scene, frame_start)
    with removed_on_failure():
        parent = set_into_scene(create_imu_empties, recording, recording_name(path) + SET_SUFFIX,
                                fps=recording.fps, num_frames=recording.num_frames, frame_start=frame_start,
                                context=context, progress=stage(tick, _READ, _EMPTIES))
    tick(1.0)
    return ImuImport(parent, recording, resampled_from)


def recording_name(path) -> str:
    """The take's name: the file's, or the folder's for the files of a pair or of a sensor folder
    (TransPose ``acc.pt``/``ori.pt``, x-io ``Inertial.csv``)."""
    path = Path(path)
    name = take_name(path)
    if path.is_file() and name.lower() in ("acc", "ori", "inertial", "quaternion") and path.parent.name:
        return path.parent.name
    return name


set_name = IMU_SET.take_name     # the take's name: the set's without the ``_imu`` suffix


def import_summary(result: ImuImport) -> str:
    rec = result.recording
    text = recording_text(rec.sensors, rec.num_frames, rec.fps, "sensors")
    if result.resampled_from is not None:
        text += f", resampled from {result.resampled_from:g} fps"
    text += missing_text(rec.valid, "missing")
    if rec.world == "core":
        text += "; in the core frame (Y up), shown in Blender's axes"
    else:
        text += (f"; device world '{rec.world}' (up {rec.metadata.get('up_axis', '+Z')}), shown as it is: "
                 "calibrate before reconstructing")
    return text


# --- calibrate -------------------------------------------------------------------------------------

def calibrate_set(parent, pose: str = "t", start_s: float = 0.0, duration_s: float = 2.0, heading="auto",
                  max_motion_deg: float | None = None) -> ImuCalibration:
    """Calibrate the IMU set ``parent`` on the pose held in ``[start_s, start_s + duration_s)``
    (seconds from the set's first frame) and keep the calibration on the set as JSON.

    The arguments are those of :func:`~..core.imu_calibration.calibrate` (``max_motion_deg`` None:
    its default limit). Raises its ``CalibrationError`` (one sentence) before changing anything.
    """
    recording = read_imu_empties(parent)
    limits = {} if max_motion_deg is None else {"max_motion_deg": max_motion_deg}
    calibration = calibrate(recording, pose=pose, start_s=start_s, duration_s=duration_s, heading=heading, **limits)
    IMU_SET.store_calibration(parent, calibration.to_dict())
    return calibration


def stillness_text(calibration: ImuCalibration) -> str:
    """Each sensor's largest turn during the window: "pelvis 0.3 deg, head 0.8 deg, ..."."""
    return ", ".join(f"{s} {m:.1f} deg" for s, m in zip(calibration.sensors, calibration.motion_deg))


# --- reconstruct -----------------------------------------------------------------------------------

ImuSolve = BakedSolve        # what reconstruct_onto_armature did


def calibrated_recording(parent) -> tuple[ImuRecording, str]:
    """The set's recording in the core frame and a note on how it got there: the stored calibration
    applied, or (uncalibrated, already in the core frame) the recording as it is. Raises
    :class:`ImuError` for an uncalibrated device-world recording."""
    recording = read_imu_empties(parent)
    stored = stored_calibration(parent)
    if stored is not None:
        return apply_calibration(recording, ImuCalibration.from_dict(stored)), "stored calibration applied"
    if recording.world == "core":
        return recording, "not calibrated: already in the core frame, used as it is"
    raise ImuError(f"'{parent.name}' is in the device world '{recording.world}' and not calibrated; run "
                   "Calibrate first (the wearer standing still in a known pose).")


def armature_measurements(armature) -> BodyMeasurements:
    """The measurements of an SMPL armature's own skeleton (its stored sex picks the table)."""
    subject = getattr(armature, "sparse_mocap_subject", None)
    sex = subject.sex if subject is not None else "neutral"
    return BodyMeasurements(**measure_skeleton(skeleton_from_armature(armature)), sex=sex)


def reconstruct_onto_armature(parent, options=None, *, armature=None, measurements: BodyMeasurements | None = None,
                              name: str | None = None, with_body: bool = True, gap_fill: GapFillOptions | None = None,
                              context=None, progress=None) -> ImuSolve:
    """Reconstruct the IMU set ``parent`` and bake the motion into a new action.

    Target: ``armature`` (an existing SMPL armature: reconstructed on its own proportions) when
    given, else a new armature named ``name`` built from ``measurements``. The motion's first frame
    lands on the set's first frame; when the motion has the set's frame rate the scene takes it,
    otherwise the keys are spaced to keep real time at the scene's rate. ``options`` is an
    ``ImuSolveOptions`` (its ``feet``: the feet stage, ``report["feet"]``). With ``gap_fill`` the
    frames where a sensor's sample was dropped (:func:`~..inference.missing_frames.imu_missing_frames`)
    are filled before baking (``report["gap_fill"]``), the filled frames through the same feet stage.
    Raises the core's errors (``ImuError``, ``MeasurementError``: ValueErrors)
    before anything is created; a later failure removes what was created.
    """
    context = context or bpy.context
    tick = progress or (lambda fraction: None)
    options = options or ImuSolveOptions()
    tick(0.0)
    recording, note = calibrated_recording(parent)
    if armature is not None:
        measurements = armature_measurements(armature)
    elif measurements is None:
        raise ImuError("Reconstruct needs the wearer's body measurements or an SMPL armature to reconstruct onto.")
    tick(_SET)
    motion, report = reconstruct_imu(recording, measurements, options, progress=stage(tick, _SET, _SOLVE))
    require_poses(motion, f"'{parent.name}'", ImuError)
    report = dict(report, calibration=note, stature_m=float(motion.skeleton.stature()))
    frame_start = int(parent.get("frame_start", context.scene.frame_start))
    missing = imu_missing_frames(recording, report["mode"]) if gap_fill is not None else None
    solved = fill_and_bake(motion, report, missing=missing, gap_fill=gap_fill, feet=options.feet,
                           match_scene=same_rate(motion, recording.fps), armature=armature,
                           name=name or set_name(parent), measurements=measurements, frame_start=frame_start,
                           with_body=with_body, context=context, progress=stage(tick, _SOLVE, 1.0))
    tick(1.0)
    return solved


def solve_summary(report: dict) -> str:
    """One line for the user: mode, frames, dropped samples, contacts, calibration."""
    parts = [f"{report.get('mode', '?')} mode"]
    if report.get("model"):
        parts[0] += f" ({network_summary(report)})"
    parts.append(f"{report.get('frames', 0)} frames")
    if report.get("dropped_samples"):
        parts.append(f"{report['dropped_samples']} dropped samples held")
    contact = report.get("contact_fraction")
    if contact and len(contact) == 2:
        parts.append(f"foot contact L {100.0 * contact[0]:.0f}% R {100.0 * contact[1]:.0f}%")
    if "translation" in report:
        parts.append("root translation" if report["translation"] else "no root translation")
    return "; ".join(parts + summary_ending(report))
