"""Onto the user's own character (issue 18): bone fidelity, contacts and speed per target rig.

Takes: the corpus test split (held-out performers; ``benchmarks/ik.load_split``: the built corpus,
else made in memory from the shared data), each cut to ``--max-seconds``. Rigs: the test rigs of
``tests/rigs.py`` built as real Blender armatures with their own rest poses and rolls (Mixamo and
UE5 in A-pose, VRM in T-pose, Character Creator), and the Rigify rig generated from Blender's human
metarig. Each take goes onto each rig as the add-on does it (``blender.character``: feet stage on).

- **Fidelity**: for every mapped bone, the angle between the SMPL source's world bone direction
  (joint to child joint; leaves to their tip) and the rig's (the bone's head to the next mapped
  joint's bone head; leaves head to tail); chains with other joint counts end to end (spine: first
  spine bone to the neck, neck: first neck bone to the head). The fingers keep the rig's rest pose
  (the sources have none), so SMPL's hand joints are not compared; the feet and toes are compared
  as turns from standing flat (see ``FEET``). Median and p95 over frames and bones,
  per rig. The rig's pose is the rig's own forward kinematics of the keyed channels
  (``core.mocap.onto_rig.rig_forward_kinematics``); ``blender_check_max_deg`` is how far Blender's
  evaluated pose (``pose.bones[].matrix`` after ``frame_set``) is from it on sampled frames. On
  Rigify the DEF bones are measured as Blender evaluates them (the rig moves through its controls).
- **Contacts**: the rig's sole points (heel under the ankle, ball and toe tip under the toe bone,
  each carried by its bone) against the source's contacts (low and slow, per sole point):
  ``foot_skate_cm_per_s`` (mean horizontal speed in contact) and ``foot_below_floor_max_cm``, on
  every rig and on bodies from 1.40 to 2.10 m (the rig rebuilt on that body).
- **Speed**: frames per second of retarget + bake (a new action keyed) onto each rig.

Targets: median <= 2 deg, p95 <= 6 deg (worst rig); skate <= 2 cm/s, below floor <= 1 cm (worst rig
and body); >= 5,000 frames/s onto Rigify (deform and control bones).

    .venv/bin/python benchmarks/own_rig.py [--corpus build/corpus] [--data ../shared/data]
                                           [--max-clips 12] [--max-seconds 20]

Prints a table and, as the last line, JSON: ``bone_direction_median_deg``, ``bone_direction_p95_deg``,
``foot_skate_cm_per_s``, ``foot_below_floor_max_cm``, ``frames_per_second`` and ``rigs``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ik import load_split  # noqa: E402
from sparse_mocap_addon.core.feet.metrics import foot_below_floor_max_cm, foot_skate_cm_per_s  # noqa: E402
from sparse_mocap_addon.core.feet.stage import motion_contacts  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, PARENTS, forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.mocap.onto_rig import (  # noqa: E402
    FINGER_SEGMENTS, retarget_to_rig, rig_body, rig_forward_kinematics,
)
from sparse_mocap_addon.core.mocap.target_rig import describe_target_rig  # noqa: E402
from tests.rigs import rig_arrays, rig_bones  # noqa: E402

RIG_KINDS = ("mixamo", "unreal", "vrm", "cc_base")
HEIGHTS = (1.40, 1.64, 1.75, 2.10)
TARGETS = {"bone_direction_median_deg": 2.0, "bone_direction_p95_deg": 6.0, "foot_skate_cm_per_s": 2.0,
           "foot_below_floor_max_cm": 1.0, "frames_per_second": 5000.0}
SPINE = ("spine1", "spine2", "spine3")
# Feet and toes are matched by heading alone (a foot standing flat stays flat on a rig whose ankle sits
# higher or lower over its ball: Rigify's metarig foot points 11 deg further down than SMPL's, its toe
# 20 deg): their fidelity is the rig's direction against its rest direction carried by the source's
# turn from standing flat, not against the source's own direction (a constant rest-shape offset).
FEET = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, -1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


# -- what is compared ------------------------------------------------------------------------------------

def _child_segment(rig, joint: int) -> str | None:
    """The mapped segment whose first bone's head is ``joint``'s child joint on the rig."""
    kids = [c for c in range(24) if PARENTS[c] == joint]
    if joint == 0:
        kids = [JOINT_INDEX["spine1"]]
    elif joint == JOINT_INDEX["spine3"]:
        kids = [JOINT_INDEX["neck"]]
    for child in kids:
        name = "spine" if JOINT_NAMES[child] in SPINE else JOINT_NAMES[child]
        if name in rig.chains:
            return name
    return None


def comparisons(rig) -> list:
    """(label, SMPL joint from, SMPL joint to or None for the leaf tip, rig bone from, rig bone to or
    None for the bone's own tail): one per mapped segment, chains end to end."""
    pairs = []
    for segment, bones in rig.chains.items():
        if segment in FINGER_SEGMENTS:     # the fingers keep the rig's rest pose (issue 18)
            continue
        if segment == "spine":
            if "neck" in rig.chains:
                pairs.append(("spine", JOINT_INDEX["spine1"], JOINT_INDEX["neck"], bones[0], rig.chains["neck"][0]))
            continue
        joint = JOINT_INDEX[segment]
        child = _child_segment(rig, joint)
        if segment == "neck":
            if "head" in rig.chains:
                pairs.append(("neck", joint, JOINT_INDEX["head"], bones[0], rig.chains["head"][0]))
        elif child is not None:
            to = JOINT_INDEX["spine1"] if child == "spine" else JOINT_INDEX[child]
            pairs.append((segment, joint, to, bones[0], rig.chains[child][0]))
        elif not [c for c in range(24) if PARENTS[c] == joint]:
            pairs.append((segment, joint, None, bones[-1], None))
    return pairs


def source_directions(motion: Motion, pairs, rig) -> np.ndarray:
    """The source's world direction of each compared segment; for the feet and toes the rig's rest
    direction carried by the source's turn away from standing flat (see ``FEET``)."""
    positions, globals_ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    match = rig_body(rig, motion.skeleton).rest_match
    out = []
    for label, joint, to, start, end in pairs:
        if label in FEET:
            rest = (rig.heads[end] if end is not None else rig.tails[start]) - rig.heads[start]
            out.append(globals_[:, joint] @ (match[joint].T @ rest))
        else:
            out.append(positions[:, to] - positions[:, joint] if to is not None
                       else globals_[:, joint] @ motion.skeleton.leaf_tip(joint))
    return np.stack(out, axis=1)


def rig_directions(rig, world: dict, heads: dict, pairs) -> np.ndarray:
    out = []
    for _, _, _, start, end in pairs:
        if end is not None:
            out.append(heads[end] - heads[start])
        else:
            out.append(world[start] @ (rig.rest_rotations[start].T @ (rig.tails[start] - rig.heads[start])))
    return np.stack(out, axis=1)


def posed(rig_motion):
    """The rig's pose under ``rig_motion`` by the core FK: bones -> (world, heads) dicts."""
    def pose(bones):
        names = [rig_motion.rig.bone_names[b] for b in bones]
        world, heads = rig_forward_kinematics(rig_motion, names)
        return ({b: world[:, k] for k, b in enumerate(bones)}, {b: heads[:, k] for k, b in enumerate(bones)})
    return pose


def evaluated(obj, rig, frames):
    """The rig's pose as Blender evaluates it (constraints and all) on ``frames`` (0-based)."""
    import bpy

    from sparse_mocap_addon.blender.coords import BLENDER_TO_CORE

    def pose(bones):
        world = {b: np.empty((len(frames), 3, 3)) for b in bones}
        heads = {b: np.empty((len(frames), 3)) for b in bones}
        for i, frame in enumerate(frames):
            bpy.context.scene.frame_set(int(frame) + 1)
            for b in bones:
                matrix = np.array(obj.pose.bones[rig.bone_names[b]].matrix)
                world[b][i], heads[b][i] = BLENDER_TO_CORE @ matrix[:3, :3], BLENDER_TO_CORE @ matrix[:3, 3]
        return world, heads
    return pose


def fidelity(rig, pose, motion: Motion, frames=slice(None)) -> np.ndarray:
    """Angles (deg) over frames and compared bones; ``pose(bones)`` gives the rig's (world, heads)
    dicts on ``frames`` of the take."""
    pairs = comparisons(rig)
    bones = sorted({p[3] for p in pairs} | {p[4] for p in pairs if p[4] is not None})
    world, heads = pose(bones)
    return _angle_deg(source_directions(motion, pairs, rig)[frames], rig_directions(rig, world, heads, pairs)).ravel()


# -- contacts -------------------------------------------------------------------------------------------

def rig_soles(rig, pose, floor: float) -> np.ndarray:
    """(T, 2, 3, 3): heel (under the ankle, carried by the foot bone), ball and toe tip (under the toe
    bone's head and tail, carried by it), each on the floor at rest as ``core.feet.soles`` has them."""
    sides = []
    for side in ("left", "right"):
        foot, toe = rig.chains[f"{side}_ankle"][-1], rig.chains[f"{side}_foot"][-1]
        ankle, ball, tip = rig.heads[foot], rig.heads[toe], rig.tails[toe]
        reach = np.linalg.norm((tip - ankle)[[0, 2]])
        forward = (tip - ankle) * (1.0, 0.0, 1.0) / max(reach, 1e-9)
        heel = ankle - forward * reach / 3.0
        rest_points = [(foot, heel), (toe, ball), (toe, tip)]
        world, heads = pose([foot, toe])
        points = []
        for bone, point in rest_points:
            on_floor = point * (1.0, 0.0, 1.0) + (0.0, floor, 0.0)
            local = rig.rest_rotations[bone].T @ (on_floor - rig.heads[bone])
            points.append(heads[bone] + world[bone] @ local)
        sides.append(np.stack(points, axis=1))
    return np.stack(sides, axis=1) - (0.0, floor, 0.0)


def numpy_rig(kind: str, height: float):
    return describe_target_rig(*rig_arrays(rig_bones(kind, height=height), seed=0), source=f"{kind} {height:.2f} m")


# -- Blender --------------------------------------------------------------------------------------------

def blender_rigs() -> dict:
    """The test rigs as real armatures (their rolls are Blender's): name -> armature object."""
    import bpy

    from tests.rigs import build_armature

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return {kind: build_armature(kind)[0] for kind in RIG_KINDS}


def blender_check(obj, rig_motion, frames) -> float:
    """Largest angle (deg) between Blender's evaluated pose-bone rotations and the core FK's."""
    import bpy

    from sparse_mocap_addon.blender.character import bake_rig_motion
    from sparse_mocap_addon.blender.coords import BLENDER_TO_CORE

    bake_rig_motion(obj, rig_motion, "check")
    world, _ = rig_forward_kinematics(rig_motion)
    worst = 0.0
    for frame in frames:
        bpy.context.scene.frame_set(int(frame) + 1)
        for k, name in enumerate(rig_motion.bones):
            rotation = BLENDER_TO_CORE @ np.array(obj.pose.bones[name].matrix)[:3, :3]
            cos = (np.trace(rotation.T @ world[frame, k]) - 1.0) / 2.0
            worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))))
    return worst


def bake_speed(obj, motion: Motion, repeats: int = 3) -> float:
    """Frames per second of retarget + bake onto ``obj`` (best of ``repeats``: the machine is shared)."""
    from sparse_mocap_addon.blender.character import bake_onto_character

    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        bake_onto_character(obj, motion, "speed")
        best = min(best, time.perf_counter() - start)
    return motion.num_frames / best


def rigify_figures(takes, step: int) -> dict:
    """The Rigify rig generated from Blender's human metarig: each take baked through its controls
    (``blender.character``), its DEF bones evaluated by Blender on every ``step``-th frame."""
    from sparse_mocap_addon.blender.character import bake_onto_character
    from sparse_mocap_addon.blender.target_rig import target_rig_from_armature
    from tests.rigs import build_rigify

    _, obj = build_rigify()
    deform = target_rig_from_armature(obj, "rigify_deform")
    floor = float(min(deform.tails[deform.chains[s][-1], 1] for s in ("left_foot", "right_foot")))
    floor = 0.0 if abs(floor) < 0.1 else floor
    angles, skate, below = [], [], []
    for _, motion in takes:
        bake_onto_character(obj, motion, "take")
        frames = np.arange(0, motion.num_frames, step)
        pose = evaluated(obj, deform, frames)
        angles.append(fidelity(deform, pose, motion, frames))
        soles = rig_soles(deform, pose, floor)
        truth = motion_contacts(motion, floor="estimate")[frames]
        skate.append(foot_skate_cm_per_s(soles, truth, motion.fps / step))
        below.append(foot_below_floor_max_cm(soles))
    angles = np.concatenate(angles)
    return {"map": deform.map_name, "bone_direction_median_deg": float(np.median(angles)),
            "bone_direction_p95_deg": float(np.percentile(angles, 95)), "bone_direction_max_deg": float(angles.max()),
            "foot_skate_cm_per_s": float(np.nanmean(skate)), "foot_below_floor_max_cm": float(np.max(below)),
            "frames_per_second": bake_speed(obj, max((m for _, m in takes), key=lambda m: m.num_frames))}


# -- main -----------------------------------------------------------------------------------------------

def _cut(motion: Motion, seconds: float) -> Motion:
    frames = min(motion.num_frames, int(round(seconds * motion.fps)))
    return Motion(motion.fps, motion.rotations[:frames], motion.translation[:frames], motion.skeleton,
                  motion.metadata)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--max-clips", type=int, default=12)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument("--rigify-step", type=int, default=4,
                        help="evaluate the Rigify rig in Blender on every n-th frame (Blender evaluates one frame at a time)")
    args = parser.parse_args(argv)
    loaded = load_split("test", args.corpus, args.data, args.max_clips, log=lambda m: print(m, file=sys.stderr))
    if loaded is None:
        print("skipped: neither the corpus nor the shared data is there")
        return 0
    clips, origin = loaded
    takes = [(f"{source}/{name}", _cut(motion, args.max_seconds)) for source, name, motion in clips]
    print(f"{len(takes)} test takes ({origin}), {sum(m.num_frames for _, m in takes)} frames")

    from sparse_mocap_addon.blender.target_rig import target_rig_from_armature

    objects = blender_rigs()
    results = {}
    for kind, obj in objects.items():
        rig = target_rig_from_armature(obj)
        angles, checks = [], []
        for k, (_, motion) in enumerate(takes):
            rig_motion = retarget_to_rig(motion, rig)
            angles.append(fidelity(rig, posed(rig_motion), motion))
            if k == 0:
                checks.append(blender_check(obj, rig_motion, np.linspace(0, motion.num_frames - 1, 5).astype(int)))
        contact = {}
        for height in HEIGHTS:
            body_rig = numpy_rig(kind, height)
            skate, below = [], []
            for _, motion in takes:
                rig_motion = retarget_to_rig(motion, body_rig)
                soles = rig_soles(body_rig, posed(rig_motion), 0.0)
                truth = motion_contacts(motion, floor="estimate")
                skate.append(foot_skate_cm_per_s(soles, truth, motion.fps))
                below.append(foot_below_floor_max_cm(soles))
            contact[f"{height:.2f}"] = {"foot_skate_cm_per_s": float(np.nanmean(skate)),
                                        "foot_below_floor_max_cm": float(np.max(below))}
        angles = np.concatenate(angles)
        results[kind] = {
            "map": rig.map_name,
            "bone_direction_median_deg": float(np.median(angles)),
            "bone_direction_p95_deg": float(np.percentile(angles, 95)),
            "bone_direction_max_deg": float(angles.max()),
            "blender_check_max_deg": float(max(checks)),
            "foot_skate_cm_per_s": max(c["foot_skate_cm_per_s"] for c in contact.values()),
            "foot_below_floor_max_cm": max(c["foot_below_floor_max_cm"] for c in contact.values()),
            "bodies": contact,
            "frames_per_second": bake_speed(obj, max((m for _, m in takes), key=lambda m: m.num_frames)),
        }
        r = results[kind]
        print(f"{kind:8s} bones median {r['bone_direction_median_deg']:.2f} p95 {r['bone_direction_p95_deg']:.2f} "
              f"max {r['bone_direction_max_deg']:.1f} deg (Blender vs core {r['blender_check_max_deg']:.3f}), "
              f"skate {r['foot_skate_cm_per_s']:.2f} cm/s, below floor {r['foot_below_floor_max_cm']:.2f} cm "
              f"(worst of {', '.join(f'{h:.2f}' for h in HEIGHTS)} m), "
              f"{r['frames_per_second']:.0f} frames/s")
    results["rigify"] = rigify_figures(takes, args.rigify_step)
    r = results["rigify"]
    print(f"rigify   bones median {r['bone_direction_median_deg']:.2f} p95 {r['bone_direction_p95_deg']:.2f} "
          f"max {r['bone_direction_max_deg']:.1f} deg (DEF bones as Blender evaluates them, every "
          f"{args.rigify_step} frames), skate {r['foot_skate_cm_per_s']:.2f} cm/s, below floor "
          f"{r['foot_below_floor_max_cm']:.2f} cm, {r['frames_per_second']:.0f} frames/s")
    worst = lambda key: max(r[key] for r in results.values())   # noqa: E731
    summary = {
        "takes": len(takes), "frames": int(sum(m.num_frames for _, m in takes)),
        "bone_direction_median_deg": worst("bone_direction_median_deg"),
        "bone_direction_p95_deg": worst("bone_direction_p95_deg"),
        "foot_skate_cm_per_s": worst("foot_skate_cm_per_s"),
        "foot_below_floor_max_cm": worst("foot_below_floor_max_cm"),
        "frames_per_second": results.get("rigify", {}).get("frames_per_second"),
        "rigs": results,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
