"""The procedural demo walk (numpy only, no bpy)."""

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import DEMO_SOURCE, demo_motion
from sparse_mocap_addon.core.feet.soles import foot_floor_points
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import quat_angle_between
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, forward_kinematics

J = JOINT_INDEX


@pytest.fixture(scope="module")
def walk():
    return demo_motion()


def test_shape_and_values(walk):
    assert isinstance(walk, Motion)
    assert walk.fps == 60.0
    assert walk.num_frames == 240
    assert walk.rotations.shape == (240, 24, 4)
    assert walk.translation.shape == (240, 3)
    assert np.all(np.isfinite(walk.rotations)) and np.all(np.isfinite(walk.translation))
    np.testing.assert_allclose(np.linalg.norm(walk.rotations, axis=-1), 1.0, atol=1e-12)
    assert walk.metadata["source"] == DEMO_SOURCE
    assert walk.metadata["subject_measurements"]["height"] == pytest.approx(1.75)


def test_default_skeleton_is_the_default_measurements(walk):
    expected = skeleton_from_measurements(default_measurements())
    np.testing.assert_allclose(walk.skeleton.offsets, expected.offsets)


def test_moves_forward_along_z(walk):
    z = walk.translation[:, 2]
    assert z[-1] - z[0] > 3.0                        # > 0.75 m/s over 4 s
    assert 0.8 < walk.metadata["mean_speed_m_per_s"] < 2.0
    # Forward every half second, never a step back of more than a millimetre between frames.
    assert np.all(np.diff(z[::30]) > 0.2)
    assert np.all(np.diff(z) > -1e-3)
    # Straight: little sideways drift; the whole body moves with the pelvis.
    assert np.abs(walk.translation[:, 0]).max() < 0.05
    pos = walk.joint_positions()
    head = pos[:, J["head"], 2]
    assert head[-1] - head[0] > 3.0


def test_joints_actually_move(walk):
    # Hip, knee, ankle flex; arms swing; pelvis bobs a few centimetres.
    for name in ("left_hip", "left_knee", "left_ankle", "right_hip", "left_shoulder", "right_elbow", "spine1"):
        q = walk.rotations[:, J[name]]
        assert quat_angle_between(q, q[:1]).max() > np.radians(2.0), name
    knee = walk.rotations[:, J["left_knee"]]
    assert np.degrees(2.0 * np.arccos(np.abs(knee[:, 0]))).max() > 45.0
    bob = np.ptp(walk.translation[:, 1])
    assert 0.01 < bob < 0.08
    # Arms hang by the sides: hands below the shoulders.
    pos = walk.joint_positions()
    assert np.all(pos[:, J["left_hand"], 1] < pos[:, J["left_shoulder"], 1] - 0.3)
    assert np.all(pos[:, J["right_hand"], 1] < pos[:, J["right_shoulder"], 1] - 0.3)
    # Counter-swing: the left hand is forward when the left foot is back.
    rel_hand = pos[:, J["left_hand"], 2] - pos[:, J["pelvis"], 2]
    rel_foot = pos[:, J["left_ankle"], 2] - pos[:, J["pelvis"], 2]
    assert np.corrcoef(rel_hand, rel_foot)[0, 1] < -0.5


def _check_floor(motion):
    positions, global_rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    sk = motion.skeleton
    points = foot_floor_points(positions, global_rot, sk)
    assert points.shape == (motion.num_frames, 2, 3, 3)
    # No foot point more than 1 cm below the floor (by construction: none below at all).
    assert points[..., 1].min() > -0.01
    for side in ("left", "right"):
        ankle, foot = J[f"{side}_ankle"], J[f"{side}_foot"]
        assert positions[:, ankle, 1].min() > sk.sole_height - 0.01
        assert positions[:, foot, 1].min() > -0.01
        toe = positions[:, foot] + global_rot[:, foot] @ sk.leaf_tip(foot)
        assert toe[:, 1].min() > -0.01
    # And the body is not floating: some foot point touches the floor every frame.
    np.testing.assert_allclose(points[..., 1].reshape(motion.num_frames, -1).min(axis=1), 0.0, atol=1e-9)


def test_feet_do_not_go_through_the_floor(walk):
    _check_floor(walk)


@pytest.mark.parametrize("sex,height", (("female", 1.5), ("male", 1.95), ("neutral", 0.9)))
def test_other_skeletons(sex, height):
    sk = skeleton_from_measurements(BodyMeasurements(height, sex=sex))
    m = demo_motion(sk, seconds=2.0, fps=30.0)
    assert m.num_frames == 60 and m.fps == 30.0
    assert m.skeleton is sk
    assert m.translation[-1, 2] > m.translation[0, 2] + 0.5 * height
    _check_floor(m)


def test_deterministic_and_short_inputs():
    a, b = demo_motion(seconds=1.0), demo_motion(seconds=1.0)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    np.testing.assert_array_equal(a.translation, b.translation)
    one = demo_motion(seconds=0.01, fps=24.0)
    assert one.num_frames == 1
    np.testing.assert_allclose(one.rotations, a.rotations[:1], atol=1e-12)


@pytest.mark.parametrize("kwargs", ({"seconds": 0.0}, {"seconds": -1.0}, {"seconds": float("nan")},
                                    {"fps": 0.0}, {"fps": float("inf")}, {"fps": "60"}, {"fps": True}))
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        demo_motion(**kwargs)


def test_save_load_round_trip(walk, tmp_path):
    path = walk.save(tmp_path / "walk.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["walk.npz"]
    back = Motion.load(path)
    assert back.fps == walk.fps
    np.testing.assert_allclose(back.rotations, walk.rotations, atol=1e-15)
    np.testing.assert_allclose(back.translation, walk.translation, atol=1e-15)
    np.testing.assert_allclose(back.skeleton.offsets, walk.skeleton.offsets)
    assert back.skeleton.sole_height == pytest.approx(walk.skeleton.sole_height)
    assert set(back.skeleton.leaf_tips) == set(walk.skeleton.leaf_tips)
    assert back.metadata == walk.metadata
    np.testing.assert_allclose(back.joint_positions(), walk.joint_positions(), atol=1e-12)
