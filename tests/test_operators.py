"""The add-on's operators and panels, registered in this process on the real bpy module."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat  # noqa: E402

OPERATORS = ("create_armature", "bake_demo", "bake_motion_file", "export_fbx", "export_bvh")


def create(height=1.80, **fields):
    subject = bpy.context.scene.sparse_mocap_new_subject
    subject.height = height
    for key, value in fields.items():
        setattr(subject, key, value)
    assert bpy.ops.sparse_mocap.create_armature() == {"FINISHED"}
    return bpy.context.active_object


def test_everything_registered_and_undoable(addon):
    for name in OPERATORS:
        op_class = getattr(bpy.types, f"SPARSE_MOCAP_OT_{name}")
        if name.startswith(("create", "bake")):
            assert "UNDO" in op_class.bl_options, name
    for panel in ("SPARSE_MOCAP_PT_subject", "SPARSE_MOCAP_PT_bake_export"):
        panel_class = getattr(bpy.types, panel)
        assert (panel_class.bl_space_type, panel_class.bl_region_type, panel_class.bl_category) == \
            ("VIEW_3D", "UI", "Sparse Mocap")


def test_create_armature_stores_measurements_on_the_object(addon, tmp_path):
    obj = create(1.80, sex="male", arm_length=0.60, leg_length=0.88)
    assert obj.type == "ARMATURE" and len(obj.data.bones) == 24
    assert obj.sparse_mocap_subject.height == pytest.approx(1.80)
    assert obj.sparse_mocap_subject.sex == "male"
    assert bpy.data.objects[obj.name + "_body"].parent == obj
    name = obj.name
    # The measurements are saved in the .blend with the character.
    path = tmp_path / "subject.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    loaded = bpy.data.objects[name]
    assert loaded.sparse_mocap_subject.height == pytest.approx(1.80)
    assert loaded.sparse_mocap_subject.leg_length == pytest.approx(0.88)


def test_create_armature_refuses_implausible_measurements(addon):
    with pytest.raises(RuntimeError, match="leg_length 1.50 m is implausible"):
        create(1.70, leg_length=1.5)
    assert not [o for o in bpy.data.objects if o.type == "ARMATURE"]


def test_bake_demo_and_motion_file_create_new_actions(addon, tmp_path, random_motion):
    obj = create()
    assert bpy.ops.sparse_mocap.bake_demo(seconds=1.0) == {"FINISHED"}
    demo_action = obj.animation_data.action
    assert demo_action is not None and len(compat.action_fcurves(obj)[0].keyframe_points) == 60

    path = random_motion.save(tmp_path / "take.npz")
    assert bpy.ops.sparse_mocap.bake_motion_file(filepath=str(path)) == {"FINISHED"}
    assert obj.animation_data.action != demo_action
    assert demo_action.name in bpy.data.actions and demo_action.use_fake_user
    assert len(compat.action_fcurves(obj)[0].keyframe_points) == random_motion.num_frames


def test_bake_motion_file_onto_another_body_fits_it_with_its_feet_on_the_floor(addon, tmp_path):
    import numpy as np

    from sparse_mocap_addon.blender.action_motion import read_action_motion
    from sparse_mocap_addon.blender.armature import skeleton_from_armature
    from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements
    from sparse_mocap_addon.core.body.demo import demo_motion
    from sparse_mocap_addon.core.feet.stage import (FeetOptions, feet_metrics, feet_on_floor, motion_contacts,
                                                    sole_points)

    assert bpy.ops.sparse_mocap.bake_motion_file.get_rna_type().properties["feet_on_floor"].default is True
    tall = demo_motion(skeleton_from_measurements(BodyMeasurements(height=1.80)), seconds=2.0)
    path = tall.save(tmp_path / "tall.npz")
    obj = create(1.50)
    body = skeleton_from_armature(obj)
    for feet in (False, True):
        assert bpy.ops.sparse_mocap.bake_motion_file(filepath=str(path), feet_on_floor=feet) == {"FINISHED"}
        baked = read_action_motion(obj, bpy.context.scene).motion
        expected, report = feet_on_floor(tall, body, FeetOptions(enabled=feet))
        assert np.abs(baked.translation - expected.translation).max() < 1e-4
        lowest = sole_points(baked)[..., 1].min(axis=(1, 2))
        if feet:
            assert report["moved_onto_body"] and report["root_scale"] < 0.9
            metrics = feet_metrics(baked, motion_contacts(tall))
            assert metrics["foot_float_in_contact_max_cm"] <= 1.0 and metrics["foot_below_floor_max_cm"] <= 1.0
        else:
            assert lowest.min() > 0.1          # raw: the tall walk's pelvis path keeps the short body's feet up


def test_bake_motion_file_reports_a_bad_file(addon, tmp_path):
    create()
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RuntimeError, match="broken.npz: not a readable .npz Motion file"):
        bpy.ops.sparse_mocap.bake_motion_file(filepath=str(bad))
    assert len(bpy.data.actions) == 0


def test_operators_need_an_smpl_armature(addon):
    assert not bpy.ops.sparse_mocap.bake_demo.poll()
    assert not bpy.ops.sparse_mocap.export_fbx.poll()
    create()
    assert bpy.ops.sparse_mocap.bake_demo.poll()
    assert not bpy.ops.sparse_mocap.export_fbx.poll()  # nothing baked yet


def test_export_operators_write_files(addon, tmp_path):
    create()
    bpy.ops.sparse_mocap.bake_demo(seconds=1.0)
    for preset in ("UNITY", "UNREAL"):
        path = tmp_path / f"take_{preset}.fbx"
        assert bpy.ops.sparse_mocap.export_fbx(filepath=str(path), preset=preset) == {"FINISHED"}
        assert path.stat().st_size > 10_000
    assert bpy.ops.sparse_mocap.export_bvh(filepath=str(tmp_path / "take.bvh")) == {"FINISHED"}
    assert (tmp_path / "take.bvh").read_text().startswith("HIERARCHY")
