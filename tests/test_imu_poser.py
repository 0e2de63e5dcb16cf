"""The IMU poser: numpy runtime (inference/imu_poser.py) against its torch twin (training/imu_model.py),
streaming against offline, the shipped weights, and a tiny smoke training (training/train_imu.py).

Torch runs single-threaded (see tests/test_nn_parity.py for the torch 2.13 two-thread tanh issue).
"""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.kinematics.mirror import mirror_motion
from sparse_mocap_addon.core.kinematics.rotations import quat_to_matrix, sixd_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from sparse_mocap_addon.core.imu.synth import features, virtual_imus
from sparse_mocap_addon.inference.imu_poser import (
    ASSETS, KINDS, OFFLINE_WEIGHT_FILES, POSE_JOINTS, WEIGHT_FILES, ImuPoser, PoserOutput, local_quaternions,
    mirror_average, mirror_inputs, relative_globals, shape_vector,
)
from sparse_mocap_addon.inference import imu_poser, nn
from sparse_mocap_addon.inference.nn import WeightError, load_state_dict

from .test_imu_dataset import _turning_motion, _write_corpus

torch = pytest.importorskip("torch", reason="torch is needed for the parity tests (it is in requirements.txt)")
from training.export_weights import export  # noqa: E402
from training.imu_dataset import make_sample  # noqa: E402
from training.imu_model import ImuPoserNet  # noqa: E402

MEASUREMENTS = BodyMeasurements(height=1.82, arm_length=0.60, leg_length=0.86, sex="male")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(frames=150, seed=0):
    """Real-looking inputs: the normalised features of a turning walk's virtual IMUs, a few drops."""
    rec = virtual_imus(_turning_motion(seconds=frames / 60.0, seed=seed))
    valid = np.ones((rec.num_frames, 6), np.float32)
    valid[40:43, 2] = 0.0
    return features(rec).astype(np.float32), valid


def _torch_outputs(model, imu, valid, measurements):
    with torch.no_grad():
        out = model(torch.from_numpy(imu)[None], torch.from_numpy(valid)[None],
                    torch.from_numpy(shape_vector(measurements).astype(np.float32))[None])
    return {k: v[0].numpy().astype(np.float64) for k, v in out.items()}


def _random_model(kind, tmp_path, hidden=24, bidirectional=False, root_velocity=False):
    torch.manual_seed(7)
    model = ImuPoserNet(kind, hidden=hidden, bidirectional=bidirectional, root_velocity=root_velocity).eval()
    model.shape_mean.copy_(torch.tensor([1.7, 0.55, 0.8, 0.0]))
    model.shape_std.copy_(torch.tensor([0.09, 0.03, 0.04, 0.9]))
    path = export(model, tmp_path / f"{kind}.npz", {
        "architecture": "imu_poser", "version": 1, "kind": kind,
        "hyperparameters": {"hidden": hidden, "layers": 2, "pose_joints": list(POSE_JOINTS), "acc_clamp": 6.0}})
    return model, ImuPoser.load(path)


def _assert_parity(out, ref, tol=1e-4):
    rot = np.abs(sixd_to_matrix(out.pose_6d) - sixd_to_matrix(ref["pose_6d"])).max()
    assert rot <= tol, f"joint rotations differ by {rot:.2e}"
    if "joints" in ref:
        assert np.abs(out.joints - ref["joints"]).max() <= tol
        assert np.abs(out.leaf - ref["leaf"]).max() <= tol
        assert np.abs(out.contact - 1 / (1 + np.exp(-ref["contact_logit"]))).max() <= tol
    if "root_velocity" in ref:
        assert np.abs(out.root_velocity - ref["root_velocity"]).max() <= tol
    else:
        assert out.root_velocity is None


@pytest.mark.parametrize("kind", KINDS)
def test_numpy_runtime_matches_torch_and_streaming_matches_offline(kind, tmp_path, monkeypatch):
    model, poser = _random_model(kind, tmp_path)
    imu, valid = _inputs()
    imu[10, 0] = 40.0                               # a glitch: clamped the same way on both sides
    ref = _torch_outputs(model, imu, valid, MEASUREMENTS)
    offline = poser.run(imu, valid, MEASUREMENTS)
    _assert_parity(offline, ref)
    stream = poser.stream(MEASUREMENTS)
    frames = [stream.step(imu[t], valid[t]) for t in range(len(imu))]
    streamed = np.stack([f.pose_6d for f in frames])
    assert np.abs(streamed - offline.pose_6d).max() <= 1e-5
    assert offline.pose_6d.shape == (len(imu), len(POSE_JOINTS), 6)
    # Batched segments (lanes) of a "long" input give the sequential result.
    monkeypatch.setattr(nn._Recurrent, "MIN_LANE", 30)
    seen = []
    sequential = poser.run(imu, valid, MEASUREMENTS, lanes=1)
    laned = poser.run(imu, valid, MEASUREMENTS, progress=seen.append, lanes=4)
    assert np.abs(laned.pose_6d - sequential.pose_6d).max() <= 1e-5 and seen[-1] == 1.0
    assert np.abs(sequential.pose_6d - offline.pose_6d).max() <= 1e-5
    stream.reset()
    assert np.abs(stream.step(imu[0], valid[0]).pose_6d - offline.pose_6d[0]).max() <= 1e-5


def test_bidirectional_offline_model_matches_torch_and_refuses_to_stream(tmp_path, monkeypatch):
    model, poser = _random_model("full", tmp_path, bidirectional=True)
    assert poser.bidirectional and poser.context == imu_poser.OFFLINE_CONTEXT_FRAMES
    imu, valid = _inputs()
    offline = poser.run(imu, valid, MEASUREMENTS)
    _assert_parity(offline, _torch_outputs(model, imu, valid, MEASUREMENTS))
    # It sees the future: changing frames 10-19 changes frame 0's output.
    late = imu.copy()
    late[10:20] += 0.5
    assert np.abs(poser.run(late, valid, MEASUREMENTS).pose_6d[0] - offline.pose_6d[0]).max() > 1e-6
    with pytest.raises(ValueError, match="offline .bidirectional. model.*cannot stream"):
        poser.stream(MEASUREMENTS)
    monkeypatch.setattr(nn._Recurrent, "MIN_LANE", 30)
    laned = poser.run(imu, valid, MEASUREMENTS, lanes=4)
    assert np.abs(laned.pose_6d - poser.run(imu, valid, MEASUREMENTS, lanes=1).pose_6d).max() <= 1e-5


def test_the_mirrored_inputs_are_the_mirrored_motion_s_and_its_answer_mirrors_back():
    """Test-time mirroring rests on two mappings: the features of a recording -> those of the
    mirrored motion's recording, and the mirrored motion's true body -> the motion's own. Both are
    checked on a motion with nothing symmetric in it, against the mirrored motion's own sensors and
    targets (``core/kinematics/mirror``)."""
    motion = _turning_motion(seconds=2.0, seed=4)
    plain = make_sample(motion, augment=False, corruption=None)
    image = make_sample(motion, augment=True, corruption=None, mirror_prob=1.0, random_body_prob=0.0,
                        random_heading=False)
    assert image["mirrored"] == 1.0
    valid = np.ones((len(plain["imu"]), 6), np.float32)
    valid[5, 0] = 0.0                                        # the left forearm's sample lost
    features_image, valid_image = mirror_inputs(plain["imu"], valid)
    assert np.abs(features_image - image["imu"]).max() < 1e-5
    assert valid_image[5].tolist() == [1, 0, 1, 1, 1, 1]   # ... is the right forearm's in the image
    assert mirror_inputs(plain["imu"])[1] is None

    def truth(sample):
        return PoserOutput(sample["global_6d"][:, POSE_JOINTS], sample["contact"], sample["leaf"],
                           sample["joints"][:, 1:], sample["root_velocity"])
    averaged, own = mirror_average(truth(plain), truth(image)), truth(plain)
    for field in ("pose_6d", "leaf", "joints"):
        assert np.abs(getattr(averaged, field) - getattr(own, field)).max() < 1e-5, field
        # A wrong mapping would not cancel: the image's answer as it stands is far from the motion's.
        assert np.abs(getattr(truth(image), field) - getattr(own, field)).max() > 0.1, field
    # The contacts and the root velocity are the first answer's, not averaged.
    assert averaged.contact is own.contact and averaged.root_velocity is own.root_velocity


def test_a_mirrored_run_averages_the_two_runs_whole_or_in_chunks(tmp_path, monkeypatch):
    _, poser = _random_model("full", tmp_path, bidirectional=True, root_velocity=True)
    imu, valid = _inputs(400, seed=5)
    seen = []
    mirrored = poser.run(imu, valid, MEASUREMENTS, progress=seen.append, lanes=1, mirror=True)
    expected = mirror_average(poser.run(imu, valid, MEASUREMENTS, lanes=1),
                              poser.run(*mirror_inputs(imu, valid), MEASUREMENTS, lanes=1))
    for field in PoserOutput.FIELDS:
        assert np.array_equal(getattr(mirrored, field), getattr(expected, field)), field
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert np.abs(mirrored.pose_6d - poser.run(imu, valid, MEASUREMENTS, lanes=1).pose_6d).max() > 1e-4
    # Chunked, the mirror image runs beside each chunk: the joined chunks are the whole run.
    monkeypatch.setattr(imu_poser, "CHUNK_FRAMES", 150)
    monkeypatch.setattr(poser, "context", 200)
    assert np.abs(poser.run(imu, valid, MEASUREMENTS, lanes=1, mirror=True).pose_6d - mirrored.pose_6d).max() < 1e-4


def test_a_root_velocity_head_is_read_and_chunked_with_the_rest(tmp_path, monkeypatch):
    model, poser = _random_model("full", tmp_path, bidirectional=True, root_velocity=True)
    imu, valid = _inputs(400, seed=2)
    whole = poser.run(imu, valid, MEASUREMENTS, lanes=1)
    _assert_parity(whole, _torch_outputs(model, imu, valid, MEASUREMENTS))
    assert whole.root_velocity.shape == (400, 3)
    monkeypatch.setattr(imu_poser, "CHUNK_FRAMES", 150)
    monkeypatch.setattr(poser, "context", 200)
    assert np.abs(poser.run(imu, valid, MEASUREMENTS, lanes=1).root_velocity - whole.root_velocity).max() < 1e-4


def test_a_bidirectional_long_input_runs_in_chunks_with_context_on_both_sides(tmp_path, monkeypatch):
    """A chunk of a bidirectional model carries no state: it runs with ``context`` frames of the
    input on either side and keeps its middle, so the joined chunks are the whole run; without the
    context each chunk's ends are far off."""
    _, poser = _random_model("full", tmp_path, bidirectional=True)
    imu, valid = _inputs(900, seed=3)
    whole = poser.run(imu, valid, MEASUREMENTS, lanes=1)
    monkeypatch.setattr(imu_poser, "CHUNK_FRAMES", 250)
    monkeypatch.setattr(poser, "context", 200)
    chunked = poser.run(imu, valid, MEASUREMENTS, lanes=1)
    assert chunked.pose_6d.shape == whole.pose_6d.shape and chunked.contact.shape == whole.contact.shape
    assert np.abs(chunked.pose_6d - whole.pose_6d).max() < 1e-4
    assert np.abs(chunked.joints - whole.joints).max() < 1e-4
    monkeypatch.setattr(poser, "context", 0)
    cut = poser.run(imu, valid, MEASUREMENTS, lanes=1)
    assert np.abs(cut.pose_6d - whole.pose_6d).max() > 1e-3


def test_chunk_bounds_cover_the_input_once_with_context_inside_it():
    bounds = imu_poser.chunk_bounds(1000, context=150, size=400)
    assert [(a, b) for _, _, a, b in bounds] == [(0, 400), (400, 800), (800, 1000)]
    assert [(lo, hi) for lo, hi, _, _ in bounds] == [(0, 550), (250, 950), (650, 1000)]
    assert imu_poser.chunk_bounds(0) == []


def test_shape_input_changes_only_the_full_model(tmp_path):
    imu, valid = _inputs(60)
    short = BodyMeasurements(height=1.55, sex="female")
    for kind in KINDS:
        _, poser = _random_model(kind, tmp_path)
        a, b = poser.run(imu, valid, MEASUREMENTS).pose_6d, poser.run(imu, valid, short).pose_6d
        assert (np.abs(a - b).max() > 1e-4) == (kind == "full")


SHIPPED = [(kind, False) for kind in KINDS] + [(kind, True) for kind in OFFLINE_WEIGHT_FILES]


@pytest.mark.parametrize("kind, offline", SHIPPED)
def test_shipped_weights_load_are_small_and_match_torch(kind, offline):
    path = ASSETS / (OFFLINE_WEIGHT_FILES if offline else WEIGHT_FILES)[kind]
    assert path.is_file(), f"{path} is not committed"
    # float16; a bidirectional model has 2.5 times the recurrent weights (two directions, and the
    # second layer reads both).
    assert path.stat().st_size < (13e6 if offline else 8e6)
    arrays, meta = load_state_dict(path)
    assert meta["kind"] == kind and not meta["training"]["smoke"]
    hyper = meta["hyperparameters"]
    assert bool(hyper.get("bidirectional")) == offline
    model = ImuPoserNet(kind, hidden=hyper["hidden"], layers=hyper["layers"], bidirectional=offline,
                        root_velocity=bool(hyper.get("root_velocity")))
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()})
    model.eval()
    imu, valid = _inputs(240, seed=5)
    poser = ImuPoser.load(kind=kind, offline=offline)
    assert poser.bidirectional == offline
    _assert_parity(poser.run(imu, valid, MEASUREMENTS), _torch_outputs(model, imu, valid, MEASUREMENTS))


def test_relative_globals_and_local_quaternions_rebuild_the_posed_joints():
    motion = _turning_motion(seconds=1.0)
    _, glob = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    root = glob[:, 0]
    rel = np.swapaxes(root, -1, -2)[:, None] @ glob
    from sparse_mocap_addon.core.kinematics.rotations import matrix_to_6d
    full = relative_globals(matrix_to_6d(rel[:, list(POSE_JOINTS)]))
    assert np.abs(full[:, list(POSE_JOINTS)] - rel[:, list(POSE_JOINTS)]).max() < 1e-9
    assert np.allclose(full[:, 0], np.eye(3)) and np.allclose(full[:, 20], full[:, 18])   # wrist follows elbow
    local = quat_to_matrix(local_quaternions(root, full))
    truth = quat_to_matrix(motion.rotations)
    for j in (0, 1, 4, 16, 18):                   # joints whose parents are posed too
        assert np.abs(local[:, j] - truth[:, j]).max() < 1e-6


def test_bad_inputs_say_what_was_expected(tmp_path):
    _, poser = _random_model("full", tmp_path)
    with pytest.raises(ValueError, match="72 values per frame"):
        poser.run(np.zeros((5, 70)))
    with pytest.raises(ValueError, match="4 finite numbers"):
        poser.run(np.zeros((5, 72)), None, [1.7, np.nan, 0.8, 0])
    with pytest.raises(ValueError, match="4 finite numbers"):
        poser.stream(None)
    _, baseline = _random_model("baseline", tmp_path)
    assert baseline.run(np.zeros((5, 72))).pose_6d.shape == (5, 17, 6)   # no shape input needed


def test_a_file_of_another_architecture_is_refused(tmp_path):
    from sparse_mocap_addon.inference.nn import save_state_dict
    path = save_state_dict(tmp_path / "other.npz", {"w": np.zeros(3, np.float32)}, {"architecture": "tracker"})
    with pytest.raises(WeightError, match="not an IMU poser"):
        ImuPoser.load(path)


def test_smoke_training_writes_weights_the_runtime_reads(tmp_path, capsys):
    from training import train_imu
    walk = demo_motion(seconds=3.0)
    corpus = _write_corpus(tmp_path / "corpus", [
        ("train", "cmu_bvh", "07_01", walk), ("train", "cmu_bvh", "07_01_mirrored", mirror_motion(walk)),
        ("validation", "cmu_bvh", "03_01", _turning_motion(seconds=2.0))])
    out = tmp_path / "smoke.npz"
    assert train_imu.main(["--kind", "full", "--smoke", "--corpus", str(corpus), "--out", str(out)]) == 0
    arrays, meta = load_state_dict(out)
    assert meta["training"]["smoke"] and len(meta["training"]["history"]) == 2
    assert all(np.isfinite(h["total"]) for h in meta["training"]["history"])
    assert 1.4 < arrays["shape_mean"][0] < 2.1        # the standardisation comes from the training bodies
    pose = ImuPoser.load(out).run(*_inputs(30), MEASUREMENTS).pose_6d
    assert pose.shape == (30, 17, 6) and np.isfinite(pose).all()
    assert "validation rotation error" in capsys.readouterr().out
