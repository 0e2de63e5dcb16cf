"""FBX and BVH export, checked with an independent reader (ufbx) against the core FK."""

from __future__ import annotations

import types

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")
ufbx = pytest.importorskip("ufbx", reason="the ufbx reader is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat  # noqa: E402
from sparse_mocap_addon.blender.armature import create_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion  # noqa: E402
from sparse_mocap_addon.blender.export import (  # noqa: E402
    FBX_UNIT_METRES, ROOT_BONE, ExportError, export_bvh, export_fbx)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, JOINT_NAMES, forward_kinematics  # noqa: E402

from .fbx_reader import read_fbx  # noqa: E402


@pytest.fixture
def baked(blank_scene, random_motion):
    obj = create_armature(random_motion.skeleton, name="Subject")
    bake_motion(obj, random_motion, action_name="take")
    return obj, random_motion


@pytest.mark.parametrize("preset", ["UNITY", "UNREAL"])
def test_fbx_matches_core_fk(baked, tmp_path, preset):
    obj, motion = baked
    path = export_fbx(obj, tmp_path / f"take_{preset.lower()}.fbx", preset=preset)
    joints = ("left_wrist", "right_ankle", "head")
    frames = (0, 17, motion.num_frames - 1)
    fbx = read_fbx(path, [(j, f) for j in joints for f in frames])

    expected_bones = set(JOINT_NAMES) | ({ROOT_BONE} if preset == "UNREAL" else set())
    assert set(fbx.bones) == expected_bones  # no "_end" leaf bones, nothing else
    assert fbx.frames == motion.num_frames
    assert fbx.fps == pytest.approx(60.0)
    assert fbx.unit_meters == pytest.approx(FBX_UNIT_METRES[preset])
    # Y up, the subject faces +Z: the FBX axes equal the core frame, so no conversion but units.
    assert (fbx.up, fbx.front) == ("POSITIVE_Y", "POSITIVE_Z")

    positions, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    for joint in joints:
        for frame in frames:
            got = fbx.world_positions[(joint, frame)] * fbx.unit_meters
            assert np.linalg.norm(got - positions[frame, JOINT_INDEX[joint]]) < 1e-3, (joint, frame)


@pytest.mark.parametrize("preset", ["UNITY", "UNREAL"])
def test_a_take_baked_as_samples_exports_the_same_motion(blank_scene, random_motion, tmp_path, preset):
    """Long takes are baked as sampled curves (blender/bake.keys_for): the Unreal copy with its root
    bone must carry them too (it once copied keyframe points only, losing every rotation)."""
    obj = create_armature(random_motion.skeleton, name="Subject")
    bake_motion(obj, random_motion, action_name="take", keys="samples")
    assert all(len(c.sampled_points) and not len(c.keyframe_points) for c in compat.action_fcurves(obj))
    path = export_fbx(obj, tmp_path / "sampled.fbx", preset=preset)
    joints, frames = ("left_wrist", "right_ankle", "head"), (0, 17, random_motion.num_frames - 1)
    fbx = read_fbx(path, [(j, f) for j in joints for f in frames])
    assert fbx.frames == random_motion.num_frames
    positions, _ = forward_kinematics(random_motion.rotations, random_motion.translation, random_motion.skeleton)
    for joint in joints:
        for frame in frames:
            got = fbx.world_positions[(joint, frame)] * fbx.unit_meters
            assert np.linalg.norm(got - positions[frame, JOINT_INDEX[joint]]) < 1e-3, (joint, frame)
    # The user's action is left as it was: still sampled, nothing added.
    assert all(len(c.sampled_points) and not len(c.keyframe_points) for c in compat.action_fcurves(obj))


def test_unreal_root_bone_carries_the_horizontal_travel(baked, tmp_path):
    obj, motion = baked
    path = export_fbx(obj, tmp_path / "take.fbx", preset="UNREAL")
    fbx = read_fbx(path, [(ROOT_BONE, 0), (ROOT_BONE, 25)])
    assert fbx.depths["pelvis"] == fbx.depths[ROOT_BONE] + 1
    assert fbx.depths[ROOT_BONE] == min(fbx.depths[b] for b in fbx.bones)  # the top bone
    for frame in (0, 25):
        root = fbx.world_positions[(ROOT_BONE, frame)] * fbx.unit_meters
        assert root[1] == pytest.approx(0.0, abs=1e-6)  # on the floor
        assert np.allclose(root[[0, 2]], motion.translation[frame, [0, 2]], atol=1e-4)
    # Every node has scale 1: a centimetre file, not a metre file under a x100 node.
    for name, scale in fbx.scales.items():
        assert np.allclose(scale, 1.0, atol=1e-6), name


def test_unreal_export_leaves_the_users_data_untouched(baked, tmp_path):
    obj, _ = baked
    before = (sorted(bpy.data.objects.keys()), sorted(bpy.data.actions.keys()),
              sorted(bpy.data.meshes.keys()), sorted(bpy.data.armatures.keys()),
              bpy.context.scene.unit_settings.scale_length)
    export_fbx(obj, tmp_path / "take.fbx", preset="UNREAL")
    after = (sorted(bpy.data.objects.keys()), sorted(bpy.data.actions.keys()),
             sorted(bpy.data.meshes.keys()), sorted(bpy.data.armatures.keys()),
             bpy.context.scene.unit_settings.scale_length)
    assert before == after
    assert ROOT_BONE not in obj.data.bones


def test_bvh_export_has_every_joint_and_frame(baked, tmp_path):
    obj, motion = baked
    path = export_bvh(obj, tmp_path / "take.bvh")
    text = path.read_text()
    names = [line.split()[1] for line in text.splitlines() if line.strip().startswith(("ROOT", "JOINT"))]
    assert sorted(names) == sorted(JOINT_NAMES)
    header, data = text.split("MOTION")
    lines = data.strip().splitlines()
    assert lines[0].split()[-1] == str(motion.num_frames)
    assert float(lines[1].split()[-1]) == pytest.approx(1.0 / 60.0, rel=1e-4)
    assert len(lines) - 2 == motion.num_frames


def test_failed_export_leaves_no_file(baked, tmp_path):
    obj, _ = baked
    with pytest.raises(ExportError, match="does not exist"):
        export_fbx(obj, tmp_path / "missing" / "take.fbx")
    with pytest.raises(ExportError, match="must end in .fbx"):
        export_fbx(obj, tmp_path / "take.txt")
    with pytest.raises(ExportError, match="unknown FBX preset"):
        export_fbx(obj, tmp_path / "take.fbx", preset="GODOT")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_export(baked, tmp_path, monkeypatch):
    obj, _ = baked
    target = tmp_path / "take.fbx"
    target.write_bytes(b"the user's previous export")

    def broken_exporter(**kwargs):
        with open(kwargs["filepath"], "wb") as fh:
            fh.write(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(bpy.ops, "export_scene", types.SimpleNamespace(fbx=broken_exporter))
    with pytest.raises(RuntimeError, match="disk full"):
        export_fbx(obj, target)
    assert target.read_bytes() == b"the user's previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.fbx"]


def test_export_needs_an_action(blank_scene, skeleton, tmp_path):
    obj = create_armature(skeleton, with_mesh=False)
    with pytest.raises(ExportError, match="no action"):
        export_fbx(obj, tmp_path / "take.fbx")
