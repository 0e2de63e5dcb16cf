"""Headless entry point: a personalised armature, a baked motion, and .blend / .fbx / .bvh outputs.

Runs the same way in three places:
    python -m sparse_mocap_addon --demo --height 1.80 --fbx walk.fbx
    python -m sparse_mocap_addon --trackers vr.csv --tracker-convention unity --height 1.80 --fbx vr.fbx
    python sparse_mocap_addon/cli.py -- --demo --fbx walk.fbx            (plain Python + bpy module)
    blender --background --python sparse_mocap_addon/cli.py -- --demo --fbx walk.fbx

Progress goes to stderr. Bad input exits with status 2 and one line ``error: ...``; a failure while
writing exits with status 1. Outputs are written to temporary files and renamed only once all of
them succeeded, so no partial output file is ever left behind.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script (blender --python / python path/cli.py)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "sparse_mocap_addon"  # noqa: A001 - lets the relative imports below resolve

from .core.body import BodyMeasurements, MeasurementError, skeleton_from_measurements  # noqa: E402
from .core.demo import demo_motion  # noqa: E402
from .core.motion import Motion, MotionFileError  # noqa: E402

FBX_PRESETS = ("unity", "unreal")


class CliError(Exception):
    """Bad input: reported as one line and exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sparse_mocap",
        description="Bake a motion onto a personalised SMPL armature and write .blend / .fbx / .bvh.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--motion", type=Path, help="a sparse_mocap Motion file (.npz)")
    src.add_argument("--demo", action="store_true", help="use the built-in demo walk (the default)")
    src.add_argument("--landmarks", type=Path, help="a 3D landmark file (.trc, .json, .csv, .npy, .npz), solved "
                                                    "onto the performer's skeleton measured from it")
    src.add_argument("--imu", type=Path, help="an IMU recording (TransPose .pt/.npz, generic CSV, Xsens MT, Movella "
                     "DOT, x-io folder), calibrated and reconstructed by the IMU poser or, for dense leg sets, directly")
    src.add_argument("--trackers", type=Path, help="a VR / positional tracker recording (.csv, .json, .npz), "
                                                   "reconstructed from the head, hands and (optionally) pelvis and feet")
    p.add_argument("--demo-seconds", type=float, default=4.0, help="length of the demo walk (default 4 s)")
    lm = p.add_argument_group("landmarks (with --landmarks)")
    lm.add_argument("--landmark-layout", default="auto",
                    choices=("auto", "mediapipe33", "h36m17", "coco17", "halpe26", "smpl24"),
                    help="point layout of files that do not name their points (default auto)")
    lm.add_argument("--up-axis", default="auto", choices=("auto", "+Y", "-Y", "+Z", "-Z", "+X", "-X"),
                    help="the file's up axis (default auto: from the body)")
    lm.add_argument("--threshold", type=float, default=0.5, help="confidence below which a point is missing "
                                                                 "(default 0.5)")
    lm.add_argument("--strength", type=float, default=0.5, help="smoothing, 0 (gap filling only) to 1 "
                                                                "(default 0.5)")
    lm.add_argument("--blend-measurements", action="store_true",
                    help="blend the body measurements below into the skeleton measured from the landmarks")
    imu = p.add_argument_group("IMU recordings (with --imu)")
    imu.add_argument("--imu-format", default="auto", help="reader to use (default: from the file)")
    imu.add_argument("--calibration-pose", choices=("t", "n"), default="t",
                     help="the pose held at the start of a device-world recording (default t)")
    imu.add_argument("--calibration-start", type=float, default=0.0, help="start of the held pose, seconds")
    imu.add_argument("--calibration-seconds", type=float, default=2.0, help="length of the held pose, seconds")
    imu.add_argument("--imu-mode", choices=("auto", "network", "direct"), default="auto")
    trk = p.add_argument_group("tracker recordings (with --trackers)")
    trk.add_argument("--tracker-convention", choices=("unity", "unreal", "openxr", "steamvr", "blender", "core"),
                     help="coordinate convention of the file (default: the one the file states)")
    trk.add_argument("--tracker-units", choices=("m", "cm", "mm"),
                     help="length unit of the file (default: the file's, else the convention's)")
    trk.add_argument("--tracker-fps", type=float, help="resample to this frame rate (default: the file's)")
    trk.add_argument("--tracker-mode", choices=("auto", "six_point", "three_point", "analytic"), default="auto",
                     help="solver (default auto: six-point with pelvis, head, hands and feet, else three-point)")
    trk.add_argument("--tracker-calibration-pose", choices=("t", "a", "n"),
                     help="calibrate on this pose held at the start (default: no calibration, the devices taken "
                          "to sit on their joints)")
    trk.add_argument("--tracker-calibration-start", type=float, default=0.0, help="start of the held pose, seconds")
    trk.add_argument("--tracker-calibration-seconds", type=float, default=1.0,
                     help="length of the held pose, seconds (default 1)")
    gap = p.add_argument_group("gap filling (with --landmarks, --imu or --trackers)")
    gap.add_argument("--fill-gaps", type=float, default=1.0, metavar="SECONDS",
                     help="fill the frames whose input was lost (the head or reference tracker, an IMU sample, most "
                          "landmarks) in gaps up to this long (default 1; 0: off)")
    gap.add_argument("--gap-fill-method", choices=("predictor", "slerp"), default="predictor",
                     help="the learned motion predictor (slerp when it is not installed) or slerp (default predictor)")
    p.add_argument("--no-feet-on-floor", dest="feet_on_floor", action="store_false",
                   help="leave the feet raw: by default feet that touch the floor are planted on it (no sliding), no "
                        "foot goes under it, and a --motion of another body has its root path fitted to the "
                        "armature's legs")
    body = p.add_argument_group("body measurements (metres)")
    body.add_argument("--height", type=float, default=1.75, help="standing height (default 1.75)")
    body.add_argument("--arm-length", type=float, help="armpit to wrist (default: from the table)")
    body.add_argument("--leg-length", type=float, help="hip joint to ankle (default: from the table)")
    body.add_argument("--sex", choices=("neutral", "male", "female"), default="neutral")
    body.add_argument("--shoulder-width", type=float, help="acromion to acromion (optional)")
    body.add_argument("--hip-width", type=float, help="across the greater trochanters (optional)")
    out = p.add_argument_group("outputs (at least one)")
    out.add_argument("--blend", type=Path, help="write a .blend file")
    out.add_argument("--fbx", type=Path, help="write an .fbx file")
    out.add_argument("--preset", choices=FBX_PRESETS, default="unity", help="FBX target (default unity)")
    out.add_argument("--bvh", type=Path, help="write a .bvh file")
    p.add_argument("--name", default="Subject", help="armature name (default Subject)")
    p.add_argument("--no-body", action="store_true", help="armature only, without the default body mesh")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def script_args(argv: list[str]) -> list[str]:
    """Arguments meant for us: everything after ``--`` when there is one (Blender's convention)."""
    return argv[argv.index("--") + 1:] if "--" in argv else argv


def _check_outputs(args) -> list[tuple[str, Path]]:
    outputs = [(kind, path) for kind, path in (("blend", args.blend), ("fbx", args.fbx), ("bvh", args.bvh)) if path]
    if not outputs:
        raise CliError("nothing to write: give at least one of --blend, --fbx, --bvh")
    for kind, path in outputs:
        if path.suffix.lower() != f".{kind}":
            raise CliError(f"{path}: --{kind} needs a file name ending in .{kind}")
        if not path.parent.resolve().is_dir():
            raise CliError(f"{path}: the folder {path.parent} does not exist")
    return outputs


class _Progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, message: str):
        if not self.quiet:
            print(f"[sparse_mocap {time.perf_counter() - self.start:6.2f}s] {message}", file=sys.stderr, flush=True)


def run(args) -> list[Path]:
    say = _Progress(args.quiet)
    outputs = _check_outputs(args)
    if not (math.isfinite(args.fill_gaps) and args.fill_gaps >= 0.0):
        raise CliError(f"--fill-gaps {args.fill_gaps} is out of range: expected a number of seconds, 0 for off")
    measurements = BodyMeasurements(height=args.height, arm_length=args.arm_length, leg_length=args.leg_length,
                                    sex=args.sex, shoulder_width=args.shoulder_width, hip_width=args.hip_width)
    try:
        skeleton = skeleton_from_measurements(measurements)
    except MeasurementError as exc:
        raise CliError(str(exc)) from None
    if args.landmarks:
        return _run_landmarks(args, say, outputs, measurements)
    if args.imu:
        motion = _imu_motion(args, say, measurements)
    elif args.trackers:
        motion = _tracker_motion(args, say, skeleton)
    elif args.motion:
        try:
            motion = Motion.load(args.motion)
        except MotionFileError as exc:
            raise CliError(str(exc)) from None
        say(f"loaded {args.motion} ({motion.num_frames} frames at {motion.fps:g} fps)")
        motion = _onto_body(args, say, motion, skeleton)
    else:
        if not 0.1 <= args.demo_seconds <= 3600:
            raise CliError(f"--demo-seconds {args.demo_seconds} is out of range: expected 0.1 to 3600")
        motion = demo_motion(skeleton, seconds=args.demo_seconds)
        say(f"generated the demo walk ({motion.num_frames} frames at {motion.fps:g} fps)")

    say("starting Blender")
    import bpy  # imported late: argument errors are reported without loading Blender

    from . import register
    from .blender.armature import create_armature
    from .blender.bake import bake_motion

    bpy.ops.wm.read_factory_settings(use_empty=True)
    _ensure_registered(register)
    obj = create_armature(skeleton, name=args.name, with_mesh=not args.no_body)
    subject = obj.sparse_mocap_subject
    subject.height = measurements.height
    subject.sex = measurements.sex
    for key in ("arm_length", "leg_length", "shoulder_width", "hip_width"):
        setattr(subject, key, getattr(measurements, key) or 0.0)
    say(f"created armature '{obj.name}' for a {measurements.height:.2f} m {measurements.sex} subject")

    last = [-1]

    def bake_progress(fraction):
        step = int(fraction * 4)
        if step > last[0]:
            last[0] = step
            say(f"baking {int(fraction * 100):3d}%")

    action = bake_motion(obj, motion, action_name=motion.metadata.get("source", "motion"), progress=bake_progress)
    say(f"baked {motion.num_frames} frames into action '{action.name}'")

    _write_outputs(obj, outputs, args, say)
    return [path for _, path in outputs]


def _feet_options(args, floor: str = "estimate"):
    """--no-feet-on-floor as the feet stage's options."""
    from .core.feet_stage import FeetOptions

    return FeetOptions(enabled=args.feet_on_floor, floor=floor)


def _onto_body(args, say, motion: Motion, skeleton) -> Motion:
    """A --motion of another body moved onto the armature's (the feet stage), and what changed said."""
    from .core.feet_stage import feet_on_floor, feet_summary, same_body

    if same_body(motion.skeleton, skeleton):
        return motion
    motion, report = feet_on_floor(motion, skeleton, _feet_options(args))
    say(f"the motion's body ({report['source_stature_m']:.2f} m) differs from the armature's "
        f"({report['stature_m']:.2f} m): {feet_summary(report)}")
    return motion


def _imu_motion(args, say, measurements) -> Motion:
    """--imu: read, calibrate (unless already in the core frame) and reconstruct."""
    from .core.formats.imu import read_imu
    from .core.feet_stage import feet_summary
    from .core.imu import ImuError
    from .core.imu_calibration import apply_calibration, calibrate
    from .inference.imu_pipeline import ImuSolveOptions, reconstruct_imu
    from .inference.missing_frames import imu_missing_frames
    try:
        recording = read_imu(args.imu, kind=args.imu_format)
        say(f"read {len(recording.sensors)} sensors x {recording.num_frames} frames ({recording.fps:g} fps) from {args.imu}")
        if recording.world != "core":
            calibration = calibrate(recording, pose=args.calibration_pose, start_s=args.calibration_start,
                                    duration_s=args.calibration_seconds)
            recording = apply_calibration(recording, calibration)
            heading = calibration.heading_deg
            say(f"calibrated on the {args.calibration_pose}-pose held from {args.calibration_start:g} s"
                + ("" if heading is None else f" (heading {heading:.1f} deg)"))
        options = ImuSolveOptions(mode=args.imu_mode, feet=_feet_options(args, "zero"))
        motion, report = reconstruct_imu(recording, measurements, options)
        say(f"reconstructed {report['frames']} frames ({report['mode']} mode) in {report['seconds']:.2f} s; "
            f"{feet_summary(report.get('feet'))}")
        motion = _fill_gaps(args, say, motion, lambda: imu_missing_frames(recording, report["mode"]), options.feet)
    except (ImuError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return motion


def _tracker_motion(args, say, skeleton) -> Motion:
    """--trackers: read, calibrate (with --tracker-calibration-pose) and reconstruct on ``skeleton``."""
    from .core.feet_stage import feet_summary
    from .core.formats.trackers import read_trackers
    from .core.tracker_calibration import calibrate_trackers
    from .inference.tracker_pipeline import TrackerSolveOptions, failure_summary, reconstruct_trackers
    try:
        recording = read_trackers(args.trackers, convention=args.tracker_convention, fps=args.tracker_fps,
                                  units=args.tracker_units)
        say(f"read {len(recording.names)} trackers ({', '.join(recording.names)}) x {recording.num_frames} frames "
            f"({recording.fps:g} fps, {recording.metadata.get('convention', '?')}) from {args.trackers}")
        calibration = None
        if args.tracker_calibration_pose:
            calibration = calibrate_trackers(recording, skeleton, pose=args.tracker_calibration_pose,
                                             start_s=args.tracker_calibration_start,
                                             duration_s=args.tracker_calibration_seconds)
            say(f"calibrated on the {calibration.pose}-pose held from {args.tracker_calibration_start:g} s (heading "
                f"{calibration.heading_deg:.1f} deg, {calibration.method})")
        options = TrackerSolveOptions(mode=args.tracker_mode)
        options = replace(options, feet=replace(options.feet, enabled=args.feet_on_floor))
        motion, report = reconstruct_trackers(recording, skeleton, calibration=calibration, options=options)
        say(f"reconstructed {motion.num_frames} frames ({report['mode'].replace('_', '-')} mode, {motion.fps:g} fps); "
            f"{feet_summary(report.get('feet'))}")
        if failure_summary(report):
            say(failure_summary(report))
        # The frames to fill: those whose input could not support a pose (lost or impossible samples).
        motion = _fill_gaps(args, say, motion, lambda: report["failed_frames"], options.feet)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc).rstrip(".")) from None
    return motion


def _gap_fill_options(args):
    """--fill-gaps / --gap-fill-method as GapFillOptions, or None when off."""
    from .inference.gap_fill import GapFillOptions

    return GapFillOptions(args.fill_gaps, args.gap_fill_method) if args.fill_gaps > 0 else None


def _fill_gaps(args, say, motion: Motion, missing_frames, feet=None) -> Motion:
    """With --fill-gaps, the reconstruction's gaps (``missing_frames()``, its mask) filled (the
    filled frames through the feet stage with ``feet``, the reconstruction's options) and what was
    done said (the motion is baked from frame 1)."""
    from .inference.gap_fill import fill_reconstruction, gap_fill_summary

    options = _gap_fill_options(args)
    if options is None:
        return motion
    motion, report = fill_reconstruction(motion, missing_frames(), options, first_frame=1, feet=feet)
    if gap_fill_summary(report):
        say(gap_fill_summary(report))
    return motion


def _run_landmarks(args, say, outputs, measurements) -> list[Path]:
    """--landmarks: the file as landmark empties, solved onto a new armature with the performer's
    skeleton (blended with the measurements with --blend-measurements), then the outputs."""
    for label, value in (("--threshold", args.threshold), ("--strength", args.strength)):
        if not 0.0 <= value <= 1.0:
            raise CliError(f"{label} {value} is out of range: expected 0 to 1")
    if not args.landmarks.is_file():
        raise CliError(f"{args.landmarks}: no such file")
    say("starting Blender")
    import bpy  # imported late: argument errors are reported without loading Blender

    from . import register
    from .blender.landmark_solve import import_landmarks, summary
    from .core.landmark_pipeline import SolveOptions

    bpy.ops.wm.read_factory_settings(use_empty=True)
    _ensure_registered(register)
    try:
        result = import_landmarks(args.landmarks, layout=args.landmark_layout, up_axis=args.up_axis,
                                  threshold=args.threshold,
                                  solve=SolveOptions(strength=args.strength, feet=args.feet_on_floor),
                                  measurements=measurements if args.blend_measurements else None,
                                  with_body=not args.no_body, gap_fill=_gap_fill_options(args))
    except (ValueError, OSError) as exc:
        raise CliError(str(exc).rstrip(".")) from None
    seq, solved = result.sequence, result.solve
    say(f"read {len(seq.names)} landmarks x {seq.num_frames} frames ({seq.fps:g} fps) from {args.landmarks}")
    say(f"solved onto armature '{solved.armature.name}' as action '{solved.action.name}': {summary(solved.report)}")
    _write_outputs(solved.armature, outputs, args, say)
    return [path for _, path in outputs]


def _write_outputs(obj, outputs, args, say) -> None:
    """Write every output to a temporary file; rename them only when all succeeded."""
    import bpy

    from .blender.export import export_bvh, export_fbx

    temporaries: list[tuple[Path, Path]] = []
    try:
        for kind, path in outputs:
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
            temporaries.append((tmp, path))
            say(f"writing {path}")
            if kind == "fbx":
                export_fbx(obj, tmp, preset=args.preset)
            elif kind == "bvh":
                export_bvh(obj, tmp)
            else:
                result = bpy.ops.wm.save_as_mainfile(filepath=str(tmp.resolve()), copy=True, check_existing=False)
                if "FINISHED" not in result or not tmp.exists():
                    raise RuntimeError(f"{path}: Blender did not save the file")
        for tmp, path in temporaries:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temporaries:
            if tmp.exists():
                tmp.unlink()
    say("done")


def _ensure_registered(register):
    import bpy

    if not hasattr(bpy.types.Object, "sparse_mocap_subject"):
        register()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = script_args(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a usage line
        return int(exc.code or 0) and 2
    try:
        for path in run(args):
            print(path)
        return 0
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line for the user, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
