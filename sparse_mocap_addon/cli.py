"""Headless entry point: a personalised armature, a baked motion, and .blend / .fbx / .bvh outputs.

Runs the same way in four places:
    sparse-mocap --demo --height 1.80 --fbx walk.fbx                    (after `pip install .`)
    python -m sparse_mocap_addon --mocap 01_01.bvh.gz --fbx 01_01.fbx
    python sparse_mocap_addon/cli.py -- --demo --fbx walk.fbx            (plain Python + bpy module)
    blender --background --python sparse_mocap_addon/cli.py -- --demo --fbx walk.fbx

Inputs: --mocap (BVH, ASF/AMC, FBX, CMU exp-map), --imu, --trackers, --landmarks, --motion, --demo;
with --batch the input is a folder or a glob and every take in it is written to --out-dir.
With --character the result goes onto the user's own character rig (a .blend or .fbx file) as a new
action, and the outputs hold that character instead of a new SMPL armature.
With --smpl-model (your SMPL, SMPL+H or SMPL-X file) the new armature is that model's body fitted to
the input's skeleton, and --amass also writes the result as AMASS-style npz.

stdout carries only the paths written (one a line); progress, Blender's own messages and errors go
to stderr. Bad input exits with status 2 and one line ``error: ...``; a failure while writing exits
with status 1; a batch exits with 1 when any take failed. Outputs are written to temporary files and
renamed only once all of them succeeded, so no partial output file is ever left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script (blender --python / python path/cli.py)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "sparse_mocap_addon"  # noqa: A001 - lets the relative imports below resolve

from .core.body.measurements import BodyMeasurements, MeasurementError, skeleton_from_measurements  # noqa: E402
from .core.body.demo import demo_motion  # noqa: E402
from .core.kinematics.motion import Motion, MotionFileError  # noqa: E402
from .core.mocap.onto_rig import ROOT_MOTION  # noqa: E402
from .core.mocap.target_rig import BUILTIN_RIG_MAPS  # noqa: E402
from .video.mono import DEFAULT_FOV_DEG  # noqa: E402

FBX_PRESETS = ("unity", "unreal")
OUTPUT_KINDS = ("fbx", "bvh", "blend")
INPUTS = ("mocap", "imu", "trackers", "landmarks", "video", "cameras", "motion")   # the flags that name an input
LANDMARK_INPUTS = ("landmarks", "video", "cameras")     # solved by the landmark pipeline
DEMO_TAKE = "demo_walk"
DEFAULT_HEIGHT = 1.75
BODY_FLAGS = ("height", "arm_length", "leg_length", "sex", "shoulder_width", "hip_width")
MOCAP_SUFFIXES = (".bvh", ".bvh.gz", ".amc", ".amc.gz", ".fbx", ".txt", ".txt.gz")
CHARACTER_SUFFIXES = (".blend", ".fbx")
BATCH_BLEND_SUFFIX = "_takes"   # --batch --character --format blend: <character>_takes.blend
SMPL_BETAS = 10                 # --betas' default
OUTPUT_SUFFIXES = {"amass": ".npz"}   # an output kind's file suffix where it is not ".<kind>"


class CliError(Exception):
    """Bad input: reported as one line and exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sparse-mocap",
        description="Bake a motion onto a personalised SMPL armature and write .blend / .fbx / .bvh. "
                    "stdout lists the files written; progress goes to stderr.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--mocap", metavar="FILE",
                     help="a mocap take (.bvh, .amc with --asf, .fbx through Blender's importer, CMU exp-map .txt; "
                          "text may be gzipped), retargeted as Import Mocap does")
    src.add_argument("--motion", metavar="FILE", help="a sparse_mocap Motion file (.npz)")
    src.add_argument("--demo", action="store_true", help="use the built-in demo walk (the default)")
    src.add_argument("--landmarks", metavar="FILE",
                     help="a 3D landmark file (.trc, .json, .csv, .npy, .npz), solved onto the performer's skeleton "
                          "measured from it")
    src.add_argument("--video", metavar="FILE|FOLDER",
                     help="a video (.mp4 .mov .avi .mkv .webm) or a folder of images: MediaPipe Pose landmarks placed "
                          "in front of the camera, then solved as --landmarks")
    src.add_argument("--cameras", metavar="FOLDER",
                     help="a folder of synchronised videos of calibrated cameras and their calibration (Pose2Sim / "
                          "Anipose TOML, Qualisys .qca.txt): landmarks triangulated, then solved as --landmarks")
    src.add_argument("--imu", metavar="PATH",
                     help="an IMU recording (TransPose .pt/.npz, generic CSV, Xsens MT, Movella DOT, x-io folder), "
                          "calibrated and reconstructed by the IMU poser or, for dense leg sets, directly")
    src.add_argument("--trackers", metavar="FILE",
                     help="a VR / positional tracker recording (.csv, .json, .npz), reconstructed from the head, "
                          "hands and (optionally) pelvis and feet")
    p.add_argument("--demo-seconds", type=float, default=4.0, help="length of the demo walk (default 4 s)")
    p.add_argument("--fps", type=float, metavar="RATE",
                   help="frame rate: with --landmarks the file's own (for files that store none; 30 is assumed and "
                        "said otherwise); with any other input the output is resampled to it (default: the take's "
                        "own rate)")
    mocap = p.add_argument_group("mocap takes (with --mocap)")
    mocap.add_argument("--asf", metavar="FILE", help="the .asf skeleton of an AMC take (default: the .asf beside it)")
    mocap.add_argument("--source-fps", type=float, metavar="RATE",
                       help="frame rate of takes that store none: AMC and CMU exp-map (default 120), TransPose IMU "
                            "tensors (default 60)")
    mocap.add_argument("--joint-map", metavar="NAME|FILE",
                       help="a built-in joint map's name or a JSON joint map file (default: detected from the rig's "
                            "joint names)")
    mocap.add_argument("--reference", default="auto",
                       help="reference pose: auto, zero (the rig's zero pose) or a frame number (default auto)")
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
    vid = p.add_argument_group("video (with --video or --cameras)")
    vid.add_argument("--calibration", metavar="FILE",
                     help="the cameras' calibration (default: the one .toml or .qca.txt in the --cameras folder)")
    vid.add_argument("--focal-px", type=float, metavar="PIXELS",
                     help="the --video camera's focal length in pixels, when known (default: from --fov)")
    vid.add_argument("--fov", type=float, default=DEFAULT_FOV_DEG, metavar="DEGREES",
                     help=f"the --video camera's field of view across the image's long side (default {DEFAULT_FOV_DEG:g}, "
                          "a phone's main camera)")
    vid.add_argument("--video-start", type=int, default=0, metavar="FRAME", help="first frame to use (default 0)")
    vid.add_argument("--video-frames", type=int, metavar="COUNT", help="at most this many frames (default: all)")
    vid.add_argument("--landmarks-out", type=Path, metavar="FILE",
                     help="where the detected landmarks are written (default: beside the video, "
                          "<name>.landmarks.json; beside the camera folder's videos, <folder>.trc)")
    imu = p.add_argument_group("IMU recordings (with --imu)")
    imu.add_argument("--imu-format", default="auto", help="reader to use (default: from the file)")
    imu.add_argument("--imu-segment", action="append", default=[], metavar="SENSOR=SEGMENT",
                     help="the body segment a sensor rides, e.g. 00B421E6=left_foot (repeatable; also "
                          "'a=b, c=d' or a JSON file {\"sensor\": \"segment\"}); segments: pelvis, head, chest, "
                          "left/right_upper_arm, _forearm, _hand, _upper_leg, _lower_leg, _foot")
    imu.add_argument("--imu-heading", default="auto", metavar="HEADING",
                     help="the direction the wearer faced while calibrating: auto, knees, left_knee, right_knee, "
                          "core, or degrees counter-clockwise from above from the device's +X (default auto)")
    imu.add_argument("--imu-up", choices=("+X", "-X", "+Y", "-Y", "+Z", "-Z"),
                     help="the device world's up axis, for files that do not state it")
    imu.add_argument("--imu-start", type=float, default=0.0, metavar="SECONDS",
                     help="start of the part to reconstruct, seconds from the recording's first frame (default 0)")
    imu.add_argument("--imu-duration", type=float, metavar="SECONDS",
                     help="length of the part to reconstruct, seconds (default: to the end)")
    imu.add_argument("--calibration-pose", choices=("t", "n"), default="t",
                     help="the pose held at the start of a device-world recording (default t)")
    imu.add_argument("--calibration-start", type=float, default=0.0,
                     help="start of the held pose, seconds from the recording's first frame")
    imu.add_argument("--calibration-seconds", type=float, default=2.0, help="length of the held pose, seconds "
                                                                            "(default 2)")
    imu.add_argument("--imu-mode", choices=("auto", "network", "direct"), default="auto")
    trk = p.add_argument_group("tracker recordings (with --trackers)")
    trk.add_argument("--tracker-convention", choices=("unity", "unreal", "openxr", "steamvr", "blender", "core"),
                     help="coordinate convention of the file (default: the one the file states)")
    trk.add_argument("--tracker-units", choices=("m", "cm", "mm"),
                     help="length unit of the file (default: the file's, else the convention's)")
    trk.add_argument("--tracker-fps", type=float, help="resample the samples to this rate before solving "
                                                       "(default: the file's)")
    trk.add_argument("--tracker-mode", choices=("auto", "six_point", "three_point", "analytic"), default="auto",
                     help="solver (default auto: six-point with pelvis, head, hands and feet, else three-point)")
    trk.add_argument("--tracker-calibration-pose", choices=("t", "a", "n"),
                     help="calibrate on this pose held at the start (default: no calibration, the devices taken "
                          "to sit on their joints)")
    trk.add_argument("--tracker-calibration-start", type=float, default=0.0, help="start of the held pose, seconds")
    trk.add_argument("--tracker-calibration-seconds", type=float, default=1.0,
                     help="length of the held pose, seconds (default 1)")
    trk.add_argument("--tracker-heading", default="auto", metavar="HEADING",
                     help="the direction the wearer faced while calibrating: auto, positions, head, or degrees "
                          "(default auto)")
    gap = p.add_argument_group("gap filling (with --landmarks, --imu or --trackers)")
    gap.add_argument("--fill-gaps", type=float, default=1.0, metavar="SECONDS",
                     help="fill the frames whose input was lost (the head or reference tracker, an IMU sample, most "
                          "landmarks) in gaps up to this long (default 1; 0: off)")
    gap.add_argument("--gap-fill-method", choices=("predictor", "slerp"), default="predictor",
                     help="the learned motion predictor (slerp when it is not installed) or slerp (default predictor)")
    p.add_argument("--no-mirror-average", dest="mirror_average", action="store_false",
                   help="run the offline networks (--imu, --trackers) once, not also on the recording's mirror "
                        "image averaged in: about twice as fast for a slightly less accurate pose")
    p.add_argument("--no-feet-on-floor", dest="feet_on_floor", action="store_false",
                   help="leave the feet raw: by default feet that touch the floor are planted on it (no sliding), no "
                        "foot goes under it, and a --motion of another body has its root path fitted to the "
                        "armature's legs")
    body = p.add_argument_group("body measurements (metres; a --mocap take keeps the performer's body measured from "
                                "the file unless one of these is given)")
    body.add_argument("--height", type=float, help=f"standing height (default {DEFAULT_HEIGHT})")
    body.add_argument("--arm-length", type=float, help="armpit to wrist (default: from the table)")
    body.add_argument("--leg-length", type=float, help="hip joint to ankle (default: from the table)")
    body.add_argument("--sex", choices=("neutral", "male", "female"), help="(default neutral)")
    body.add_argument("--shoulder-width", type=float, help="acromion to acromion (optional)")
    body.add_argument("--hip-width", type=float, help="across the greater trochanters (optional)")
    out = p.add_argument_group("outputs (at least one)")
    out.add_argument("--blend", type=Path, help="write a .blend file")
    out.add_argument("--fbx", type=Path, help="write an .fbx file")
    out.add_argument("--preset", choices=FBX_PRESETS, default="unity", help="FBX target (default unity)")
    out.add_argument("--bvh", type=Path, help="write a .bvh file")
    out.add_argument("--out-dir", type=Path, metavar="DIR",
                     help="write <take>.<format> files into this folder (named after the take; the form --batch "
                          "needs)")
    out.add_argument("--format", action="append", choices=OUTPUT_KINDS, dest="formats",
                     help="what --out-dir gets: fbx, bvh or blend (repeatable; default fbx)")
    char = p.add_argument_group("onto your own character (instead of a new SMPL armature)")
    char.add_argument("--character", metavar="FILE",
                      help="a .blend holding the character's armature, or an .fbx read with Blender's importer: the "
                           "result goes onto it as a new action (its own actions kept), and --blend/--fbx/--bvh write "
                           "that character (with its meshes)")
    char.add_argument("--character-object", metavar="NAME",
                      help="the armature to use when the --character file holds several")
    char.add_argument("--bone-map", metavar="NAME|FILE",
                      help=f"the character's bone map: a built-in one ({', '.join(BUILTIN_RIG_MAPS)}) or a JSON "
                           "bone map file (default: detected from the bone names)")
    char.add_argument("--root-motion", choices=ROOT_MOTION,
                      help="where the travel goes: root (a floor-level root bone above the hips, as UE and CC rigs "
                           "have), hips, or auto (root where the rig has one). Default: the character's own setting "
                           "(Character panel, saved in its .blend), else auto")
    char.add_argument("--hands", action=argparse.BooleanOptionalAction, default=None,
                      help="re-solve the arms so the wrists reach where the performer's were (a hand on a prop); "
                           "--no-hands: the arms turn as the performer's did. Default: the character's own setting, "
                           "else off")
    smpl = p.add_argument_group("your SMPL body (a model file you have: SMPL, SMPL+H or SMPL-X, .pkl or .npz)")
    smpl.add_argument("--smpl-model", type=Path, metavar="FILE",
                      help="the new armature is this model's body, its betas fitted to the input's skeleton (the "
                           "model's mesh with one shape key per beta instead of the default body)")
    smpl.add_argument("--smpl-gender", choices=("neutral", "female", "male"),
                      help="the model file's gender (default: from its file name, else neutral)")
    smpl.add_argument("--betas", type=int, metavar="N", help=f"how many betas to fit (default {SMPL_BETAS})")
    smpl.add_argument("--amass", type=Path, metavar="OUT.npz",
                      help="also write the result as an AMASS-style .npz (poses, trans, betas, gender, frame rate); "
                           "needs --smpl-model")
    p.add_argument("--batch", action="store_true",
                   help="the input flag names a folder or a glob ('takes/*.bvh.gz', quoted): every take in it is "
                        "written to --out-dir; a bad take is reported and skipped, and the exit status is 1 if any "
                        "failed. With --character, --format blend writes one <character>_takes.blend holding an "
                        "action per take")
    p.add_argument("--name", help="armature name (default Subject; a --mocap take's own name for the performer's "
                                  "body; a --character keeps its own)")
    p.add_argument("--no-body", action="store_true", help="armature only, without the default body mesh (a "
                                                          "--character keeps its meshes)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def script_args(argv: list[str]) -> list[str]:
    """Arguments meant for us: everything after ``--`` when there is one (Blender's convention)."""
    return argv[argv.index("--") + 1:] if "--" in argv else argv


# --- the input, its take name and the outputs ----------------------------------------------------

def input_kind(args) -> str:
    """Which input flag was given ("demo" when none)."""
    return next((kind for kind in INPUTS if getattr(args, kind)), "demo")


def take_label(args) -> str:
    """The take's name, for the action, the FBX take and --out-dir's files: the file name without its
    format suffixes (``01_01.bvh.gz`` -> ``01_01``), the folder's for a folder recording."""
    kind = input_kind(args)
    if kind == "demo":
        return DEMO_TAKE
    path = Path(getattr(args, kind))
    if kind == "imu":
        from .blender.imu_solve import recording_name
        return recording_name(path)
    from .blender.mocap_import import take_name
    return take_name(path)


def _check_outputs(args) -> list[tuple[str, Path]]:
    """The (kind, path) pairs to write: --blend/--fbx/--bvh, or --out-dir's <take>.<format> files."""
    named = [(kind, path) for kind, path in (("blend", args.blend), ("fbx", args.fbx), ("bvh", args.bvh),
                                             ("amass", args.amass)) if path]
    if args.out_dir is not None:
        if named:
            raise CliError("give either --out-dir (files named after the take) or --blend/--fbx/--bvh, not both")
        if not args.out_dir.is_dir():
            raise CliError(f"{args.out_dir}: --out-dir needs an existing folder")
        take = take_label(args)
        return [(kind, args.out_dir / f"{take}.{kind}") for kind in dict.fromkeys(args.formats or ["fbx"])]
    if args.formats:
        raise CliError("--format chooses what --out-dir gets; give --out-dir too")
    if not named:
        raise CliError("nothing to write: give at least one of --blend, --fbx, --bvh or --out-dir")
    for kind, path in named:
        suffix = OUTPUT_SUFFIXES.get(kind, f".{kind}")
        if path.suffix.lower() != suffix:
            raise CliError(f"{path}: --{kind} needs a file name ending in {suffix}")
        if not path.parent.resolve().is_dir():
            raise CliError(f"{path}: the folder {path.parent} does not exist")
    return named


def _check_numbers(args) -> None:
    """The numeric options: one sentence naming the flag when one is out of range."""
    if not (math.isfinite(args.fill_gaps) and args.fill_gaps >= 0.0):
        raise CliError(f"--fill-gaps {args.fill_gaps} is out of range: expected a number of seconds, 0 for off")
    for flag, value in (("--fps", args.fps), ("--source-fps", args.source_fps), ("--tracker-fps", args.tracker_fps)):
        if value is not None and not (math.isfinite(value) and 0.0 < value <= 1000.0):
            raise CliError(f"{flag} {value:g} is out of range: expected a frame rate above 0 and up to 1000")
    if not (math.isfinite(args.imu_start) and args.imu_start >= 0.0):
        raise CliError(f"--imu-start {args.imu_start:g} is out of range: expected seconds, 0 or more")
    if args.imu_duration is not None and not (math.isfinite(args.imu_duration) and args.imu_duration > 0.0):
        raise CliError(f"--imu-duration {args.imu_duration:g} is out of range: expected seconds, more than 0")


def _measurements(args) -> BodyMeasurements:
    """The body flags as measurements (height 1.75 m and the table when none is given)."""
    values = {key: getattr(args, key) for key in BODY_FLAGS}
    values["height"] = DEFAULT_HEIGHT if values["height"] is None else values["height"]
    values["sex"] = values["sex"] or "neutral"
    return BodyMeasurements(**values)


def _body_given(args) -> bool:
    return any(getattr(args, key) is not None for key in BODY_FLAGS)


class _Progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.start = time.perf_counter()

    def __call__(self, message: str):
        if not self.quiet:
            print(f"[sparse_mocap {time.perf_counter() - self.start:6.2f}s] {message}", file=sys.stderr, flush=True)


# --- one take ------------------------------------------------------------------------------------

def run(args, collect: list | None = None) -> list[Path]:
    """Read the input named by ``args``, bake it onto an armature (a new SMPL one, or the --character)
    and write the outputs; returns the paths written. Raises :class:`CliError` on bad input.

    ``collect`` (a --batch onto one character's .blend): the take's (name, motion) is appended to it
    and its .blend is left to the batch; the character was checked by the batch."""
    say = _Progress(args.quiet)
    _check_numbers(args)
    outputs = _check_outputs(args)
    character = character_request(args)
    _check_smpl_model(args, character)
    if collect is not None:
        outputs = [(kind, path) for kind, path in outputs if kind != "blend"]
    measurements = _measurements(args)
    try:
        skeleton = skeleton_from_measurements(measurements)
    except MeasurementError as exc:
        raise CliError(str(exc)) from None
    loaded = None
    if character is not None and collect is None:
        say("starting Blender")
        loaded = load_character(character, say)   # refused before the take is read
    kind = input_kind(args)
    if kind in LANDMARK_INPUTS:
        obj, motion = _landmarks_armature(args, say, measurements)
    elif kind == "mocap":
        obj, motion = _mocap_armature(args, say)
    else:
        motion = _resampled(args, say, _take_motion(args, say, kind, measurements, skeleton, character))
        obj = _smpl_armature(args, say, motion, skeleton, measurements) if character is None else None
    taken = None if collect is None else (take_label(args), motion)
    if character is not None and outputs:
        if not _still_loaded(loaded):   # the input's own Blender work replaced the character's file
            loaded = load_character(character, lambda message: None)
        obj = _bake_onto_character(args, say, character, loaded, motion, take_label(args))
    del motion                           # Blender holds the take now; the writer needs the memory
    if outputs:
        _write_outputs(obj, outputs, args, say)
    if taken is not None:
        collect.append(taken)
    return [path for _, path in outputs]


def _take_motion(args, say, kind: str, measurements, skeleton, character) -> Motion:
    """The Motion of an input read without Blender: --imu, --trackers, --motion or the demo. A
    --motion goes onto the armature's body here, or onto the character's when it is baked there."""
    if kind == "imu":
        return _imu_motion(args, say, measurements)
    if kind == "trackers":
        return _tracker_motion(args, say, skeleton)
    if kind == "motion":
        motion = _load_motion(Path(args.motion), say)
        return motion if character is not None else _onto_body(args, say, motion, skeleton)
    if not 0.1 <= args.demo_seconds <= 3600:
        raise CliError(f"--demo-seconds {args.demo_seconds} is out of range: expected 0.1 to 3600")
    motion = demo_motion(skeleton, seconds=args.demo_seconds)
    say(f"generated the demo walk ({motion.num_frames} frames at {motion.fps:g} fps)")
    return motion


def _smpl_armature(args, say, motion: Motion, skeleton, measurements):
    """A new personalised SMPL armature with ``motion`` baked into a new action (the default target)."""
    say("starting Blender")  # imported late: argument errors are reported without loading Blender
    from .blender.armature import create_armature
    from .blender.bake import bake_motion, keys_for

    _fresh_scene(args)
    obj = create_armature(skeleton, name=args.name or "Subject", with_mesh=not args.no_body)
    subject = obj.sparse_mocap_subject
    subject.height = measurements.height
    subject.sex = measurements.sex
    for key in ("arm_length", "leg_length", "shoulder_width", "hip_width"):
        setattr(subject, key, getattr(measurements, key) or 0.0)
    say(f"created armature '{obj.name}' for a {measurements.height:.2f} m {measurements.sex} subject")
    if args.smpl_model is not None:   # the SMPL body's skeleton is the fit's: the motion goes onto it
        from .blender.bake import fit_to_armature

        _say_smpl_body(args, say, obj)
        motion, _ = fit_to_armature(obj, motion, _feet_options(args))

    keys = keys_for(motion.num_frames)   # a long take as sampled curves: a quarter of Blender's memory
    action = bake_motion(obj, motion, action_name=take_label(args), progress=_bake_progress(say), keys=keys)
    say(f"baked {motion.num_frames} frames into action '{action.name}'" + (
        "" if keys == "keyframes" else " as sampled curves (a long take; the Graph Editor's Samples to Keys makes "
                                       "them editable keys)"))
    return obj


def _say_smpl_body(args, say, obj) -> None:
    """With --smpl-model, the body the new armature got (kind, betas, how well they fit)."""
    if args.smpl_model is not None:
        from .blender.smpl_body import fit_text

        say(f"with {args.smpl_model.name}'s body: {fit_text(obj)}")


def _bake_progress(say, doing: str = "baking"):
    """A progress callback that says "<doing> NN%" every quarter."""
    last = [-1]

    def progress(fraction):
        step = int(fraction * 4)
        if step > last[0]:
            last[0] = step
            say(f"{doing} {int(fraction * 100):3d}%")

    return progress


def _fresh_scene(args=None):
    """An empty Blender file with the add-on registered (and ``args``' --smpl-model set in its scene:
    every armature made in it has that body)."""
    import bpy

    from . import register

    bpy.ops.wm.read_factory_settings(use_empty=True)
    if not hasattr(bpy.types.Object, "sparse_mocap_subject"):
        register()
    if args is not None and args.smpl_model is not None:
        settings = bpy.context.scene.sparse_mocap_body_model
        settings.gender = (args.smpl_gender or "auto").upper()
        settings.num_betas = args.betas or SMPL_BETAS
        settings.filepath = str(args.smpl_model.resolve())


def _check_smpl_model(args, character) -> None:
    """--smpl-model, --smpl-gender, --betas and --amass checked before anything is read or written:
    the model file read (numpy alone, no Blender yet), one sentence naming the flag otherwise."""
    if args.smpl_model is None:
        for flag, value in (("--amass", args.amass), ("--smpl-gender", args.smpl_gender), ("--betas", args.betas)):
            if value is not None:
                raise CliError(f"{flag} needs --smpl-model FILE (your SMPL, SMPL+H or SMPL-X model file)")
        return
    if character is not None:
        raise CliError("--smpl-model gives a new SMPL armature your model's body; it cannot go with --character "
                       "(the result goes onto your own rig)")
    from .core.body.smpl_model import BodyModelError, load_body_model

    try:
        model = load_body_model(args.smpl_model, args.smpl_gender)
    except BodyModelError as exc:
        raise CliError(f"--smpl-model: {str(exc).rstrip('.')}") from None
    if args.betas is not None and not 1 <= args.betas <= model.num_betas:
        raise CliError(f"--betas {args.betas} is out of range: {args.smpl_model} has 1 to {model.num_betas} betas")


def _load_motion(path: Path, say) -> Motion:
    if path.name.lower().endswith(MOCAP_SUFFIXES):
        raise CliError(f"{path}: --motion reads sparse_mocap Motion files (.npz); a mocap take goes in with --mocap")
    try:
        motion = Motion.load(path)
    except MotionFileError as exc:
        raise CliError(str(exc)) from None
    say(f"loaded {path} ({motion.num_frames} frames at {motion.fps:g} fps)")
    return motion


def _resampled(args, say, motion: Motion) -> Motion:
    """With --fps, the motion resampled to it, and that said."""
    if args.fps is None or abs(args.fps - motion.fps) < 1e-9 * args.fps:
        return motion
    from .core.kinematics.resample import resample_motion

    resampled = resample_motion(motion, args.fps)
    say(f"resampled from {motion.fps:g} fps ({motion.num_frames} frames) to {args.fps:g} fps "
        f"({resampled.num_frames} frames) as --fps asks")
    return resampled


def _feet_options(args, floor: str = "estimate"):
    """--no-feet-on-floor as the feet stage's options."""
    from .core.feet.stage import FeetOptions

    return FeetOptions(enabled=args.feet_on_floor, floor=floor)


def _onto_body(args, say, motion: Motion, skeleton) -> Motion:
    """A --motion of another body moved onto the armature's (the feet stage), and what changed said."""
    from .core.feet.stage import feet_on_floor, feet_summary, same_body

    if same_body(motion.skeleton, skeleton):
        return motion
    motion, report = feet_on_floor(motion, skeleton, _feet_options(args))
    say(f"the motion's body ({report['source_stature_m']:.2f} m) differs from the armature's "
        f"({report['stature_m']:.2f} m): {feet_summary(report)}")
    return motion


# --- mocap ---------------------------------------------------------------------------------------

def _mocap_armature(args, say):
    """--mocap: the take retargeted and baked as Import Mocap does (blender/mocap_import.py): onto a
    new armature with the performer's body measured from the take, or the body flags' when given;
    the file's frame rate unless --fps resamples. Returns (armature, the baked motion)."""
    path = Path(args.mocap)
    say("starting Blender")
    from .blender.mocap_import import import_mocap
    from .core.feet.stage import FeetOptions, feet_summary

    measurements = _measurements(args) if _body_given(args) else None
    _fresh_scene(args)
    try:
        result = import_mocap(path, measurements=measurements, asf_path=args.asf, source_fps=args.source_fps,
                              joint_map=_joint_map(args.joint_map), rest_reference=_rest_reference(args.reference),
                              fps=args.fps, with_body=not args.no_body,
                              name=args.name or ("Subject" if measurements else None),
                              feet=FeetOptions(enabled=args.feet_on_floor))
    except (ValueError, OSError) as exc:   # the readers' and the core's errors are ValueErrors
        raise CliError(naming(path, str(exc).rstrip("."))) from None
    source, motion, obj = result.source, result.motion, result.armature
    say(f"read {source.num_frames} frames at {source.fps:g} fps from {path} (joint map {result.joint_map.name}, "
        f"reference {result.reference})")
    if source.metadata.get("fps_assumed"):
        say(f"{source.metadata.get('note', 'the file stores no frame rate')}; --source-fps gives another")
    if args.fps is not None and abs(args.fps - source.fps) > 1e-9 * args.fps:
        say(f"resampled from {source.fps:g} fps to {motion.fps:g} fps ({motion.num_frames} frames) as --fps asks")
    body = (f"the performer's body measured from the take ({obj.sparse_mocap_subject.height:.2f} m)"
            if measurements is None else f"a {measurements.height:.2f} m {measurements.sex} subject")
    say(f"baked {motion.num_frames} frames onto new armature '{obj.name}' ({body}) as action "
        f"'{result.action.name}'; {feet_summary(result.feet)}")
    _say_smpl_body(args, say, obj)
    return obj, motion


def _joint_map(text: str | None):
    """--joint-map: None (detect), a built-in map's name, or a JSON file."""
    if not text:
        return None
    from .core.mocap.joint_maps import BUILTIN_MAPS, load_joint_map

    if text in BUILTIN_MAPS:
        return BUILTIN_MAPS[text]
    if not text.lower().endswith(".json"):
        raise CliError(f"--joint-map {text!r} is neither a built-in map ({', '.join(BUILTIN_MAPS)}) nor a .json file")
    try:
        return load_joint_map(text)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc).rstrip(".")) from None


def _rest_reference(text: str):
    """--reference: "auto", "zero" or a frame number."""
    if text in ("auto", "zero"):
        return text
    if text.isdigit():
        return int(text)
    raise CliError(f"--reference {text!r}: expected auto, zero or a frame number (0 = the first)")


# --- IMU -----------------------------------------------------------------------------------------

def _imu_motion(args, say, measurements) -> Motion:
    """--imu: read (with --imu-segment names), calibrate (unless already in the core frame) on the
    calibration window, cut to --imu-start/--imu-duration, and reconstruct."""
    from .blender.imu_solve import read_recording
    from .core.feet.stage import feet_summary
    from .core.imu.recording import ImuError
    from .core.imu.calibration import apply_calibration, calibrate
    from .pipelines.imu import ImuSolveOptions, network_summary, reconstruct_imu
    from .pipelines.missing_frames import imu_missing_frames
    heading = _heading(args.imu_heading, "--imu-heading", IMU_HEADINGS)
    try:
        segments = _imu_segments(args.imu_segment)
        recording, _ = read_recording(args.imu, kind=args.imu_format, fps=None, source_fps=args.source_fps,
                                      sensor_names=segments)
        say(f"read {len(recording.sensors)} sensors ({', '.join(recording.sensors)}) x {recording.num_frames} "
            f"frames ({recording.fps:g} fps) from {args.imu}")
        if recording.world != "core":
            calibration = calibrate(recording, pose=args.calibration_pose, start_s=args.calibration_start,
                                    duration_s=args.calibration_seconds, heading=heading, up=args.imu_up)
            recording = apply_calibration(recording, calibration)
            facing = calibration.heading_deg
            say(f"calibrated on the {args.calibration_pose}-pose held from {args.calibration_start:g} s"
                + ("" if facing is None else f" (heading {facing:.1f} deg, "
                                             f"{calibration.metadata['heading']['method']})"))
        recording = _imu_window(recording, args.imu_start, args.imu_duration, say)
        options = ImuSolveOptions(mode=args.imu_mode, feet=_feet_options(args, "zero"),
                                  mirror_average=args.mirror_average)
        motion, report = reconstruct_imu(recording, measurements, options)
        model = network_summary(report)
        model = f", {model}" if model else ""
        say(f"reconstructed {report['frames']} frames ({report['mode']} mode{model}) in {report['seconds']:.2f} s; "
            f"{feet_summary(report.get('feet'))}")
        motion = _fill_gaps(args, say, motion, lambda: imu_missing_frames(recording, report["mode"]), options.feet)
    except (ImuError, ValueError, OSError) as exc:
        raise CliError(naming(args.imu, cli_wording(str(exc), "imu"))) from None
    return motion


def _imu_segments(values: list[str]) -> dict:
    """--imu-segment values (``SENSOR=SEGMENT``, ``a=b, c=d`` or a JSON file) as one {sensor: segment}."""
    from .blender.imu_solve import parse_sensor_names

    mapping = {}
    for value in values:
        if "=" not in value and value.lower().endswith(".json"):
            try:
                loaded = json.loads(Path(value).read_text())
            except (OSError, ValueError) as exc:
                raise CliError(f"{value}: --imu-segment expected a JSON object {{\"sensor\": \"segment\"}} "
                               f"({exc})") from None
            if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
                raise CliError(f"{value}: --imu-segment expected a JSON object {{\"sensor\": \"segment\", ...}}")
            value = ", ".join(f"{k}={v}" for k, v in loaded.items())
        mapping.update(parse_sensor_names(value))
    return mapping


IMU_HEADINGS = ("auto", "knees", "left_knee", "right_knee", "core")
TRACKER_HEADINGS = ("auto", "positions", "head")


def _heading(text: str, flag: str, names: tuple):
    """--imu-heading / --tracker-heading: one of ``names`` or a finite number of degrees."""
    if text in names:
        return text
    try:
        degrees = float(text)
    except ValueError:
        degrees = math.nan
    if not math.isfinite(degrees):
        raise CliError(f"{flag} {text!r}: expected {', '.join(names)} or a number of degrees")
    return degrees


def _imu_window(recording, start_s: float, duration_s: float | None, say):
    """The recording cut to ``[start_s, start_s + duration_s)`` (--imu-start / --imu-duration)."""
    if start_s == 0.0 and duration_s is None:
        return recording
    from .core.imu.recording import ImuRecording

    fps, total = recording.fps, recording.num_frames
    first = int(round(start_s * fps))
    stop = total if duration_s is None else min(total, first + int(round(duration_s * fps)))
    if stop - first < 2:
        raise CliError(f"{recording.source}: --imu-start {start_s:g} s leaves {max(stop - first, 0)} frame(s) of the "
                       f"recording ({total} frames, {total / fps:.2f} s); at least two are needed")
    metadata = dict(recording.metadata)
    if metadata.get("times") is not None and len(metadata["times"]) == total:
        metadata["times"] = metadata["times"][first:stop]
    say(f"reconstructing frames {first}-{stop - 1} ({first / fps:.2f}-{stop / fps:.2f} s) of {total}")
    return ImuRecording(recording.sensors, recording.orientation[first:stop], recording.acceleration[first:stop],
                        fps, recording.valid[first:stop], recording.world, recording.source, metadata)


# --- trackers ------------------------------------------------------------------------------------

def _tracker_motion(args, say, skeleton) -> Motion:
    """--trackers: read, calibrate (with --tracker-calibration-pose) and reconstruct on ``skeleton``."""
    from .core.feet.stage import feet_summary
    from .core.trackers.formats import read_trackers
    from .core.trackers.calibration import calibrate_trackers
    from .pipelines.trackers import TrackerSolveOptions, failure_summary, network_summary, reconstruct_trackers
    heading = _heading(args.tracker_heading, "--tracker-heading", TRACKER_HEADINGS)
    try:
        recording = read_trackers(args.trackers, convention=args.tracker_convention, fps=args.tracker_fps,
                                  units=args.tracker_units)
        say(f"read {len(recording.names)} trackers ({', '.join(recording.names)}) x {recording.num_frames} frames "
            f"({recording.fps:g} fps, {recording.metadata.get('convention', '?')}) from {args.trackers}")
        calibration = None
        if args.tracker_calibration_pose:
            calibration = calibrate_trackers(recording, skeleton, pose=args.tracker_calibration_pose,
                                             start_s=args.tracker_calibration_start,
                                             duration_s=args.tracker_calibration_seconds,
                                             heading=heading)
            say(f"calibrated on the {calibration.pose}-pose held from {args.tracker_calibration_start:g} s (heading "
                f"{calibration.heading_deg:.1f} deg, {calibration.method})")
        options = TrackerSolveOptions(mode=args.tracker_mode, mirror_average=args.mirror_average)
        options = replace(options, feet=replace(options.feet, enabled=args.feet_on_floor))
        motion, report = reconstruct_trackers(recording, skeleton, calibration=calibration, options=options)
        network = network_summary(report)
        network = f", {network}" if network else ""
        say(f"reconstructed {motion.num_frames} frames ({report['mode'].replace('_', '-')} mode{network}, {motion.fps:g} fps); "
            f"{feet_summary(report.get('feet'))}")
        if failure_summary(report):
            say(failure_summary(report))
        # The frames to fill: those whose input could not support a pose (lost or impossible samples).
        motion = _fill_gaps(args, say, motion, lambda: report["failed_frames"], options.feet)
    except (ValueError, OSError) as exc:
        raise CliError(naming(args.trackers, cli_wording(str(exc).rstrip("."), "trackers"))) from None
    return motion


# --- gaps ----------------------------------------------------------------------------------------

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


# --- landmarks -----------------------------------------------------------------------------------

def _landmarks_armature(args, say, measurements):
    """--landmarks: the file as landmark empties, solved onto a new armature with the performer's
    skeleton (blended with the measurements with --blend-measurements). Returns (armature, the
    baked motion)."""
    for label, value in (("--threshold", args.threshold), ("--strength", args.strength)):
        if not 0.0 <= value <= 1.0:
            raise CliError(f"{label} {value} is out of range: expected 0 to 1")
    kind = input_kind(args)
    if kind == "landmarks":
        path, layout, up_axis = Path(args.landmarks), args.landmark_layout, args.up_axis
        if not path.is_file():
            raise CliError(f"{path}: no such file")
        say("starting Blender")
    else:
        say("starting Blender")
        detected = _detected_landmarks(args, say, kind)
        path, layout, up_axis = detected.path, detected.layout, detected.up_axis
    from .blender.landmark_solve import import_landmarks, summary
    from .pipelines.landmarks import SolveOptions

    _fresh_scene(args)
    try:
        # Human3.6M-17 points are not metric: --height scales them (other files keep their size).
        height = args.height if layout == "h36m17" else None
        result = import_landmarks(path, layout=layout, up_axis=up_axis, fps=args.fps,
                                  height=height, threshold=args.threshold,
                                  solve=SolveOptions(strength=args.strength, feet=args.feet_on_floor),
                                  measurements=measurements if args.blend_measurements else None,
                                  with_body=not args.no_body, gap_fill=_gap_fill_options(args),
                                  name=take_label(args))
    except (ValueError, OSError) as exc:
        raise CliError(naming(path, cli_wording(str(exc).rstrip("."), "landmarks"))) from None
    seq, solved = result.sequence, result.solve
    rate = ("as --fps gives" if args.fps is not None else
            "assumed: the file states none; give --fps" if seq.metadata.get("fps_assumed") else "the file's")
    say(f"read {len(seq.names)} landmarks x {seq.num_frames} frames ({seq.fps:g} fps, {rate}) from {path}")
    say(f"solved onto armature '{solved.armature.name}' as action '{solved.action.name}': {summary(solved.report)}")
    _say_smpl_body(args, say, solved.armature)
    return solved.armature, solved.motion


def _detected_landmarks(args, say, kind: str):
    """--video / --cameras: MediaPipe Pose on the video(s), placed (one camera) or triangulated
    (calibrated cameras), written as a landmark file (``blender.video_import``'s detection stage)."""
    from .blender.video_import import detect_camera_landmarks, detect_video_landmarks, video_support_missing

    flag = f"--{kind}"
    missing = video_support_missing()
    if missing:
        raise CliError(f"{flag}: {missing}")
    if args.video_start < 0 or (args.video_frames is not None and args.video_frames < 1):
        raise CliError("--video-start must be 0 or more and --video-frames 1 or more")
    if not (math.isfinite(args.fov) and 10.0 <= args.fov <= 170.0):
        raise CliError(f"--fov {args.fov:g} is out of range: expected 10 to 170 degrees")
    if args.focal_px is not None and not (math.isfinite(args.focal_px) and args.focal_px > 0.0):
        raise CliError(f"--focal-px {args.focal_px:g} is out of range: expected pixels, more than 0")
    path = Path(getattr(args, kind))
    progress = _bake_progress(say, "detecting")
    try:
        if kind == "video":
            detected = detect_video_landmarks(path, args.landmarks_out, focal_px=args.focal_px, fov_deg=args.fov,
                                              start=args.video_start, max_frames=args.video_frames, progress=progress)
        else:
            detected = detect_camera_landmarks(path, args.calibration, args.landmarks_out, args.video_start,
                                               args.video_frames, progress)
    except (ValueError, OSError) as exc:
        raise CliError(naming(path, str(exc).rstrip("."))) from None
    say(f"detected {path}: {detected.detail}; landmarks written to {detected.path}")
    return detected


# --- onto the user's character -------------------------------------------------------------------

@dataclass(frozen=True)
class CharacterRequest:
    """--character and its flags, checked: the file, the armature's name, the bone map (None:
    the character's own, else detected; a built-in map's key; or a loaded RigMap), where the root
    motion goes and whether the hands reach their targets (None: the character's own setting)."""

    path: Path
    object_name: str | None
    rig_map: object
    root_motion: str | None
    hands: bool | None = None


@dataclass(frozen=True)
class CharacterSettings:
    """What the retarget onto the character uses: the flags where given, else the settings saved on
    the character's object in its .blend (the Character panel's bone map, Root Motion and Hands Reach
    Targets), else detection, auto and off. ``saved`` names the settings taken from the character."""

    rig_map: object
    root_motion: str
    hands: bool
    saved: tuple = ()


@dataclass(frozen=True)
class LoadedCharacter:
    """The character's armature object in the loaded file and its settings, resolved once."""

    obj: object
    settings: CharacterSettings


def character_request(args) -> CharacterRequest | None:
    """--character, --character-object, --bone-map, --root-motion and --hands checked (without
    loading Blender); None without --character."""
    if not args.character:
        for flag, value in (("--character-object", args.character_object), ("--bone-map", args.bone_map),
                            ("--root-motion", args.root_motion), ("--hands", args.hands)):
            if value is not None and value != "":
                raise CliError(f"{flag} applies to a character rig: give --character FILE (.blend or .fbx) too")
        return None
    path = Path(args.character)
    if not path.name.lower().endswith(CHARACTER_SUFFIXES):
        raise CliError(f"--character: {path}: expected a .blend file or an .fbx file")
    if not path.is_file():
        raise CliError(f"--character: {path}: no such file")
    return CharacterRequest(path, args.character_object, _bone_map(args.bone_map), args.root_motion, args.hands)


def _bone_map(text: str | None):
    """--bone-map: None (detect), a built-in map's key, or a JSON bone map file read now."""
    if not text or text in BUILTIN_RIG_MAPS:
        return text or None
    if not text.lower().endswith(".json"):
        raise CliError(f"--bone-map {text!r} is neither a built-in bone map ({', '.join(BUILTIN_RIG_MAPS)}) "
                       "nor a .json file")
    from .core.mocap.target_rig import load_rig_map

    try:
        return load_rig_map(text)
    except (ValueError, OSError) as exc:
        raise CliError(f"--bone-map: {str(exc).rstrip('.')}") from None


def load_character(request: CharacterRequest, say) -> LoadedCharacter:
    """The character's file loaded in place of the scene (a .blend opened as it is, an .fbx imported
    into an empty one), its armature checked against the bone map and its settings resolved;
    refused in one sentence naming the flag before any take is read."""
    import bpy

    from .blender.target_rig import target_rig_from_armature

    path = request.path
    try:
        if path.suffix.lower() == ".blend":
            bpy.ops.wm.open_mainfile(filepath=str(path.resolve()), load_ui=False, use_scripts=False)
        else:
            _fresh_scene()
            bpy.ops.import_scene.fbx(filepath=str(path.resolve()))
    except RuntimeError as exc:   # Blender's reader: "Error: ..." lines
        reason = str(exc).strip().splitlines()[0].removeprefix("Error: ").strip().rstrip(".")
        named = r"\s*(in file\s*)?['\"]?" + re.escape(str(path.resolve())) + r"['\"]?"   # the path said once
        raise CliError(f"--character: Blender could not read {path} ({re.sub(named, '', reason)})") from None
    obj = _character_armature(request, bpy.context.scene)
    settings = character_settings(request, obj)
    try:
        rig = target_rig_from_armature(obj, settings.rig_map)
    except ValueError as exc:
        flag = "--bone-map" if request.rig_map is not None else "--character"
        raise CliError(f"{flag}: {cli_wording(str(exc).rstrip('.'), 'character')}") from None
    saved = f"; its own {', '.join(settings.saved)} from its Character panel" if settings.saved else ""
    say(f"read character '{obj.name}' ({len(obj.data.bones)} bones, bone map '{rig.map_name}') from {path}{saved}")
    return LoadedCharacter(obj, settings)


def character_settings(request: CharacterRequest, obj) -> CharacterSettings:
    """The flags of ``request``, completed from the settings saved on the character ``obj`` (a
    .blend's Character panel: ``Object.sparse_mocap_bone_map``) where a flag is not given."""
    import bpy

    from . import register

    if not hasattr(bpy.types.Object, "sparse_mocap_bone_map"):
        register()          # the settings saved in the file read through the add-on's properties
    stored = obj.sparse_mocap_bone_map
    saved = []
    rig_map = request.rig_map
    if rig_map is None and (stored.map != "AUTO" or len(stored.overrides)):
        from .blender.character_map import character_rig_map

        try:
            rig_map = character_rig_map(obj)
        except (ValueError, OSError) as exc:
            raise CliError(f"--character: the bone map saved with '{obj.name}' cannot be used "
                           f"({str(exc).rstrip('.')}); give --bone-map") from None
        saved.append("bone map")
    root_motion = request.root_motion
    if root_motion is None:
        root_motion = stored.root_motion.lower()
        if root_motion != "auto":
            saved.append(f"Root Motion '{root_motion}'")
    hands = request.hands
    if hands is None:
        hands = bool(stored.hands)
        if hands:
            saved.append("Hands Reach Targets")
    return CharacterSettings(rig_map, root_motion, hands, tuple(saved))


def _character_armature(request: CharacterRequest, scene):
    """The armature object of the character's scene (--character-object's when named)."""
    name, where = request.object_name, f"'{request.path.name}'"
    armatures = [o for o in scene.objects if o.type == "ARMATURE"]
    names = ", ".join(sorted(o.name for o in armatures)) or "none"
    if name is not None:
        found = scene.objects.get(name)
        if found is None:
            raise CliError(f"--character-object: {where} holds no object named '{name}' (its armatures: {names})")
        if found.type != "ARMATURE":
            raise CliError(f"--character-object: '{name}' in {where} is a {found.type.lower()}, not an armature "
                           f"(its armatures: {names})")
        return found
    if not armatures:
        raise CliError(f"--character: {where} holds no armature")
    if len(armatures) > 1:
        raise CliError(f"--character: {where} holds {len(armatures)} armatures ({names}); name one with "
                       "--character-object")
    return armatures[0]


def _still_loaded(character: LoadedCharacter | None) -> bool:
    """Whether ``character`` (None, or an earlier load) still lives in the current file."""
    try:
        return character is not None and character.obj.name in character.obj.users_scene[0].objects
    except (ReferenceError, IndexError):   # the file was replaced since: the object is gone
        return False


def _bake_onto_character(args, say, request: CharacterRequest, character: LoadedCharacter, motion: Motion,
                         action_name: str):
    """``motion`` retargeted onto the loaded character and keyed into a new action (its own kept);
    returns its armature object."""
    from .blender.bake import keys_for
    from .blender.character import bake_rig_motion, retarget_onto_armature
    from .core.feet.stage import feet_summary

    obj, settings = character.obj, character.settings
    try:
        rig_motion = retarget_onto_armature(obj, motion, settings.rig_map, _feet_options(args, "zero"),
                                            settings.root_motion, settings.hands)
    except ValueError as exc:   # a rig without a root bone asked for root motion on it
        flag = "--root-motion" if request.root_motion is not None else "--character"
        raise CliError(f"{flag}: {cli_wording(str(exc).rstrip('.'), 'character')}") from None
    keys = keys_for(rig_motion.num_frames)   # a long take as sampled curves, as on the SMPL armature
    action = bake_rig_motion(obj, rig_motion, action_name, progress=_bake_progress(say), keys=keys)
    carriers = " and ".join(f"'{name}'" for name in rig_motion.locations)
    stored = "" if keys == "keyframes" else " as sampled curves (a long take)"
    say(f"baked {rig_motion.num_frames} frames onto character '{obj.name}' as action '{action.name}'{stored} "
        f"(travel on {carriers}{'; hands reach their targets' if settings.hands else ''}); "
        f"{feet_summary(rig_motion.metadata.get('feet'))}")
    return obj


def _character_takes_blend(args, request: CharacterRequest, collected: list, say) -> Path:
    """--batch --character --format blend: every take's motion baked onto the one character as its own
    action, in <out-dir>/<character>_takes.blend; returns that path."""
    say("starting Blender")
    character = load_character(request, say)
    for name, motion in collected:
        _bake_onto_character(args, say, request, character, motion, name)
    path = args.out_dir / f"{request.path.stem}{BATCH_BLEND_SUFFIX}.blend"
    _write_outputs(character.obj, [("blend", path)], args, say)
    return path


# --- errors in the CLI's words -------------------------------------------------------------------

# The readers and solvers word their hints for anyone ("give the heading in degrees", "the convention
# 'blender' passes these checks"); on the command line the same hint names the flag. (pattern,
# replacement) per input, in order.
_FLAG_WORDING = {
    "imu": (
        (r"sensor '([^']*)' rides no known body segment \(([^)]*)\); name the segment it rides, one of",
         r"sensor '\1' rides no known body segment (\2); give --imu-segment \1=<segment>, a segment one of"),
        (r"the sensor-to-segment names give sensor", "--imu-segment names sensor"),
        (r"or take the heading from the left or the right knee alone, or give it in degrees",
         "or give --imu-heading left_knee, right_knee or <degrees>"),
        (r"give the heading in degrees", "give --imu-heading <degrees>"),
        (r"\bthe heading '(\w+)'", r"--imu-heading \1"),
        (r"\bthe heading must be", "--imu-heading must be"),
        (r"give the up axis \(", "give --imu-up ("),
        (r"choose another calibration window", "choose another window (--calibration-start, --calibration-seconds)"),
        (r"the calibration window's start must", "--calibration-start must"),
        (r"the calibration window's length must", "--calibration-seconds must"),
        (r"needs a start >= 0 s and a length > 0 s, got (\S+) s and (\S+?) s\.?$",
         r"needs --calibration-start >= 0 and --calibration-seconds > 0, got \1 and \2"),
    ),
    "trackers": (
        (r"but ('\w+') was given; leave the convention unset to use the file's",
         r"but --tracker-convention \1 was given; leave out --tracker-convention to use the file's"),
        (r"but ('\w+') were given\.?$", r"but --tracker-units \1 was given"),
        (r"; choose one of", "; give --tracker-convention, one of"),
        (r"\bthe convention '(\w+)' in (\w+) passes", r"--tracker-convention \1 --tracker-units \2 passes"),
        (r"\bthe convention '(\w+)' passes", r"--tracker-convention \1 passes"),
        (r"\bthe units '(\w+)' passes", r"--tracker-units \1 passes"),
        (r"give the frame rate", "give --tracker-fps"),
        (r"take the heading from the headset, give it in degrees, or give known mountings",
         "give --tracker-heading head or <degrees>"),
        (r"the heading must be given in degrees, as a facing vector, or by known mountings",
         "--tracker-heading <degrees> must be given"),
        (r"\bthe heading must be", "--tracker-heading must be"),
        (r"choose another calibration window",
         "choose another window (--tracker-calibration-start, --tracker-calibration-seconds)"),
        (r"the calibration window's start must", "--tracker-calibration-start must"),
        (r"the calibration window's length must", "--tracker-calibration-seconds must"),
        (r"needs a start >= 0 s and a length > 0 s, got (\S+) s and (\S+?) s\.?$",
         r"needs --tracker-calibration-start >= 0 and --tracker-calibration-seconds > 0, got \1 and \2"),
    ),
    "character": (
        (r"give a JSON bone map for this rig", "give one with --bone-map FILE.json"),
        (r"choose the bone map by name", "choose one with --bone-map"),
        (r"put the root motion on the hips", "give --root-motion hips"),
    ),
    "landmarks": (
        (r"^fps must be", "--fps must be"),
        (r"give the performer's height to scale them", "give --landmark-layout h36m17 --height <metres> to scale "
                                                        "them"),
    ),
}


def naming(path, message: str) -> str:
    """``message`` led by the input file when it does not name it already (a solver's errors)."""
    return message if Path(path).name in message else f"{path}: {message}"


def cli_wording(message: str, kind: str) -> str:
    """A reader's or solver's message with its Python-argument hints re-worded as CLI flags."""
    for pattern, replacement in _FLAG_WORDING.get(kind, ()):
        message = re.sub(pattern, replacement, message)
    return message


# --- outputs -------------------------------------------------------------------------------------

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
            elif kind == "amass":
                from .blender.smpl_body import export_amass

                export_amass(obj, tmp)
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


# --- batch ---------------------------------------------------------------------------------------

def batch_inputs(kind: str, pattern: str) -> list[Path]:
    """The takes a --batch input names: a glob's matches, or a folder's takes (the files the import
    dialogs list; for --imu also its sub-folders, each a recording)."""
    from fnmatch import fnmatch

    if any(ch in pattern for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(pattern, recursive=True))
    folder = Path(pattern)
    if not folder.is_dir():
        raise CliError(f"{folder}: --batch needs a folder or a glob (quoted, e.g. 'takes/*.bvh.gz')")
    patterns = _dialog_patterns(kind)
    return sorted(p for p in folder.iterdir()
                  if (p.is_file() and any(fnmatch(p.name.lower(), pat) for pat in patterns))
                  or (kind == "imu" and p.is_dir()))


def _dialog_patterns(kind: str) -> list[str]:
    """The file patterns the add-on's import dialog for ``kind`` lists."""
    if kind == "motion":
        return ["*.npz"]
    if kind == "video":
        from .blender.video_import import VIDEO_FILE_EXTENSIONS
        return [f"*{suffix}" for suffix in VIDEO_FILE_EXTENSIONS]
    import importlib

    module = {"mocap": "mocap_import", "imu": "imu_solve", "trackers": "tracker_solve",
              "landmarks": "landmark_solve"}[kind]
    return importlib.import_module(f".blender.{module}", __package__).FILE_PATTERNS.split(";")


def run_batch(args, emit) -> int:
    """--batch: every take of the input folder or glob through :func:`run`, each written to --out-dir
    as <take>.<format>; a failing take is reported and the next one goes on. One summary line per
    take and a total on stderr; ``emit(path)`` gets every path written. Returns the exit status."""
    kind = input_kind(args)
    if kind == "demo":
        raise CliError("--batch needs an input folder or glob: --mocap, --imu, --trackers, --landmarks, --video or "
                       "--motion")
    if kind == "cameras":
        raise CliError("--batch does not take --cameras: give one camera set's folder at a time")
    if args.out_dir is None:
        raise CliError("--batch writes one file per take: give --out-dir")
    if not args.out_dir.is_dir():
        raise CliError(f"{args.out_dir}: --out-dir needs an existing folder")
    pattern = getattr(args, kind)
    takes = batch_inputs(kind, pattern)
    if not takes:
        raise CliError(f"{pattern}: no {kind} takes found")
    character = character_request(args)
    # Onto a character, a .blend holds every take as an action of the one character.
    collected = [] if character is not None and "blend" in (args.formats or ["fbx"]) else None
    if character is not None:
        say = _Progress(args.quiet)
        say("starting Blender")
        load_character(character, say)   # refused once, before any take is read
    written_by: dict[str, Path] = {}
    failed = 0
    for number, path in enumerate(takes, 1):
        take_args = argparse.Namespace(**{**vars(args), kind: str(path)})
        started = time.perf_counter()
        name = take_label(take_args)
        try:
            if name in written_by:
                raise CliError(f"its output name '{name}' is already taken by {written_by[name]}")
            paths = run(take_args, collected)
        except Exception as exc:  # noqa: BLE001 - one bad take must not stop the batch
            failed += 1
            print(f"[{number}/{len(takes)}] failed {path}: {exc}", file=sys.stderr, flush=True)
            continue
        written_by[name] = path
        for written in paths:
            emit(written)
        kept = ["an action for the character's .blend"] if collected is not None else []
        written = ", ".join([p.name for p in paths] + kept)
        print(f"[{number}/{len(takes)}] ok {path} -> {written} ({time.perf_counter() - started:.1f} s)",
              file=sys.stderr, flush=True)
    if collected:
        emit(_character_takes_blend(args, character, collected, say))
    print(f"batch: {len(takes) - failed} of {len(takes)} takes written to {args.out_dir}"
          + (f", {failed} failed" if failed else ""), file=sys.stderr, flush=True)
    return 1 if failed else 0


# --- main ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to stdout (file descriptor 1: Blender's own messages, exporters'
    prints) to stderr for the duration; yields ``emit(line)``, which writes to the real stdout."""
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        yield lambda line: os.write(real_stdout, f"{line}\n".encode())
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = script_args(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed a usage line
        return int(exc.code or 0) and 2
    try:
        with stdout_to_stderr() as emit:
            if args.batch:
                return run_batch(args, emit)
            for path in run(args):
                emit(path)
        return 0
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line for the user, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
