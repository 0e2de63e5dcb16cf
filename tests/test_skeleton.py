"""SMPL-24 topology, Skeleton, batched forward kinematics and the Motion data model / .npz io."""

import os

import numpy as np
import pytest

from sparse_mocap_addon.core.kinematics import motion as motion_module
from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.kinematics.motion import Motion, MotionFileError
from sparse_mocap_addon.core.kinematics.rotations import (
    axis_angle_to_quat,
    quat_identity,
    quat_normalize,
    quat_to_matrix,
)
from sparse_mocap_addon.core.kinematics.skeleton import (
    JOINT_INDEX,
    JOINT_NAMES,
    LEAVES,
    MIRROR,
    NUM_JOINTS,
    PARENTS,
    Skeleton,
    children,
    forward_kinematics,
    joint_positions,
)

J = JOINT_INDEX


@pytest.fixture(scope="module")
def body():
    return skeleton_from_measurements(default_measurements("male", 1.8))


@pytest.fixture(scope="module")
def random_skeleton():
    rng = np.random.default_rng(1)
    return Skeleton(rng.normal(size=(24, 3)) * 0.2, leaf_tips={15: [0, 0.1, 0]}, sole_height=0.05)


def _random_pose(frames, seed=0):
    rng = np.random.default_rng(seed)
    return quat_normalize(rng.normal(size=(frames, NUM_JOINTS, 4))), rng.normal(size=(frames, 3))


def _reference_fk(rotations, translation, skeleton):
    """Straightforward per-frame, per-joint FK to check the vectorised one against."""
    local = quat_to_matrix(rotations)
    frames = len(rotations)
    pos = np.zeros((frames, NUM_JOINTS, 3))
    glob = np.zeros((frames, NUM_JOINTS, 3, 3))
    for t in range(frames):
        glob[t, 0] = local[t, 0]
        pos[t, 0] = translation[t]
        for j in range(1, NUM_JOINTS):
            p = PARENTS[j]
            glob[t, j] = glob[t, p] @ local[t, j]
            pos[t, j] = pos[t, p] + glob[t, p] @ skeleton.offsets[j]
    return pos, glob


# --- topology ------------------------------------------------------------------------------------

def test_topology_tables():
    assert len(JOINT_NAMES) == NUM_JOINTS == 24
    assert PARENTS.tolist() == [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
    assert all(PARENTS[j] < j for j in range(1, NUM_JOINTS))
    assert sorted(JOINT_NAMES[j] for j in LEAVES) == sorted(
        ["head", "left_foot", "right_foot", "left_hand", "right_hand"])
    assert children(9) == [12, 13, 14]
    np.testing.assert_array_equal(MIRROR[MIRROR], np.arange(NUM_JOINTS))
    for j, name in enumerate(JOINT_NAMES):
        partner = JOINT_NAMES[MIRROR[j]]
        if name.startswith("left_"):
            assert partner == "right_" + name[5:]
        elif name.startswith("right_"):
            assert partner == "left_" + name[6:]
        else:
            assert partner == name
        assert PARENTS[MIRROR[j]] == (MIRROR[PARENTS[j]] if j else -1)


# --- Skeleton ------------------------------------------------------------------------------------

def test_skeleton_refuses_non_finite_offsets():
    offsets = np.zeros((24, 3))
    offsets[5, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Skeleton(offsets)
    with pytest.raises(ValueError):
        Skeleton(np.zeros((23, 3)))


def test_skeleton_arrays_round_trip_and_copy(body):
    back = Skeleton.from_arrays(body.to_arrays())
    np.testing.assert_array_equal(back.offsets, body.offsets)
    assert back.sole_height == body.sole_height
    assert set(back.leaf_tips) == set(body.leaf_tips)
    for j in body.leaf_tips:
        np.testing.assert_array_equal(back.leaf_tips[j], body.leaf_tips[j])
    c = body.copy()
    c.offsets[3, 1] += 1.0
    c.leaf_tips[15][1] += 1.0
    assert body.offsets[3, 1] != c.offsets[3, 1]
    assert body.leaf_tips[15][1] != c.leaf_tips[15][1]


def test_rest_positions_and_stature(body):
    rest = body.rest_positions()
    np.testing.assert_allclose(rest[0], body.offsets[0])
    for j in range(1, NUM_JOINTS):
        np.testing.assert_allclose(rest[j] - rest[PARENTS[j]], body.offsets[j])
    assert body.stature() == pytest.approx(1.8)
    lengths = body.bone_lengths()
    assert lengths[0] == 0.0
    np.testing.assert_allclose(lengths[1:], np.linalg.norm(body.offsets[1:], axis=-1))
    # A missing leaf tip falls back to half the incoming offset.
    bare = Skeleton(body.offsets)
    np.testing.assert_allclose(bare.leaf_tip(15), body.offsets[15] * 0.5)


# --- forward kinematics --------------------------------------------------------------------------

@pytest.mark.parametrize("which", ("body", "random_skeleton"))
def test_identity_pose_gives_rest_pose(which, request):
    sk = request.getfixturevalue(which)
    frames = 4
    rot = quat_identity((frames, NUM_JOINTS))
    # translation is the pelvis world position: offsets[0] reproduces the rest pose exactly.
    pos, glob = forward_kinematics(rot, np.tile(sk.offsets[0], (frames, 1)), sk)
    np.testing.assert_allclose(pos, np.broadcast_to(sk.rest_positions(), pos.shape), atol=1e-12)
    np.testing.assert_allclose(glob, np.broadcast_to(np.eye(3), glob.shape), atol=1e-15)
    # Any other translation shifts every joint by (translation - offsets[0]).
    shift = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 3.0], [0.5, 0.1, -0.2], [-4.0, 0.0, 7.0]])
    pos = joint_positions(rot, shift, sk)
    expected = sk.rest_positions()[None] + (shift - sk.offsets[0])[:, None]
    np.testing.assert_allclose(pos, expected, atol=1e-12)


@pytest.mark.parametrize("which", ("body", "random_skeleton"))
def test_fk_matches_reference_implementation(which, request):
    sk = request.getfixturevalue(which)
    rot, trans = _random_pose(9, seed=2)
    pos, glob = forward_kinematics(rot, trans, sk)
    ref_pos, ref_glob = _reference_fk(rot, trans, sk)
    np.testing.assert_allclose(pos, ref_pos, atol=1e-12)
    np.testing.assert_allclose(glob, ref_glob, atol=1e-12)
    assert pos.flags.c_contiguous and glob.flags.c_contiguous
    # Non-unit quaternions are normalised (same result as their unit versions).
    pos2, glob2 = forward_kinematics(rot * 2.5, trans, sk)
    np.testing.assert_allclose(pos2, pos, atol=1e-12)
    np.testing.assert_allclose(glob2, glob, atol=1e-12)


def test_fk_long_batches_across_internal_blocks(body):
    # More frames than one internal block, and not a multiple of it: compare with stacked matmuls.
    rot, trans = _random_pose(2500, seed=6)
    local = quat_to_matrix(rot)
    glob = np.empty_like(local)
    pos = np.empty((2500, NUM_JOINTS, 3))
    glob[:, 0], pos[:, 0] = local[:, 0], trans
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        glob[:, j] = glob[:, p] @ local[:, j]
        pos[:, j] = pos[:, p] + glob[:, p] @ body.offsets[j]
    got_pos, got_glob = forward_kinematics(rot, trans, body)
    np.testing.assert_allclose(got_pos, pos, atol=1e-12)
    np.testing.assert_allclose(got_glob, glob, atol=1e-12)
    got_pos, got_glob = forward_kinematics(local, trans, body)
    np.testing.assert_allclose(got_pos, pos, atol=1e-12)


def test_bone_lengths_preserved_under_random_rotations(body):
    rot, trans = _random_pose(50, seed=3)
    pos = joint_positions(rot, trans, body)
    lengths = np.linalg.norm(pos[:, 1:] - pos[:, PARENTS[1:]], axis=-1)
    np.testing.assert_allclose(lengths, np.broadcast_to(body.bone_lengths()[1:], lengths.shape), atol=1e-12)
    np.testing.assert_allclose(pos[:, 0], trans)


def test_quaternion_and_matrix_inputs_agree(body):
    rot, trans = _random_pose(6, seed=4)
    pq, gq = forward_kinematics(rot, trans, body)
    pm, gm = forward_kinematics(quat_to_matrix(rot), trans, body)
    np.testing.assert_allclose(pq, pm, atol=1e-12)
    np.testing.assert_allclose(gq, gm, atol=1e-12)


def test_hand_checked_90_degree_elbow(body):
    rot = quat_identity((1, NUM_JOINTS))
    # Left arm rests along +X; -90 degrees about Y bends the forearm to point forward (+Z).
    rot[0, J["left_elbow"]] = axis_angle_to_quat(np.array([0.0, -np.pi / 2, 0.0]))
    pos, glob = forward_kinematics(rot, body.offsets[0][None], body)
    rest = body.rest_positions()
    forearm = np.linalg.norm(body.offsets[J["left_wrist"]])
    hand = np.linalg.norm(body.offsets[J["left_hand"]])
    elbow = rest[J["left_elbow"]]
    np.testing.assert_allclose(pos[0, J["left_elbow"]], elbow, atol=1e-12)
    np.testing.assert_allclose(pos[0, J["left_wrist"]], elbow + [0.0, 0.0, forearm], atol=1e-12)
    np.testing.assert_allclose(pos[0, J["left_hand"]], elbow + [0.0, 0.0, forearm + hand], atol=1e-12)
    np.testing.assert_allclose(glob[0, J["left_wrist"]] @ [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], atol=1e-12)
    # Everything else stays at rest.
    others = [j for j in range(NUM_JOINTS) if j not in (J["left_wrist"], J["left_hand"])]
    np.testing.assert_allclose(pos[0, others], rest[others], atol=1e-12)
    # And a 90 degree turn of the whole body about Y (pelvis) turns +X into -Z.
    rot = quat_identity((1, NUM_JOINTS))
    rot[0, 0] = axis_angle_to_quat(np.array([0.0, np.pi / 2, 0.0]))
    pos = joint_positions(rot, np.zeros((1, 3)), body)
    d = rest[J["left_hand"]] - rest[0]
    np.testing.assert_allclose(pos[0, J["left_hand"]], [d[2], d[1], -d[0]], atol=1e-12)


def test_fk_shape_errors(body):
    rot, trans = _random_pose(3)
    with pytest.raises(ValueError, match="rotations"):
        forward_kinematics(rot[:, :23], trans, body)
    with pytest.raises(ValueError, match="rotations"):
        forward_kinematics(rot[..., :3], trans, body)
    with pytest.raises(ValueError, match="rotations"):
        forward_kinematics(rot[0], trans[0], body)
    with pytest.raises(ValueError, match="rotations"):
        forward_kinematics(np.zeros((3, 24, 3, 4)), trans, body)
    with pytest.raises(ValueError, match="translation"):
        forward_kinematics(rot, trans[:2], body)
    with pytest.raises(ValueError, match="translation"):
        forward_kinematics(rot, np.zeros((3, 2)), body)


def test_fk_single_and_empty_batches(body):
    rot, trans = _random_pose(1)
    pos, glob = forward_kinematics(rot, trans[0], body)   # (3,) translation for one frame is fine
    assert pos.shape == (1, 24, 3) and glob.shape == (1, 24, 3, 3)
    pos, glob = forward_kinematics(np.zeros((0, 24, 4)), np.zeros((0, 3)), body)
    assert pos.shape == (0, 24, 3) and glob.shape == (0, 24, 3, 3)


# --- Motion --------------------------------------------------------------------------------------

def _motion(body, frames=10, seed=5):
    rot, trans = _random_pose(frames, seed)
    return Motion(30.0, rot, trans, body, {"source": "test", "subject": {"height": 1.8}})


def test_motion_basics(body):
    m = _motion(body)
    assert m.num_frames == 10 and m.duration == pytest.approx(10 / 30)
    np.testing.assert_allclose(m.joint_positions(), joint_positions(m.rotations, m.translation, body))
    c = m.continuous()
    assert np.all(np.sum(c.rotations[1:] * c.rotations[:-1], axis=-1) >= 0.0)
    # Non-unit quaternions are normalised on the way in.
    m2 = Motion(30.0, m.rotations * 3.0, m.translation, body)
    np.testing.assert_allclose(np.linalg.norm(m2.rotations, axis=-1), 1.0)


@pytest.mark.parametrize("name", ("rotations", "translation"))
def test_motion_refuses_nan_naming_the_frame(body, name):
    rot, trans = _random_pose(8)
    arrays = {"rotations": rot, "translation": trans}
    arrays[name][3, ..., 1] = np.nan
    arrays[name][6, ..., 0] = np.inf
    with pytest.raises(ValueError, match=f"{name} has NaN or infinite values at frame 3"):
        Motion(30.0, arrays["rotations"], arrays["translation"], body)


def test_motion_refuses_bad_shapes_and_fps(body):
    rot, trans = _random_pose(4)
    with pytest.raises(ValueError, match="fps"):
        Motion(0.0, rot, trans, body)
    with pytest.raises(ValueError, match="fps"):
        Motion(float("nan"), rot, trans, body)
    with pytest.raises(ValueError, match="rotations"):
        Motion(30.0, rot[:, :20], trans, body)
    with pytest.raises(ValueError, match="translation"):
        Motion(30.0, rot, trans[:3], body)
    zero = rot.copy()
    zero[2, 7] = 0.0
    with pytest.raises(ValueError, match="frame 2"):
        Motion(30.0, zero, trans, body)


def test_save_load_round_trip_leaves_no_temporary(body, tmp_path):
    m = _motion(body)
    path = m.save(tmp_path / "take.npz")
    assert path == tmp_path / "take.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.npz"]
    back = Motion.load(path)
    assert back.fps == m.fps
    np.testing.assert_allclose(back.rotations, m.rotations, rtol=0, atol=1e-15)  # re-normalised on load
    np.testing.assert_array_equal(back.translation, m.translation)
    np.testing.assert_array_equal(back.skeleton.offsets, body.offsets)
    assert back.metadata == m.metadata
    # Overwriting works and still leaves nothing else behind.
    m.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.npz"]


def test_failing_save_leaves_no_file(body, tmp_path, monkeypatch):
    m = _motion(body)

    def broken(fh, **arrays):
        fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(motion_module.np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        m.save(tmp_path / "new.npz")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    # A failing save over an existing file leaves the old file intact.
    good = m.save(tmp_path / "old.npz")
    before = good.read_bytes()
    monkeypatch.setattr(motion_module.np, "savez_compressed", broken)
    with pytest.raises(OSError):
        _motion(body, seed=6).save(good)
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.npz"]


def test_save_refuses_other_suffixes_and_bad_metadata(body, tmp_path):
    m = _motion(body)
    with pytest.raises(ValueError, match=r"\.npz"):
        m.save(tmp_path / "take.bvh")
    m.metadata["bad"] = object()
    with pytest.raises(TypeError):
        m.save(tmp_path / "take.npz")
    assert list(tmp_path.iterdir()) == []


def test_load_errors_name_the_file(body, tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(MotionFileError, match="missing.npz"):
        Motion.load(missing)
    text = tmp_path / "notes.npz"
    text.write_text("this is not a zip archive\n")
    with pytest.raises(MotionFileError, match="notes.npz"):
        Motion.load(text)
    partial = tmp_path / "partial.npz"
    np.savez(partial, fps=np.float64(30.0), translation=np.zeros((2, 3)))
    with pytest.raises(MotionFileError) as info:
        Motion.load(partial)
    assert "partial.npz" in str(info.value)
    assert "rotations" in str(info.value) and "skeleton_offsets" in str(info.value)
    # Arrays present but inconsistent: still a MotionFileError naming the file.
    m = _motion(body)
    arrays = dict(np.load(m.save(tmp_path / "ok.npz")))
    arrays["translation"] = arrays["translation"][:-1]
    bad = tmp_path / "inconsistent.npz"
    np.savez(bad, **arrays)
    with pytest.raises(MotionFileError, match="inconsistent.npz"):
        Motion.load(bad)
    assert issubclass(MotionFileError, ValueError)
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))
