"""Bake speed: the fast path (keyframe_points.add + foreach_set) against keyframe_insert per frame.

Bakes 10,000 frames x 24 bones with the add-on's baker and 300 frames with the naive
keyframe_insert loop (the reference every tutorial shows), in one Blender session.
Targets (issue 2): 10,000 frames in at most 1.0 s; per-frame speed-up of at least 200x.
Prints a human summary to stderr and one JSON line last on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from sparse_mocap_addon.blender.armature import create_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion, pose_channels  # noqa: E402
from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES  # noqa: E402

FAST_FRAMES = 10_000
NAIVE_FRAMES = 300


def random_motion(frames: int, skeleton) -> Motion:
    rng = np.random.default_rng(0)
    t = np.arange(frames)[:, None, None] / 60.0
    phase = rng.uniform(0, 2 * np.pi, size=(1, 24, 3))
    rotations = axis_angle_to_quat(0.5 * np.sin(2 * np.pi * 0.8 * t + phase))
    translation = skeleton.offsets[0] + np.stack((np.zeros(frames), np.zeros(frames), np.arange(frames) / 60.0), -1)
    return Motion(60.0, rotations, translation, skeleton, {"source": "benchmark"})


def naive_bake(obj, motion: Motion):
    """What the fast path replaces: set every pose bone, then keyframe_insert, frame by frame."""
    quats, location = pose_channels(obj, motion)
    bones = [obj.pose.bones[name] for name in JOINT_NAMES]
    for bone in bones:
        bone.rotation_mode = "QUATERNION"
    obj.animation_data_create()
    obj.animation_data.action = bpy.data.actions.new("naive")
    for frame in range(motion.num_frames):
        for j, bone in enumerate(bones):
            bone.rotation_quaternion = quats[frame, j]
            bone.keyframe_insert("rotation_quaternion", frame=frame + 1, group=bone.name)
        bones[0].location = location[frame]
        bones[0].keyframe_insert("location", frame=frame + 1, group=bones[0].name)


def main():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    skeleton = skeleton_from_measurements(default_measurements())
    fast_motion = random_motion(FAST_FRAMES, skeleton)
    naive_motion = random_motion(NAIVE_FRAMES, skeleton)

    fast_obj = create_armature(skeleton, name="fast", with_mesh=False)
    start = time.perf_counter()
    bake_motion(fast_obj, fast_motion)
    fast_seconds = time.perf_counter() - start

    naive_obj = create_armature(skeleton, name="naive", with_mesh=False)
    start = time.perf_counter()
    naive_bake(naive_obj, naive_motion)
    naive_seconds = time.perf_counter() - start

    speedup = (naive_seconds / NAIVE_FRAMES) / (fast_seconds / FAST_FRAMES)
    print(f"fast: {FAST_FRAMES} frames x 24 bones in {fast_seconds:.3f} s (target <= 1.0 s); "
          f"naive keyframe_insert: {NAIVE_FRAMES} frames in {naive_seconds:.3f} s; "
          f"per-frame speed-up {speedup:.0f}x (target >= 200x)", file=sys.stderr)
    print(json.dumps({"frames": FAST_FRAMES, "fast_seconds": round(fast_seconds, 4),
                      "naive_frames": NAIVE_FRAMES, "naive_seconds": round(naive_seconds, 4),
                      "speedup_per_frame": round(speedup, 1)}))


if __name__ == "__main__":
    main()
