"""The tracker poser (inference/tracker_poser.py) against its torch twin (training/tracker_model.py),
its heading-frame features, streaming against offline, the shipped weights, and a smoke training."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.kinematics.mirror import mirror_motion
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from sparse_mocap_addon.core.trackers.six_point import stack_targets
from sparse_mocap_addon.core.trackers.synth import default_mountings, joint_targets, virtual_trackers
from sparse_mocap_addon.inference import nn, tracker_poser
from sparse_mocap_addon.inference.nn import WeightError, load_state_dict
from sparse_mocap_addon.inference.tracker_poser import (ASSETS, KINDS, OFFLINE_WEIGHT_FILES, OUTPUTS, WEIGHT_FILES,
                                                        TrackerPoser, TrackerPoserOutput, heading_yaw, input_size,
                                                        mirror_average, mirror_targets, tracker_features, yaw_matrix)

from .test_imu_dataset import _turning_motion, _write_corpus

torch = pytest.importorskip("torch", reason="torch is needed for the parity tests (it is in requirements.txt)")
from training.export_weights import export  # noqa: E402
from training.tracker_model import TrackerPoserNet  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _targets(kind, seconds=2.0, seed=0, motion=None):
    motion = _turning_motion(seconds=seconds, seed=seed) if motion is None else motion
    names = KINDS[kind]
    mountings = default_mountings(motion.skeleton, names)
    pos, rot, valid = stack_targets(joint_targets(virtual_trackers(motion, names, mountings), mountings), names)
    return motion, pos, rot, valid


def _random_weights(tmp_path, kind, hidden=24, bidirectional=False):
    torch.manual_seed(0)
    net = TrackerPoserNet(kind, hidden=hidden, layers=2, bidirectional=bidirectional)
    with torch.no_grad():
        net.input_mean.normal_()
        net.input_std.uniform_(0.5, 2.0)
    net.eval()
    path = export(net, tmp_path / f"{kind}.npz", {"architecture": "tracker_poser", "kind": kind, "version": 1,
                                                  "hyperparameters": {"hidden": hidden, "layers": 2,
                                                                      "pose_joints": list(range(10)) + list(range(12, 22))}})
    return net, path


@pytest.mark.parametrize("kind,bidirectional", [("three_point", False), ("six_point", False), ("three_point", True)])
def test_numpy_runtime_matches_torch(tmp_path, kind, bidirectional, monkeypatch):
    net, path = _random_weights(tmp_path, kind, bidirectional=bidirectional)
    poser = TrackerPoser.load(path=path)
    motion, pos, rot, valid = _targets(kind)
    features, _, _, _ = tracker_features(pos, rot, valid, motion.fps, kind, motion.skeleton)
    with torch.no_grad():
        raw = net(torch.from_numpy(features.astype(np.float32))[None])["raw"][0].numpy()
    ours, _ = poser.block.forward(poser._normalise(features))
    assert raw.shape == (len(pos), OUTPUTS)
    assert np.abs(ours - raw).max() < 1e-4
    assert poser.bidirectional == bidirectional
    # Batched segments (lanes) give the sequential result, a bidirectional model's too.
    monkeypatch.setattr(nn._Recurrent, "MIN_LANE", 20)
    whole = poser.run(pos, rot, valid, motion.skeleton, motion.fps, lanes=1)
    laned = poser.run(pos, rot, valid, motion.skeleton, motion.fps, lanes=5)
    assert np.abs(laned.globals - whole.globals).max() < 1e-4
    if bidirectional:
        with pytest.raises(ValueError, match="cannot stream"):
            poser.stream(motion.skeleton)


@pytest.mark.parametrize("kind", list(KINDS))
def test_stream_equals_offline(tmp_path, kind):
    _, path = _random_weights(tmp_path, kind)
    poser = TrackerPoser.load(path=path)
    motion, pos, rot, valid = _targets(kind, seconds=1.0)
    offline = poser.run(pos, rot, valid, motion.skeleton, motion.fps)
    stream = poser.stream(motion.skeleton, motion.fps)
    steps = [stream.step(pos[t], rot[t], valid[t]) for t in range(len(pos))]
    assert np.abs(np.concatenate([s.globals for s in steps]) - offline.globals).max() < 1e-5
    assert np.abs(np.concatenate([s.pelvis for s in steps]) - offline.pelvis).max() < 1e-5
    assert np.abs(np.concatenate([s.contact for s in steps]) - offline.contact).max() < 1e-5


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_mirrored_targets_are_the_mirrored_motion_s_and_its_pose_mirrors_back(kind):
    """Test-time mirroring's two mappings, checked against the mirrored motion itself
    (``core/kinematics/mirror``): its targets are the mirror image of the motion's, and its true
    pose, mirrored back, is the motion's."""
    motion, pos, rot, valid = _targets(kind)
    image = mirror_motion(motion)
    _, pos_image, rot_image, valid_image = _targets(kind, motion=image)
    valid[5, KINDS[kind].index("left_hand")] = False
    mirrored = mirror_targets(pos, rot, valid, KINDS[kind])
    assert np.abs(mirrored[0] - pos_image).max() < 1e-9 and np.abs(mirrored[1] - rot_image).max() < 1e-9
    assert not mirrored[2][5, KINDS[kind].index("right_hand")] and mirrored[2].sum() == valid.sum()

    def truth(m, contact):
        joints, globals_ = forward_kinematics(m.rotations, m.translation, m.skeleton)
        return TrackerPoserOutput(globals_, joints[:, 0], contact)
    contact = np.random.default_rng(1).uniform(size=(motion.num_frames, 2))
    own, image_truth = truth(motion, contact), truth(image, contact[:, ::-1])
    averaged = mirror_average(own, image_truth)
    assert np.abs(averaged.globals - own.globals).max() < 1e-9
    assert np.abs(averaged.pelvis - own.pelvis).max() < 1e-9 and np.abs(averaged.contact - contact).max() < 1e-12
    assert np.abs(image_truth.globals - own.globals).max() > 0.5      # a wrong mapping would not cancel


def test_a_mirrored_run_averages_the_run_and_its_mirror_image_s(tmp_path, monkeypatch):
    _, path = _random_weights(tmp_path, "three_point", bidirectional=True)
    poser = TrackerPoser.load(path=path)
    motion, pos, rot, valid = _targets("three_point")
    seen = []
    mirrored = poser.run(pos, rot, valid, motion.skeleton, motion.fps, progress=seen.append, mirror=True)
    plain = poser.run(pos, rot, valid, motion.skeleton, motion.fps)
    image = poser.run(*mirror_targets(pos, rot, valid, KINDS["three_point"]), mirror_motion(motion).skeleton, motion.fps)
    expected = mirror_average(plain, image)
    assert np.abs(mirrored.globals - expected.globals).max() < 1e-5       # the two as one batch of two
    assert np.abs(mirrored.pelvis - expected.pelvis).max() < 1e-5
    assert np.abs(mirrored.contact - expected.contact).max() < 1e-5
    assert seen == [1.0]
    assert np.abs(mirrored.globals - plain.globals).max() > 1e-3
    # A long input runs the two one after the other, each in its lanes: the same answer.
    monkeypatch.setattr(tracker_poser, "PAIRED_FRAMES", 10)
    apart = poser.run(pos, rot, valid, motion.skeleton, motion.fps, mirror=True)
    assert np.abs(apart.globals - mirrored.globals).max() < 1e-5


def test_features_do_not_depend_on_where_the_wearer_stands_or_faces():
    motion, pos, rot, valid = _targets("three_point", seconds=1.0)
    base, heading, origin, _ = tracker_features(pos, rot, valid, motion.fps, "three_point", motion.skeleton)
    turn = axis_angle_to_matrix(np.array((0.0, 1.3, 0.0)))
    shift = np.array((2.0, 0.0, -1.5))       # horizontal: the floor stays at y = 0
    moved, heading2, origin2, _ = tracker_features(pos @ turn.T + shift, turn @ rot, valid, motion.fps, "three_point",
                                                   motion.skeleton)
    assert np.abs(moved - base).max() < 1e-9
    assert np.abs(heading2 - turn @ heading).max() < 1e-9
    assert np.abs(origin2 - (origin @ turn.T + shift)).max() < 1e-9
    assert input_size("three_point") == base.shape[1]


def test_heading_survives_looking_straight_down_and_up():
    for pitch in (np.pi / 2, -np.pi / 2, 0.3):
        for yaw in (0.0, 1.0, -2.5):
            R = yaw_matrix(np.array(yaw)) @ axis_angle_to_matrix(np.array((pitch, 0.0, 0.0)))
            assert abs(np.angle(np.exp(1j * (heading_yaw(R) - yaw)))) < 1e-9


def test_wrong_weight_file_is_refused(tmp_path):
    path = export(torch.nn.Linear(2, 2), tmp_path / "other.npz", {"architecture": "imu_poser"})
    with pytest.raises(WeightError, match="not a tracker poser"):
        TrackerPoser.load(path=path)


@pytest.mark.parametrize("kind,offline", [("three_point", False), ("six_point", False), ("three_point", True),
                                          ("six_point", True)])
def test_shipped_weights_load_and_match_their_torch_twin(kind, offline):
    path = ASSETS / (OFFLINE_WEIGHT_FILES[kind] if offline else WEIGHT_FILES[kind])
    if not path.is_file():
        pytest.fail(f"{path} is missing: train it with python -m training.train_trackers --kind {kind}"
                    f"{' --bidirectional' if offline else ''} --out {path}")
    arrays, meta = load_state_dict(path)
    hyper = meta["hyperparameters"]
    assert meta["kind"] == kind and not meta["training"]["smoke"] and hyper.get("bidirectional", False) == offline
    net = TrackerPoserNet(kind, hidden=hyper["hidden"], layers=hyper["layers"], bidirectional=offline)
    net.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in arrays.items()})
    net.eval()
    poser = TrackerPoser.load(kind, offline=offline)
    motion, pos, rot, valid = _targets(kind, seconds=1.0)
    features, _, _, _ = tracker_features(pos, rot, valid, motion.fps, kind, motion.skeleton)
    with torch.no_grad():
        raw = net(torch.from_numpy(features.astype(np.float32))[None])["raw"][0].numpy()
    assert np.abs(poser.block.forward(poser._normalise(features))[0] - raw).max() < 1e-4


@pytest.mark.parametrize("kind,offline", [("three_point", False), ("six_point", False), ("three_point", True),
                                          ("six_point", True)])
def test_shipped_weights_in_lanes_stay_within_1e_3_of_the_sequential_run(kind, offline):
    """Offline, a long input runs as batched segments (nn lanes): within 1e-3 rad / m of the
    sequential run with the shipped weights (a minute: six segments)."""
    poser = TrackerPoser.load(kind, offline=offline)
    motion, pos, rot, valid = _targets(kind, seconds=60.0, seed=4)
    laned = poser.run(pos, rot, valid, motion.skeleton, motion.fps)
    sequential = poser.run(pos, rot, valid, motion.skeleton, motion.fps, lanes=1)
    cosine = (np.einsum("tjab,tjab->tj", laned.globals, sequential.globals) - 1.0) / 2.0
    assert np.arccos(np.clip(cosine, -1.0, 1.0)).max() < 1e-3
    assert np.abs(laned.pelvis - sequential.pelvis).max() < 1e-3
    assert np.abs(laned.contact - sequential.contact).max() < 1e-3


def test_smoke_training_writes_a_loadable_model(tmp_path):
    from training.train_trackers import main

    motion = _turning_motion(seconds=1.5)
    corpus = _write_corpus(tmp_path / "corpus", [("train", "demo", f"c{i}", motion) for i in range(3)]
                           + [("validation", "demo", "v0", motion)])
    out = tmp_path / "tiny.npz"
    assert main(["--kind", "six_point", "--smoke", "--corpus", str(corpus), "--out", str(out)]) == 0
    poser = TrackerPoser.load(path=out)
    _, pos, rot, valid = _targets("six_point", seconds=0.5)
    result = poser.run(pos, rot, valid, motion.skeleton)
    assert np.isfinite(result.globals).all() and result.globals.shape == (len(pos), 24, 3, 3)
