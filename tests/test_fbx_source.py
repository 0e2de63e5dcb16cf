"""FBX takes read through Blender's FBX importer into the rest-identity SourceMotion (real bpy)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

bpy = pytest.importorskip("bpy")

from sparse_mocap_addon.blender import compat  # noqa: E402
from sparse_mocap_addon.blender.fbx_source import IMPORT_OPTIONS, read_fbx_source  # noqa: E402
from sparse_mocap_addon.core.mocap.source import SourceFormatError  # noqa: E402

CMU_FBX = SHARED_DATA / "cmu_fbx"
# Frame counts of the takes as an independent reader (ufbx) sees them; all are 120 fps.
CMU_FRAMES = {"01_01": 2752, "08_02": 310, "09_11": 166, "49_08": 576, "55_01": 1807}
CMU_BONES = (
    "Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToeBase_end",
    "RHipJoint", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "RightToeBase_end",
    "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head", "Head_end",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftFingerBase", "LeftHandIndex1",
    "LeftHandIndex1_end", "LThumb", "LThumb_end",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightFingerBase", "RightHandIndex1",
    "RightHandIndex1_end", "RThumb", "RThumb_end",
)

needs_cmu = pytest.mark.skipif(not CMU_FBX.is_dir(), reason=f"CMU FBX takes not found in {CMU_FBX}")


def _cmu(take):
    return CMU_FBX / f"{take}_cmu.fbx"


def _id_snapshot():
    """Every datablock of the file, as (collection, name, pointer)."""
    out = set()
    for attr in dir(bpy.data):
        coll = getattr(bpy.data, attr, None)
        if isinstance(coll, bpy.types.bpy_prop_collection) and not attr.startswith("_"):
            out |= {(attr, idb.name, idb.as_pointer()) for idb in coll}
    return out


def _blender_heads(path, names, frames):
    """World head positions (len(frames), len(names), 3) straight from Blender's pose, for reference.

    Imports the file the same way the reader does, in the current scene, and removes it again.
    """
    before = _id_snapshot()
    bpy.ops.import_scene.fbx(filepath=str(path), **IMPORT_OPTIONS)
    try:
        arm = max((o for o in bpy.data.objects if o.type == "ARMATURE" and o.animation_data),
                  key=lambda o: len(o.data.bones))
        scene = bpy.context.scene
        out = np.empty((len(frames), len(names), 3))
        for k, frame in enumerate(frames):
            scene.frame_set(frame)
            for j, name in enumerate(names):
                out[k, j] = arm.matrix_world @ arm.pose.bones[name].head
        return out
    finally:
        new = _id_snapshot() - before
        bpy.data.batch_remove([idb for attr in {a for a, _, _ in new} for idb in getattr(bpy.data, attr)
                               if (attr, idb.name, idb.as_pointer()) in new])


# --- CMU takes -----------------------------------------------------------------------------------

@needs_cmu
def test_cmu_positions_match_blender(blank_scene):
    path = _cmu("49_08")
    exact = read_fbx_source(path, stretch_tolerance=0.0)
    default = read_fbx_source(path)
    frames_idx = [0, 1, 250, exact.num_frames - 1]
    start = int(exact.metadata["blender_frames"][0])
    ref = _blender_heads(path, exact.skeleton.names, [start + k for k in frames_idx])

    pos, _ = exact.global_transforms()
    assert np.abs(pos[frames_idx] - ref).max() < 1e-5
    # Default: constant offsets; the file's float noise on bone translations (~1e-5 units per
    # bone) then shows as a few 1e-5 units at the finger tips, on a 26-unit figure.
    assert default.local_offsets is None
    pos, _ = default.global_transforms()
    assert np.abs(pos[frames_idx] - ref).max() < 5e-5
    np.testing.assert_allclose(default.root_position[frames_idx], ref[:, 0], atol=1e-5)


@needs_cmu
@pytest.mark.parametrize("take", sorted(CMU_FRAMES))
def test_cmu_frames_fps_rig_and_constant_bones(blank_scene, take):
    motion = read_fbx_source(_cmu(take))
    assert motion.num_frames == CMU_FRAMES[take]
    assert motion.fps == pytest.approx(120.0)
    sk = motion.skeleton
    assert set(sk.names) == set(CMU_BONES) and sk.names[0] == "Hips"
    assert [n for n, e in zip(sk.names, sk.end_site) if e] == [n for n in sk.names if n.endswith("_end")]
    assert sk.names[sk.parents[sk.index("LeftUpLeg")]] == "LHipJoint"
    assert sk.names[sk.parents[sk.index("LeftShoulder")]] == "Spine1"
    assert motion.up_axis == "Z"
    # The files declare centimetres but hold CMU units x 100: a ~26 m figure, so no unit is claimed.
    assert motion.metres_per_unit is None
    assert motion.metadata["declared_metres_per_unit"] == 1.0
    assert 24.0 < motion.metadata["rest_extent_units"] < 29.0

    pos, rot = motion.global_transforms()
    assert np.all(np.isfinite(pos)) and np.all(np.isfinite(rot))
    lengths = np.linalg.norm(pos[:, 1:] - pos[:, sk.parents[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), atol=1e-6)


@needs_cmu
def test_cmu_rest_pose_is_a_t_pose_facing_minus_y(blank_scene):
    sk = read_fbx_source(_cmu("09_11")).skeleton
    rest = sk.rest_positions()

    def direction(a, b):
        d = rest[sk.index(b)] - rest[sk.index(a)]
        return d / np.linalg.norm(d)

    assert direction("LeftArm", "LeftHand") @ [1, 0, 0] > 0.98      # arms out sideways, left = +X
    assert direction("RightArm", "RightHand") @ [-1, 0, 0] > 0.98
    assert direction("LeftUpLeg", "LeftFoot") @ [0, 0, -1] > 0.99   # legs straight down
    assert direction("Spine", "Head") @ [0, 0, 1] > 0.95
    assert direction("LeftFoot", "LeftToeBase") @ [0, -1, 0] > 0.85  # toes point -Y: facing -Y


@needs_cmu
def test_cmu_import_leaves_the_user_file_untouched(blank_scene):
    scene = blank_scene
    mesh = bpy.data.meshes.new("UserMesh")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    user = bpy.data.objects.new("UserObject", mesh)
    scene.collection.objects.link(user)
    user.location = (1.0, 2.0, 3.0)
    user.select_set(True)
    bpy.context.view_layer.objects.active = user
    scene.render.fps, scene.render.fps_base = 25, 1.0
    scene.frame_start, scene.frame_end = 5, 60
    scene.frame_set(17)
    before = _id_snapshot()

    read_fbx_source(_cmu("09_11"))

    assert _id_snapshot() == before
    assert bpy.data.objects["UserObject"] == user and user.data == mesh
    assert tuple(user.location) == (1.0, 2.0, 3.0) and len(mesh.vertices) == 3
    assert [o.name for o in scene.objects] == ["UserObject"]
    assert user.select_get() and bpy.context.view_layer.objects.active == user
    assert (scene.render.fps, scene.render.fps_base) == (25, 1.0)
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (5, 60, 17)


# --- errors --------------------------------------------------------------------------------------

def test_garbage_file_is_refused_and_leaves_nothing(blank_scene, tmp_path):
    bad = tmp_path / "not_really.fbx"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    before = _id_snapshot()
    with pytest.raises(SourceFormatError, match="not_really.fbx"):
        read_fbx_source(bad)
    assert _id_snapshot() == before


def test_missing_file_says_so(blank_scene, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such FBX file"):
        read_fbx_source(tmp_path / "nowhere.fbx")


def test_file_without_armature_is_refused(blank_scene, tmp_path):
    bpy.ops.mesh.primitive_cube_add()
    path = tmp_path / "cube.fbx"
    bpy.ops.export_scene.fbx(filepath=str(path))
    before = _id_snapshot()
    with pytest.raises(SourceFormatError, match="cube.fbx: the FBX file has no armature"):
        read_fbx_source(path)
    assert _id_snapshot() == before


# --- round trip through Blender's exporter (no shared data needed) --------------------------------

_RIG = (  # name, parent, head, tail, roll: a small human-sized rig in metres, facing -Y
    ("pelvis", None, (0, 0, 1.0), (0, 0, 1.1), 0.0),
    ("spine", "pelvis", (0, 0, 1.1), (0, 0.05, 1.45), 0.3),
    ("head", "spine", (0, 0.05, 1.45), (0, 0, 1.7), 0.0),
    ("l_arm", "spine", (0.15, 0.05, 1.4), (0.45, 0.05, 1.38), 0.5),
    ("l_fore", "l_arm", (0.45, 0.05, 1.38), (0.7, 0.0, 1.36), -0.2),
    ("r_leg", "pelvis", (-0.1, 0, 0.95), (-0.1, 0.02, 0.5), 0.1),
    ("r_shin", "r_leg", (-0.1, 0.02, 0.5), (-0.1, 0, 0.08), 0.0),
)


def _make_rig(scene, name, spec, frames, seed):
    arm = bpy.data.objects.new(name, bpy.data.armatures.new(name + "Data"))
    scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for bone, parent, head, tail, roll in spec:
        eb = arm.data.edit_bones.new(bone)
        eb.head, eb.tail, eb.roll = head, tail, roll
        if parent:
            eb.parent = arm.data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    rng = np.random.default_rng(seed)
    fcurves = compat.assign_new_action(arm, bpy.data.actions.new(name + "Action"))
    keys = np.arange(1, frames + 1, dtype=float)
    for pb in arm.pose.bones:
        pb.rotation_mode = "QUATERNION"
        aa = rng.normal(scale=0.5, size=(frames, 3))
        angle = np.linalg.norm(aa, axis=1, keepdims=True)
        quat = np.concatenate((np.cos(angle / 2), np.sin(angle / 2) * aa / angle), axis=1)
        channels = [("rotation_quaternion", i, quat[:, i]) for i in range(4)]
        if pb.parent is None:
            channels += [("location", i, rng.normal(scale=0.3, size=frames)) for i in range(3)]
        for prop, index, values in channels:
            fc = compat.new_fcurve(fcurves, f'pose.bones["{pb.name}"].{prop}', index, pb.name)
            fc.keyframe_points.add(frames)
            fc.keyframe_points.foreach_set("co", np.stack((keys, values), axis=1).ravel())
    return arm


@pytest.mark.parametrize("fps_base", [1.0, 1.001], ids=["30fps", "29.97fps"])
def test_round_trip_through_blender_fbx_export(blank_scene, tmp_path, fps_base):
    scene = blank_scene
    scene.render.fps, scene.render.fps_base = 30, fps_base
    frames = 12
    scene.frame_start, scene.frame_end = 1, frames
    rig = _make_rig(scene, "Rig", _RIG, frames, seed=3)
    rig.location, rig.rotation_euler = (0.3, -0.2, 0.0), (0.0, 0.0, 0.4)
    decoy = _make_rig(scene, "Decoy", _RIG[:2], frames, seed=4)  # fewer bones: not picked
    names = [pb.name for pb in rig.pose.bones]
    expected = np.empty((frames, len(names), 3))
    for k in range(frames):
        scene.frame_set(1 + k)
        expected[k] = [rig.matrix_world @ pb.head for pb in rig.pose.bones]
    for obj in scene.objects:
        obj.select_set(True)
    path = tmp_path / "rig.fbx"
    bpy.ops.export_scene.fbx(filepath=str(path), use_selection=True, object_types={"ARMATURE"},
                             add_leaf_bones=False, bake_anim=True, bake_anim_use_all_actions=False,
                             bake_anim_use_nla_strips=False, bake_anim_simplify_factor=0.0)
    scene.render.fps, scene.render.fps_base = 24, 1.0  # the rate must come from the file
    before = _id_snapshot()

    motion = read_fbx_source(path)

    assert _id_snapshot() == before and (scene.render.fps, scene.render.fps_base) == (24, 1.0)
    assert decoy.name == "Decoy" and rig.name == "Rig"
    assert motion.metadata["armatures_in_file"] == 2
    assert motion.num_frames == frames and motion.fps == pytest.approx(30.0 / fps_base)
    assert motion.up_axis == "Z" and motion.metres_per_unit == 1.0
    assert set(motion.skeleton.names) == set(names) and not motion.skeleton.end_site.any()
    pos, _ = motion.global_transforms()
    got = pos[:, [motion.skeleton.index(n) for n in names]]
    # The exporter writes float32 keys in centimetres: agreement to a few 1e-5 m.
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_armature_with_two_root_bones_gets_the_object_as_root(blank_scene, tmp_path):
    scene = blank_scene
    frames = 6
    scene.frame_start, scene.frame_end = 1, frames
    spec = _RIG + (("prop", None, (0.5, 0.0, 0.5), (0.5, 0.0, 0.8), 0.2),)
    rig = _make_rig(scene, "TwoRoots", spec, frames, seed=5)
    rig.location = (0.0, 1.0, 0.0)
    names = [pb.name for pb in rig.pose.bones]
    expected = np.empty((frames, len(names), 3))
    for k in range(frames):
        scene.frame_set(1 + k)
        expected[k] = [rig.matrix_world @ pb.head for pb in rig.pose.bones]
    path = tmp_path / "two_roots.fbx"
    bpy.ops.export_scene.fbx(filepath=str(path), object_types={"ARMATURE"}, add_leaf_bones=False,
                             bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
                             bake_anim_simplify_factor=0.0)

    motion = read_fbx_source(path)

    sk = motion.skeleton
    assert sk.names[0] == "TwoRoots" and sk.num_joints == len(names) + 1
    assert sk.names[sk.parents[sk.index("pelvis")]] == "TwoRoots"
    assert sk.names[sk.parents[sk.index("prop")]] == "TwoRoots"
    np.testing.assert_allclose(motion.root_position, np.broadcast_to([0.0, 1.0, 0.0], (frames, 3)), atol=1e-6)
    pos, _ = motion.global_transforms()
    np.testing.assert_allclose(pos[:, [sk.index(n) for n in names]], expected, atol=1e-4)
