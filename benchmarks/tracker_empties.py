"""Reconstruct from Trackers: selected animated empties against the same data as a tracker set.

Three-point (head and hands) demo walk keyed on empties named as VR tools name devices (HMD,
LeftHand, Controller (right)) and imported as a tracker set, in a scene that already holds a
reconstructed character (an SMPL armature with its skinned body and an action: what stepping the
scene through the frames has to evaluate). Each path runs ``--repeats`` times:

- ``set``: ``reconstruct_onto_armature`` on the tracker set;
- ``empties``: the same on the empties, read from their F-curves (the default);
- ``empties_stepped``: the same, forced to step the scene through every frame (the path before
  issue 17, still the one for empties moved by constraints or drivers).

Wall-clock seconds, [fastest, slowest] per path; on a busy machine compare within one run. Prints a
human summary to stderr and one JSON line last on stdout.

    python benchmarks/tracker_empties.py [--seconds 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

import sparse_mocap_addon  # noqa: E402
from sparse_mocap_addon.blender import compat, tracker_objects, tracker_solve  # noqa: E402
from sparse_mocap_addon.blender.coords import CORE_TO_BLENDER  # noqa: E402
from sparse_mocap_addon.blender.empty_sets import write_keys  # noqa: E402
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import matrix_to_quat  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.trackers.synth import virtual_trackers  # noqa: E402
from sparse_mocap_addon.core.trackers.recording import THREE_POINT, TRACKER_JOINTS, TrackerMounting  # noqa: E402
from sparse_mocap_addon.pipelines.trackers import TrackerSolveOptions  # noqa: E402

SUBJECT = BodyMeasurements(height=1.68, sex="female")
EMPTY_NAMES = {"head": "HMD", "left_hand": "LeftHand", "right_hand": "Controller (right)"}


def keyed_empties(motion) -> list:
    """One empty per tracker keyed on every frame (from 1) with its joint's world pose, in Blender's axes."""
    scene = bpy.context.scene
    joints, frames_world = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    frames = 1 + np.arange(motion.num_frames, dtype=np.float64)
    out = []
    for name in THREE_POINT:
        j = TRACKER_JOINTS[name]
        obj = bpy.data.objects.new(EMPTY_NAMES[name], None)
        scene.collection.objects.link(obj)
        obj.rotation_mode = "QUATERNION"
        location = joints[:, j] @ CORE_TO_BLENDER.T
        quats = matrix_to_quat(CORE_TO_BLENDER @ frames_world[:, j] @ CORE_TO_BLENDER.T)
        curves = compat.assign_new_action(obj, bpy.data.actions.new(obj.name))
        for i in range(3):
            write_keys(compat.new_fcurve(curves, "location", i, "Location"), frames, location[:, i])
        for i in range(4):
            write_keys(compat.new_fcurve(curves, "rotation_quaternion", i, "Rotation"), frames, quats[:, i])
        out.append(obj)
    return out


def timed(work, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return [round(min(times), 3), round(max(times), 3)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    sparse_mocap_addon.register()
    motion = demo_motion(skeleton_from_measurements(SUBJECT), seconds=args.seconds, fps=60.0)
    recording = virtual_trackers(motion, THREE_POINT, {n: TrackerMounting() for n in THREE_POINT})
    scene = bpy.context.scene
    parent = tracker_objects.create_tracker_empties(recording, "walk_trackers", scene.collection, frame_start=1)
    empties = keyed_empties(motion)
    scene.render.fps, scene.frame_start, scene.frame_end = 60, 1, motion.num_frames
    options = TrackerSolveOptions(mode="three_point")

    def solve(source):
        return lambda: tracker_solve.reconstruct_onto_armature(source, options, measurements=SUBJECT, with_body=True)

    solve(parent)()                                              # a character in the scene, as users have
    result = {"frames": motion.num_frames, "repeats": args.repeats,
              "set": timed(solve(parent), args.repeats), "empties": timed(solve(empties), args.repeats)}
    curves_path = tracker_objects._sampled_from_curves
    tracker_objects._sampled_from_curves = lambda *a: None       # force the scene-stepping path
    try:
        result["empties_stepped"] = timed(solve(empties), args.repeats)
    finally:
        tracker_objects._sampled_from_curves = curves_path
    print(f"three-point, {motion.num_frames} frames: tracker set {result['set']} s, empties from their curves "
          f"{result['empties']} s, empties by stepping the scene {result['empties_stepped']} s", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
