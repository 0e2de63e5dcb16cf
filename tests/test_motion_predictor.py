"""The motion predictor: numpy runtime vs torch, gap-filling features, predict_gaps, fill_motion_gaps."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.gaps import fillable_gaps, find_gaps, interpolate_gaps, seam_velocity_jump
from sparse_mocap_addon.core.kinematics.rotations import quat_angle_between
from sparse_mocap_addon.inference.gap_fill import fill_motion_gaps
from sparse_mocap_addon.inference.motion_predictor import (GAP_FEATURES, GAP_WEIGHTS, GAP_WINDOW, GapFiller,
                                                           MotionMLP, dct_matrix, interpolate_unknown,
                                                           pose_features, pose_from_features, predict_gaps,
                                                           reference_frames)
from sparse_mocap_addon.inference.nn import load_state_dict

torch = pytest.importorskip("torch")


def _torch_model(frames=12, features=9, in_features=None, blocks=3, seed=0, channel_hidden=0):
    from training.motion_mlp import MotionMLP as TorchMLP

    torch.manual_seed(seed)
    model = TorchMLP(frames, features, in_features, blocks=blocks, channel_hidden=channel_hidden)
    with torch.no_grad():              # leave siMLPe's near-zero start so the test sees real mixing
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def _arrays(model):
    from training.export_weights import torch_state_dict_to_numpy

    return torch_state_dict_to_numpy(model)


def test_dct_is_orthonormal():
    d = dct_matrix(35)
    assert np.allclose(d @ d.T, np.eye(35), atol=1e-12)


@pytest.mark.parametrize("in_features,channel_hidden", [(None, 0), (10, 0), (10, 16)])
def test_numpy_runtime_matches_torch(in_features, channel_hidden):
    model = _torch_model(in_features=in_features, channel_hidden=channel_hidden)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 12, in_features or 9)).astype(np.float32)
    residual = rng.normal(size=(4, 12, 9)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x), torch.from_numpy(residual)).numpy()
    got = MotionMLP(_arrays(model))(x, residual)
    assert np.abs(got - expected).max() < 1e-4
    got64 = MotionMLP(_arrays(model.double()), dtype=np.float64)(x.astype(np.float64), residual)
    with torch.no_grad():
        expected64 = model(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(residual.astype(np.float64)))
    assert np.abs(got64 - expected64.numpy()).max() < 1e-10


def test_untrained_network_returns_its_residual():
    from training.motion_mlp import MotionMLP as TorchMLP

    model = TorchMLP(8, 5, blocks=2)
    x = torch.randn(2, 8, 5)
    assert torch.allclose(model(x, x), x, atol=1e-5)


def test_runtime_rejects_wrong_shapes():
    net = MotionMLP(_arrays(_torch_model()))
    with pytest.raises(ValueError, match=r"\(batch, 12, 9\)"):
        net(np.zeros((1, 10, 9)), np.zeros((1, 10, 9)))


@pytest.mark.skipif(not GAP_WEIGHTS.is_file(), reason="the shipped gap filler weights are not committed yet")
def test_shipped_gap_filler_matches_torch():
    from training.motion_mlp import MotionMLP as TorchMLP

    arrays, meta = load_state_dict(GAP_WEIGHTS, architecture="gap_motion_mlp")
    hyper = meta["hyperparameters"]
    model = TorchMLP(GAP_WINDOW, GAP_FEATURES, GAP_FEATURES + 1, blocks=hyper["blocks"],
                     channel_hidden=hyper.get("channel_hidden", 0))
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in arrays.items()})
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, GAP_WINDOW, GAP_FEATURES + 1)).astype(np.float32)
    base = rng.normal(size=(3, GAP_WINDOW, GAP_FEATURES)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x), torch.from_numpy(base)).numpy()
    assert np.abs(GapFiller.load().model(x, base) - expected).max() < 1e-4


# --- features ---------------------------------------------------------------------------------------

def _windows(count=3, frames=GAP_WINDOW):
    motion = demo_motion(seconds=6.0)
    starts = np.arange(count) * 40
    index = starts[:, None] + np.arange(frames)
    return motion.rotations[index], motion.translation[index]


def test_features_round_trip_and_heading_invariance():
    from sparse_mocap_addon.core.kinematics.rotations import quat_multiply
    from sparse_mocap_addon.inference.tracker_poser import yaw_matrix
    from sparse_mocap_addon.core.kinematics.rotations import matrix_to_quat

    rotations, translation = _windows()
    reference = np.array([0, 10, 63])
    features, yaw, origin = pose_features(rotations, translation, reference)
    assert features.shape == (3, GAP_WINDOW, GAP_FEATURES)
    back_rot, back_trans = pose_from_features(features, yaw, origin)
    assert np.allclose(back_trans, translation, atol=1e-9)
    assert quat_angle_between(back_rot, rotations).max() < 1e-6
    # Turning and moving the performer changes nothing the network sees.
    turn = matrix_to_quat(yaw_matrix(np.array(1.1)))
    turned = rotations.copy()
    turned[:, :, 0] = quat_multiply(turn, rotations[:, :, 0])
    moved = (yaw_matrix(np.array(1.1)) @ translation[..., None])[..., 0] + np.array([3.0, 0.0, -2.0])
    features2, _, _ = pose_features(turned, moved, reference)
    assert np.allclose(features2, features, atol=1e-9)


def test_reference_frame_is_last_known_before_the_first_hole():
    known = np.ones((3, 10), dtype=bool)
    known[0, 4:6] = False
    known[1, :3] = False
    known[2, 8:] = False
    assert reference_frames(known).tolist() == [3, 3, 7]


def test_interpolate_unknown_is_linear_inside_and_holds_at_edges():
    features = np.arange(10, dtype=float)[None, :, None] * np.ones((1, 1, 2))
    known = np.ones((1, 10), dtype=bool)
    known[0, 3:6] = False
    known[0, 8:] = False
    features_bad = features.copy()
    features_bad[0, ~known[0]] = 99.0
    out = interpolate_unknown(features_bad, known)
    assert np.allclose(out[0, :8, 0], np.arange(8))
    assert np.allclose(out[0, 8:, 0], 7.0)


# --- core/gaps ----------------------------------------------------------------------------------------

def test_find_gaps_and_fillable():
    mask = np.zeros(20, dtype=bool)
    mask[[0, 1, 5, 6, 7, 19]] = True
    assert find_gaps(mask) == [(0, 2), (5, 8), (19, 20)]
    keep, skip = fillable_gaps(mask, 2)
    assert keep == [(0, 2), (19, 20)] and skip == [(5, 8)]
    assert fillable_gaps(np.ones(5, dtype=bool), None) == ([], [(0, 5)])
    with pytest.raises(ValueError, match="one flag per frame"):
        find_gaps(np.zeros((3, 2), dtype=bool))


def test_interpolate_gaps_matches_neighbours_and_lerps_translation():
    motion = demo_motion(seconds=2.0)
    filled = interpolate_gaps(motion, [(10, 20)])
    t = (15 - 9) / 11
    assert np.allclose(filled.translation[15], motion.translation[9] + t * (motion.translation[20] - motion.translation[9]))
    assert np.allclose(filled.rotations[:10], motion.continuous().rotations[:10])
    held = interpolate_gaps(motion, [(0, 5)])
    assert quat_angle_between(held.rotations[:5], motion.rotations[5][None]).max() < 1e-9


def test_seam_jump_sees_a_kink():
    t = np.arange(30, dtype=float)[:, None, None] * np.ones((1, 2, 3)) / 30
    smooth = seam_velocity_jump(t, [(10, 15)], 30.0)
    kinked = t.copy()
    kinked[10:15] = kinked[9]
    assert smooth < 1e-9 < seam_velocity_jump(kinked, [(10, 15)], 30.0)


# --- predict_gaps / fill_motion_gaps -------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_filler():
    """A trained-looking but random network: enough to check the plumbing, not the accuracy."""
    from training.motion_mlp import MotionMLP as TorchMLP

    torch.manual_seed(3)
    model = TorchMLP(GAP_WINDOW, GAP_FEATURES, GAP_FEATURES + 1, blocks=2)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.001 * torch.randn_like(p))
    return GapFiller(MotionMLP(_arrays(model)), {"hyperparameters": {"fps": 30.0}})


@pytest.mark.parametrize("fps", [60.0, 30.0, 24.0])
def test_predict_gaps_keeps_known_frames_and_meets_the_seams(small_filler, fps):
    from sparse_mocap_addon.core.kinematics.resample import resample_motion

    motion = resample_motion(demo_motion(seconds=8.0), fps)
    missing = np.zeros(motion.num_frames, dtype=bool)
    gaps = [(0, int(0.3 * fps)), (int(2 * fps), int(2.5 * fps)), (motion.num_frames - int(0.4 * fps), motion.num_frames)]
    for a, b in gaps:
        missing[a:b] = True
    result = fill_motion_gaps(motion, missing, predictor=small_filler)
    assert result.gaps == gaps and result.num_filled == missing.sum() and not result.unfilled.any()
    out = result.motion
    assert quat_angle_between(out.rotations[~missing], motion.rotations[~missing]).max() < 1e-7
    assert np.array_equal(out.translation[~missing], motion.translation[~missing])
    # Seams: the first and last filled frames continue the known ones (no pop): the root moves
    # across each seam about as far as it does between the known frames beside it.
    a, b = gaps[1]
    step = np.linalg.norm(np.diff(out.translation, axis=0), axis=-1)
    known_step = max(step[a - 2], step[b])
    assert step[a - 1] < 2 * known_step + 1e-3 and step[b - 1] < 2 * known_step + 1e-3
    assert out.metadata["gap_fill_method"] == "predictor"


def test_fill_motion_gaps_leaves_long_gaps_and_reports_them(small_filler):
    motion = demo_motion(seconds=6.0)
    missing = np.zeros(motion.num_frames, dtype=bool)
    missing[30:40] = True
    missing[100:200] = True                     # 1.67 s at 60 fps: longer than the 1 s default
    result = fill_motion_gaps(motion, missing, predictor=small_filler)
    assert result.gaps == [(30, 40)] and result.skipped == [(100, 200)]
    assert result.unfilled.sum() == 100
    assert np.array_equal(result.motion.translation[100:200], motion.translation[100:200])


def test_fill_motion_gaps_rejects_bad_arguments():
    motion = demo_motion(seconds=1.0)
    with pytest.raises(ValueError, match="one flag per frame"):
        fill_motion_gaps(motion, np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="unknown gap-fill method"):
        fill_motion_gaps(motion, np.zeros(motion.num_frames, dtype=bool), method="cubic")
    with pytest.raises(ValueError, match="positive"):
        fill_motion_gaps(motion, np.zeros(motion.num_frames, dtype=bool), max_gap_seconds=0)


def test_slerp_fill_is_the_baseline():
    motion = demo_motion(seconds=3.0)
    missing = np.zeros(motion.num_frames, dtype=bool)
    missing[50:80] = True
    result = fill_motion_gaps(motion, missing, method="slerp")
    assert np.allclose(result.motion.translation, interpolate_gaps(motion, [(50, 80)]).translation)


def test_gap_training_smoke_exports_weights_predict_gaps_reads(tmp_path):
    from training.train_gap_fill import main

    from .test_imu_dataset import _turning_motion, _write_corpus

    corpus = _write_corpus(tmp_path / "corpus", [
        ("train", "demo", "a", _turning_motion(seconds=4.0, seed=1)),
        ("train", "demo", "b", _turning_motion(seconds=4.0, seed=2)),
        ("validation", "demo", "c", _turning_motion(seconds=4.0, seed=3)),
    ])
    out = tmp_path / "gap.npz"
    assert main(["--corpus", str(corpus), "--out", str(out), "--smoke"]) == 0
    filler = GapFiller.load(out)
    motion = _turning_motion(seconds=3.0, seed=4)
    missing = np.zeros(motion.num_frames, dtype=bool)
    missing[60:90] = True
    result = fill_motion_gaps(motion, missing, predictor=filler)
    assert result.gaps == [(60, 90)] and np.isfinite(result.motion.rotations).all()


def test_bridge_keeps_the_speed_across_a_hole():
    from sparse_mocap_addon.inference.motion_predictor import bridge_unknown

    t = np.arange(20, dtype=float)
    features = np.stack([t, t ** 2 / 20], axis=-1)[None]        # constant speed, and accelerating
    known = np.ones((1, 20), dtype=bool)
    known[0, 8:12] = False
    known[0, 17:] = False
    out = bridge_unknown(features, known)
    assert np.allclose(out[0, 8:12, 0], t[8:12])                  # a straight line is kept exactly
    linear = interpolate_unknown(features, known)
    bridge_error = np.abs(out[0, 8:12, 1] - features[0, 8:12, 1]).max()
    assert bridge_error < 0.25 * np.abs(linear[0, 8:12, 1] - features[0, 8:12, 1]).max()
    # One-sided: the speed carries on and fades (never overshoots the straight line).
    assert np.all(np.diff(out[0, 16:, 0]) > 0) and np.all(out[0, 17:, 0] < t[17:])
