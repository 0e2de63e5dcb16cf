"""Render one take on the SMPL armature beside the same frames on two character rigs (docs/own_rig.png).

The take (CMU 01_01 from the shared data's CMU FBX rig, else the built-in demo walk) is imported as
Import Mocap does (retargeted onto its performer's SMPL body, feet stage on) and baked onto an SMPL
armature with its default body; the same Motion goes onto a Mixamo-named rig in A-pose and an
Unreal-mannequin-named rig (both from ``tests/rigs.py``, a 1.60 m and a 1.90 m body, so the feet
stage has work to do) through ``blender.character.bake_onto_character``. The rigs get one capsule
per mapped bone, skinned rigidly, so Blender renders them. Workbench, one render per chosen frame,
the three characters side by side (SMPL left, Mixamo middle, UE right), stitched top to bottom.

    .venv/bin/python scripts/render_own_rig.py [--out docs/own_rig.png] [--frames 40 95 150]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

from blender_stills import render_still, save_png  # noqa: E402

from sparse_mocap_addon.blender.armature import create_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion  # noqa: E402
from sparse_mocap_addon.blender.character import bake_onto_character  # noqa: E402
from sparse_mocap_addon.blender.coords import core_to_blender_vectors  # noqa: E402
from sparse_mocap_addon.blender.target_rig import target_rig_from_armature  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.feet.stage import feet_on_floor  # noqa: E402
from tests.rigs import build_armature, rig_bones  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SPACING_M = 2.0
# The camera looks from the front right, a little from above, and follows the take's pelvis.
VIEW_FROM = np.array([1.0, -1.0, 0.35])
COLOURS = {"smpl": (0.55, 0.62, 0.75, 1.0), "mixamo": (0.85, 0.55, 0.35, 1.0), "unreal": (0.45, 0.70, 0.45, 1.0)}


def take():
    """(name, Motion on its performer's body with the feet stage applied)."""
    path = DATA / "cmu_fbx" / "01_01_cmu.fbx"
    if not path.is_file():
        return "demo walk", demo_motion(seconds=4.0)
    from sparse_mocap_addon.core.kinematics.resample import resample_motion
    from sparse_mocap_addon.core.mocap.retarget import retarget
    from sparse_mocap_addon.core.mocap.rig_body import skeleton_from_rig
    from training.build_corpus import Take, read_take

    source = read_take(Take("cmu_fbx", path, "cmu:01", "test", "01_01_cmu"))
    skeleton, _ = skeleton_from_rig(source)
    motion, _ = feet_on_floor(resample_motion(retarget(source, skeleton), 60.0))
    return "CMU 01_01", motion


def capsules(obj, colour) -> None:
    """One eight-sided tube per mapped bone, rigidly skinned to it (a visible body for the render)."""
    rig = target_rig_from_armature(obj)
    vertices, faces, groups = [], [], []
    for bones in rig.chains.values():
        for bone in bones:
            head, tail = rig.heads[bone], rig.tails[bone]
            axis = tail - head
            length = np.linalg.norm(axis)
            radius = float(np.clip(0.18 * length, 0.025, 0.07))
            side = np.cross(axis, [0.0, 0.0, 1.0] if abs(axis[2]) < 0.9 * length else [1.0, 0.0, 0.0])
            side /= np.linalg.norm(side)
            other = np.cross(axis / length, side)
            ring = [radius * (np.cos(a) * side + np.sin(a) * other) for a in np.linspace(0, 2 * np.pi, 9)[:-1]]
            start = len(vertices)
            vertices += [head + r for r in ring] + [tail + 0.8 * r for r in ring]
            faces += [(start + k, start + (k + 1) % 8, start + 8 + (k + 1) % 8, start + 8 + k) for k in range(8)]
            faces += [tuple(start + k for k in range(8)), tuple(start + 8 + k for k in reversed(range(8)))]
            groups.append((rig.bone_names[bone], list(range(start, start + 16))))
    mesh = bpy.data.meshes.new(obj.name + "_capsules")
    mesh.from_pydata(core_to_blender_vectors(np.array(vertices)).tolist(), [], faces)
    body = bpy.data.objects.new(obj.name + "_capsules", mesh)
    bpy.context.scene.collection.objects.link(body)
    body.parent = obj
    for name, members in groups:
        body.vertex_groups.new(name=name).add(members, 1.0, "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = obj
    body.color = colour


def scene_setup(width: int, height: int) -> None:
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.color_type = "OBJECT"
    scene.display.shading.light = "STUDIO"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.film_transparent = False
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(camera)
    camera.data.type = "ORTHO"
    camera.data.ortho_scale = 2.6 * SPACING_M
    scene.camera = camera
    floor = bpy.data.meshes.new("floor")
    floor.from_pydata([(-6, -12, 0), (6, -12, 0), (6, 6, 0), (-6, 6, 0)], [], [(0, 1, 2, 3)])
    floor_obj = bpy.data.objects.new("floor", floor)
    floor_obj.color = (0.9, 0.9, 0.9, 1.0)
    scene.collection.objects.link(floor_obj)


def aim_camera(target) -> None:
    """The camera 8 m from ``target`` (Blender coordinates) along ``VIEW_FROM``, looking at it."""
    from mathutils import Vector

    camera = bpy.context.scene.camera
    direction = Vector(VIEW_FROM).normalized()
    camera.location = Vector(target) + 8.0 * direction
    camera.rotation_euler = (-direction).to_track_quat("-Z", "Y").to_euler()


def render_frames(frames, follow: np.ndarray) -> np.ndarray:
    """The renders of ``frames`` stacked top to bottom, (rows, width, 4) floats; the camera aimed at
    ``follow[frame]`` (Blender coordinates) in each."""
    rows = []
    for frame in frames:
        aim_camera(follow[frame - 1])
        rows.append(render_still(frame))
    return np.concatenate(rows, axis=0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "own_rig.png")
    parser.add_argument("--frames", type=int, nargs="+", default=[40, 95, 150])
    args = parser.parse_args(argv)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    name, motion = take()
    smpl = create_armature(motion.skeleton, name="SMPL")
    bake_motion(smpl, motion, action_name=name)
    for body in smpl.children:
        body.color = COLOURS["smpl"]
    rigs = {}
    for kind, height in (("mixamo", 1.60), ("unreal", 1.90)):
        obj, _ = build_armature(kind, name=f"{kind}_{height:.2f}")
        rigs[kind] = obj
        # The rig on a body of this height: rebuild its bones there (build_armature uses 1.75 m).
        bpy.context.view_layer.objects.active = obj
        bpy.ops.object.mode_set(mode="EDIT")
        for bone_name, _, head, tail in rig_bones(kind, height=height):
            edit_bone = obj.data.edit_bones[bone_name]
            roll = edit_bone.roll
            edit_bone.head, edit_bone.tail = core_to_blender_vectors(head), core_to_blender_vectors(tail)
            edit_bone.roll = roll
        bpy.ops.object.mode_set(mode="OBJECT")
        capsules(obj, COLOURS[kind])
        bake_onto_character(obj, motion, f"{kind}_{name}", match_scene=False)
    across = SPACING_M * np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)      # side by side as the camera sees them
    smpl.location = -across
    rigs["unreal"].location = across
    scene_setup(800, 340)
    follow = core_to_blender_vectors(motion.translation * (1.0, 0.0, 1.0)) + (0.0, 0.0, 1.0)
    stacked = render_frames([f for f in args.frames if f <= motion.num_frames], follow)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_png(stacked, args.out)
    print(f"{args.out}: {name}, frames {args.frames}; SMPL {motion.skeleton.stature():.2f} m, Mixamo 1.60 m, UE 1.90 m")
    return 0


if __name__ == "__main__":
    sys.exit(main())
