"""IMU training samples from corpus clips (training/imu_dataset.py): conventions, invariances,
augmentation, windows, files and the CLI, on tiny synthetic corpora (the real one is optional)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, measure_skeleton, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.feet.soles import foot_floor_points
from sparse_mocap_addon.core.kinematics.mirror import mirror_motion
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat, quat_multiply, sixd_to_matrix
from sparse_mocap_addon.core.kinematics.skeleton import MIRROR, PARENTS, forward_kinematics
from sparse_mocap_addon.core.imu.synth import CorruptionModel, features, normalise, virtual_imus
from training import imu_dataset as ds

ROOT = Path(__file__).resolve().parents[1]
REAL_CORPUS = ROOT / "build" / "corpus"
M = np.array((-1.0, 1.0, 1.0))          # the mirror reflection x -> -x
MM = np.diag(M)


def _turning_motion(seconds=2.0, seed=3):
    """The demo walk with a turning, bobbing, tilting root and a jittery body (nothing symmetric)."""
    walk = demo_motion(seconds=seconds)
    rng = np.random.default_rng(seed)
    T = walk.num_frames
    t = np.arange(T) / walk.fps
    turn = axis_angle_to_quat(np.stack((0.2 * np.sin(3 * t), 0.8 * t, 0.1 * np.cos(2 * t)), axis=-1))
    rotations = walk.rotations.copy()
    rotations[:, 0] = quat_multiply(turn, rotations[:, 0])
    rotations[:, 1:] = quat_multiply(axis_angle_to_quat(rng.normal(scale=0.05, size=(T, 23, 3))), rotations[:, 1:])
    translation = walk.translation + np.stack((0.3 * np.sin(t), 0.02 * np.sin(5 * t), 0.1 * t), axis=-1)
    return Motion(walk.fps, rotations, translation, walk.skeleton, dict(walk.metadata))


def _write_corpus(root: Path, clips) -> Path:
    """A corpus folder like build_corpus writes: <split>/<source>/<name>.npz and manifest.json."""
    entries = []
    for split, source, name, motion in clips:
        path = root / split / source / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        motion.save(path)
        entries.append({"file": str(path.relative_to(root)), "source": source, "original": name, "performer": name,
                        "split": split, "mirrored": name.endswith("_mirrored"), "frames": motion.num_frames,
                        "seconds": motion.duration, "source_fps": motion.fps,
                        "measurements": dict(measure_skeleton(motion.skeleton), sex="neutral"),
                        "reference": "zero pose", "units": "metres"})
    (root / "manifest.json").write_text(json.dumps({"fps": 60.0, "clips": entries, "failures": []}))
    return root


@pytest.fixture
def tiny_corpus(tmp_path):
    walk = demo_motion(seconds=5.0)                                   # 300 frames
    short = demo_motion(skeleton_from_measurements(BodyMeasurements(height=1.6, sex="female")), seconds=1.5)
    return _write_corpus(tmp_path / "corpus", [
        ("train", "cmu_bvh", "07_01", walk),
        ("train", "cmu_bvh", "07_01_mirrored", mirror_motion(walk)),
        ("train", "hdm05", "HDM_bd_walk", short),                      # 90 frames: shorter than a window
        ("test", "cmu62", "62_01", _turning_motion()),
    ])


# --- corpus -----------------------------------------------------------------------------------------

def test_load_corpus_by_split_source_and_mirrors(tiny_corpus):
    train = ds.load_corpus(tiny_corpus, "train")
    assert [m.metadata["corpus_file"] for m in train] == [
        "train/cmu_bvh/07_01.npz", "train/cmu_bvh/07_01_mirrored.npz", "train/hdm05/HDM_bd_walk.npz"]
    assert [m.num_frames for m in train] == [300, 300, 90]
    assert len(ds.load_corpus(tiny_corpus, "train", sources=["hdm05"])) == 1
    assert len(ds.load_corpus(tiny_corpus, "train", include_mirrored=False)) == 2
    assert len(ds.load_corpus(tiny_corpus, "test")) == 1
    assert ds.load_corpus(tiny_corpus, "validation") == []
    with pytest.raises(ValueError, match="split"):
        ds.load_corpus(tiny_corpus, "training")


def test_missing_corpus_says_how_to_build_it(tmp_path):
    with pytest.raises(ds.CorpusMissingError, match="training.build_corpus"):
        ds.load_corpus(tmp_path / "nowhere", "train")


# --- sample conventions -----------------------------------------------------------------------------

def test_sample_shapes_dtypes_and_consistent_targets():
    motion = _turning_motion()
    T = motion.num_frames
    s = ds.make_sample(motion, rng=1)
    shapes = {"imu": (T, 72), "imu_valid": (T, 6), "measurements": (4,), "rotations_6d": (T, 24, 6),
              "global_6d": (T, 24, 6), "joints": (T, 24, 3), "leaf": (T, 5, 3), "tpose_joints": (24, 3),
              "contact": (T, 2), "root_velocity": (T, 3), "fps": ()}
    for key, shape in shapes.items():
        assert s[key].shape == shape, key
    assert all(v.dtype == np.float32 for v in s.values())
    assert all(np.isfinite(v).all() for v in s.values())
    assert s["fps"] == 60.0 and set(np.unique(s["contact"])) <= {0.0, 1.0}

    # Root-frame targets agree with forward kinematics of the same skeleton with the root unrotated.
    G = sixd_to_matrix(s["global_6d"].astype(np.float64))
    np.testing.assert_allclose(G[:, 0], np.broadcast_to(np.eye(3), (T, 3, 3)), atol=1e-6)
    np.testing.assert_allclose(s["joints"][:, 0], 0.0, atol=1e-6)
    rest = s["tpose_joints"].astype(np.float64)
    np.testing.assert_allclose(rest, motion.skeleton.rest_positions() - motion.skeleton.offsets[0], atol=1e-6)
    for j in range(1, 24):
        p = PARENTS[j]
        np.testing.assert_allclose(s["joints"][:, j], s["joints"][:, p] + G[:, p] @ (rest[j] - rest[p]), atol=2e-5)
    np.testing.assert_array_equal(s["leaf"], s["joints"][:, list(ds.LEAF_JOINTS)])
    # Local rotations compose to the root-relative globals.
    L = sixd_to_matrix(s["rotations_6d"].astype(np.float64))
    L[:, 0] = np.eye(3)
    np.testing.assert_allclose(forward_kinematics(L, np.zeros((T, 3)), motion.skeleton)[1], G, atol=2e-5)


def test_measurement_vector_and_sex_codes():
    body = BodyMeasurements(height=1.81, arm_length=0.60, leg_length=0.90, sex="male")
    walk = demo_motion(seconds=1.0)
    s = ds.make_sample(ds.retarget_to_body(walk, body), augment=False, corruption=None)
    np.testing.assert_allclose(s["measurements"], (1.81, 0.60, 0.90, 1.0), atol=1e-6)
    assert ds.make_sample(walk, augment=False, corruption=None)["measurements"][3] == 0.0   # unknown: neutral
    assert ds.SEX_CODES == {"male": 1.0, "female": -1.0, "neutral": 0.0}


def test_root_velocity_in_the_root_frame_in_metres_per_second():
    motion = _turning_motion()
    s = ds.make_sample(motion, augment=False, corruption=None)
    R = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)[1][:, 0]
    world = np.einsum("tij,tj->ti", R, s["root_velocity"].astype(np.float64)) / motion.fps
    np.testing.assert_allclose(motion.translation[0] + np.cumsum(world[1:], axis=0), motion.translation[1:], atol=1e-5)


def test_clean_features_equal_synth_features():
    motion = _turning_motion()
    s = ds.make_sample(motion, augment=False, corruption=None)
    np.testing.assert_array_equal(s["imu"], features(virtual_imus(motion)).astype(np.float32))
    assert (s["imu_valid"] == 1.0).all()
    clean = ds.make_sample(motion, rng=4, augment=False, corruption=CorruptionModel.clean())
    np.testing.assert_allclose(clean["imu"], s["imu"], atol=1e-6)


def test_dropped_samples_hold_the_previous_value():
    motion = demo_motion(seconds=3.0)
    model = CorruptionModel(drop_rate=0.2, drop_burst=4.0)
    s = ds.make_sample(motion, rng=5, augment=False, corruption=model)
    assert np.isfinite(s["imu"]).all() and 0.6 < s["imu_valid"].mean() < 0.95
    lost = s["imu_valid"] == 0
    t, k = np.nonzero(lost[1:])
    t += 1
    acc = s["imu"][:, :18].reshape(-1, 6, 3)
    ori = s["imu"][:, 18:].reshape(-1, 6, 9)
    root_ok = s["imu_valid"][:, 5] == 1
    # A lost non-root sample holds its world orientation R_i = R_root (R_root^T R_i) from the frame
    # before (checked where the root arrived in both frames, so both root values are real).
    sel = (k < 5) & root_ok[t] & root_ok[t - 1]
    assert sel.any()
    for frame, sensor in zip(t[sel], k[sel]):
        world_now = ori[frame, 5].reshape(3, 3) @ ori[frame, sensor].reshape(3, 3)
        world_before = ori[frame - 1, 5].reshape(3, 3) @ ori[frame - 1, sensor].reshape(3, 3)
        np.testing.assert_allclose(world_now, world_before, atol=1e-5)
    # A lost root repeats its previous global orientation.
    for frame in np.flatnonzero(~root_ok[1:]) + 1:
        np.testing.assert_array_equal(ori[frame, 5], ori[frame - 1, 5])
    assert acc.shape == (motion.num_frames, 6, 3)


# --- invariances ------------------------------------------------------------------------------------

def _assert_targets_equal(a, b, atol=2e-5):
    for key in ("rotations_6d", "global_6d", "joints", "leaf", "tpose_joints", "root_velocity", "measurements"):
        np.testing.assert_allclose(a[key][:, 1:] if key == "rotations_6d" else a[key],
                                   b[key][:, 1:] if key == "rotations_6d" else b[key], atol=atol, err_msg=key)
    np.testing.assert_array_equal(a["contact"], b["contact"])


@pytest.mark.parametrize("angle", [0.7, -2.5, np.pi])
def test_heading_rotation_leaves_root_relative_inputs_and_targets_alone(angle):
    motion = _turning_motion()
    turned = ds.heading_rotate(motion, angle)
    np.testing.assert_allclose(turned.translation[:, 1], motion.translation[:, 1])
    a = ds.make_sample(motion, augment=False, corruption=None)
    b = ds.make_sample(turned, augment=False, corruption=None)
    _assert_targets_equal(a, b)
    # Normalised IMU: every acceleration and non-root orientation unchanged; the root's global
    # orientation is turned by Ry(angle).
    np.testing.assert_allclose(a["imu"][:, :18 + 45], b["imu"][:, :18 + 45], atol=2e-5)
    c, s_ = np.cos(angle), np.sin(angle)
    Ry = np.array(((c, 0, s_), (0, 1, 0), (-s_, 0, c)))
    root_a = a["imu"][:, -9:].reshape(-1, 3, 3).astype(np.float64)
    np.testing.assert_allclose(b["imu"][:, -9:].reshape(-1, 3, 3), Ry @ root_a, atol=2e-5)
    acc_a, ori_a = normalise(virtual_imus(motion))
    acc_b, ori_b = normalise(virtual_imus(turned))
    np.testing.assert_allclose(acc_a, acc_b, atol=1e-9)
    np.testing.assert_allclose(ori_a[:, :5], ori_b[:, :5], atol=1e-9)


def test_root_translation_offset_changes_nothing():
    motion = _turning_motion()
    moved = Motion(motion.fps, motion.rotations, motion.translation + (3.0, 0.5, -2.0), motion.skeleton,
                   dict(motion.metadata))
    a = ds.make_sample(motion, augment=False, corruption=None)
    b = ds.make_sample(moved, augment=False, corruption=None)
    _assert_targets_equal(a, b)
    np.testing.assert_allclose(a["imu"], b["imu"], atol=2e-5)


# --- mirroring, bodies, augmentation ----------------------------------------------------------------

def test_mirroring_swaps_left_and_right_sensors():
    motion = _turning_motion()
    plain, mirrored = virtual_imus(motion), virtual_imus(mirror_motion(motion))
    swap = [1, 0, 3, 2, 4, 5]            # SIX_SENSORS' left/right partners
    np.testing.assert_allclose(mirrored.acceleration, plain.acceleration[:, swap] * M, atol=1e-9)
    np.testing.assert_allclose(mirrored.orientation, MM @ plain.orientation[:, swap] @ MM, atol=1e-9)

    a = ds.make_sample(motion, augment=False, corruption=None)
    b = ds.make_sample(motion, rng=0, augment=True, corruption=None, mirror_prob=1.0, random_body_prob=0.0,
                       random_heading=False)
    assert b["mirrored"] == 1.0 and a["mirrored"] == 0.0
    acc_a, acc_b = a["imu"][:, :18].reshape(-1, 6, 3), b["imu"][:, :18].reshape(-1, 6, 3)
    ori_a, ori_b = a["imu"][:, 18:].reshape(-1, 6, 3, 3), b["imu"][:, 18:].reshape(-1, 6, 3, 3)
    np.testing.assert_allclose(acc_b, acc_a[:, swap] * M, atol=2e-5)
    np.testing.assert_allclose(ori_b, MM @ ori_a[:, swap] @ MM, atol=2e-5)
    np.testing.assert_allclose(b["joints"], a["joints"][:, MIRROR] * M, atol=2e-5)
    np.testing.assert_allclose(b["leaf"], a["leaf"][:, [1, 0, 3, 2, 4]] * M, atol=2e-5)
    np.testing.assert_array_equal(b["contact"], a["contact"][:, ::-1])
    np.testing.assert_allclose(b["root_velocity"], a["root_velocity"] * M, atol=2e-5)


def test_retarget_to_body_keeps_rotations_reaches_the_measurements_and_keeps_feet_down():
    walk = demo_motion(seconds=2.0)
    body = BodyMeasurements(height=1.93, arm_length=0.64, leg_length=0.98, sex="male")
    tall = ds.retarget_to_body(walk, body)
    np.testing.assert_allclose(tall.rotations, walk.rotations, atol=1e-12)   # renormalised only
    measured = measure_skeleton(tall.skeleton)
    for key in ("height", "arm_length", "leg_length"):
        assert measured[key] == pytest.approx(getattr(body, key), abs=1e-9)
    s = measured["leg_length"] / measure_skeleton(walk.skeleton)["leg_length"]
    np.testing.assert_allclose(tall.translation[:, [0, 2]], s * walk.translation[:, [0, 2]], atol=1e-12)

    def lowest(m):
        p, g = forward_kinematics(m.rotations, m.translation, m.skeleton)
        return foot_floor_points(p, g, m.skeleton)[..., 1].reshape(m.num_frames, -1).min(axis=1)

    np.testing.assert_allclose(lowest(tall), s * lowest(walk), atol=1e-9)     # the demo walk: 0 everywhere
    assert tall.metadata["subject_measurements"]["sex"] == "male"


def test_random_measurements_are_plausible_and_seeded():
    bodies = [ds.random_measurements(np.random.default_rng(i)) for i in range(400)]
    heights = np.array([b.height for b in bodies])
    assert 1.45 <= heights.min() and heights.max() <= 2.00
    assert abs(heights.mean() - 1.70) < 0.02 and 0.07 < heights.std() < 0.11
    assert {b.sex for b in bodies} == {"male", "female", "neutral"}
    for b in bodies[:50]:
        skeleton = skeleton_from_measurements(b)           # validates
        assert measure_skeleton(skeleton)["leg_length"] == pytest.approx(b.leg_length)
    assert ds.random_measurements(7) == ds.random_measurements(7)
    assert ds.random_measurements(3, sex="female").sex == "female"


def test_augmented_samples_are_seeded_and_vary():
    motion = _turning_motion()
    a, b = ds.make_sample(motion, rng=11), ds.make_sample(motion, rng=11)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = ds.make_sample(motion, rng=12)
    assert not np.array_equal(a["imu"], c["imu"])
    headings = {float(ds.make_sample(motion, rng=i)["heading"]) for i in range(5)}
    assert len(headings) == 5


# --- windows, files, CLI ----------------------------------------------------------------------------

def test_window_starts_cover_every_frame():
    assert ds.window_starts(90, 200, 100) == [0]
    assert ds.window_starts(200, 200, 100) == [0]
    assert ds.window_starts(300, 200, 100) == [0, 100]
    assert ds.window_starts(350, 200, 100) == [0, 100, 150]


def test_build_arrays_windows_pads_and_is_deterministic(tiny_corpus):
    motions = ds.load_corpus(tiny_corpus, "train")
    arrays = ds.build_arrays(motions, np.random.default_rng(0), window=200, stride=100, copies=2)
    # 300 frames -> 2 windows each, 90 frames -> 1 padded window; two copies.
    assert arrays["imu"].shape == (10, 200, 72) and arrays["joints"].shape == (10, 200, 24, 3)
    assert arrays["measurements"].shape == (10, 4) and arrays["tpose_joints"].shape == (10, 24, 3)
    assert list(arrays["clip"]) == [0, 0, 1, 1, 2] * 2 and list(arrays["copy"]) == [0] * 5 + [1] * 5
    assert list(arrays["start"]) == [0, 100, 0, 100, 0] * 2
    short = arrays["mask"][4]
    assert short[:90].all() and not short[90:].any()
    np.testing.assert_array_equal(arrays["imu"][4, 90:], np.repeat(arrays["imu"][4, 89:90], 110, axis=0))
    assert arrays["mask"][[0, 1, 2, 3]].all()
    # Overlapping windows of one sample agree.
    np.testing.assert_array_equal(arrays["imu"][0, 100:], arrays["imu"][1, :100])
    # The two copies of a clip are augmented differently; the same seed gives the same arrays.
    assert not np.array_equal(arrays["imu"][0], arrays["imu"][5])
    again = ds.build_arrays(motions, np.random.default_rng(0), window=200, stride=100, copies=2)
    for key in arrays:
        np.testing.assert_array_equal(arrays[key], again[key])
    other = ds.build_arrays(motions, np.random.default_rng(1), window=200, stride=100, copies=2)
    assert not np.array_equal(arrays["imu"], other["imu"])
    skipped = ds.build_arrays(motions, 0, window=50, stride=50, min_frames=100)
    assert list(skipped["skipped"]) == [2] and 2 not in skipped["clip"]


def test_save_and_load_dataset_round_trip(tmp_path):
    arrays = {"imu": np.ones((2, 3, 72), np.float32), "clip": np.arange(2, dtype=np.int32)}
    path = ds.save_dataset(tmp_path / "sub" / "d.npz", arrays, {"seed": 3, "clips": ["a"]})
    loaded, metadata = ds.load_dataset(path)
    np.testing.assert_array_equal(loaded["imu"], arrays["imu"])
    assert metadata == {"seed": 3, "clips": ["a"]}
    assert [p.name for p in path.parent.iterdir()] == ["d.npz"]           # no temporary left
    with pytest.raises(ValueError, match=".npz"):
        ds.save_dataset(tmp_path / "d.txt", arrays, {})


def test_cli_on_a_tiny_corpus(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "imu_train.npz"
    argv = ["--corpus", str(tiny_corpus), "--split", "train", "--out", str(out), "--seed", "0", "--augment-copies", "2"]
    assert ds.main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert len(line.splitlines()) == 1
    assert "3 clips" in line and "10 windows" in line and "augment on" in line and "MB" in line
    arrays, metadata = ds.load_dataset(out)
    assert arrays["imu"].shape == (10, 200, 72) and arrays["imu"].dtype == np.float32
    assert metadata["split"] == "train" and metadata["seed"] == 0 and metadata["copies"] == 2
    assert metadata["clips"][2] == "train/hdm05/HDM_bd_walk.npz"
    assert metadata["conventions"]["leaf_names"] == list(ds.LEAF_NAMES)
    out2 = tmp_path / "again.npz"
    assert ds.main(argv[:5] + [str(out2)] + argv[6:]) == 0
    capsys.readouterr()
    again, _ = ds.load_dataset(out2)
    for key in arrays:
        np.testing.assert_array_equal(arrays[key], again[key])
    # Test split: no augmentation by default, still corrupted.
    assert ds.main(["--corpus", str(tiny_corpus), "--split", "test", "--out", str(tmp_path / "t.npz")]) == 0
    assert "augment off, corruption on" in capsys.readouterr().out
    test_arrays, _ = ds.load_dataset(tmp_path / "t.npz")
    assert (test_arrays["heading"] == 0).all() and (test_arrays["mirrored"] == 0).all()


def test_cli_without_a_corpus_names_the_build_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        ds.main(["--corpus", str(tmp_path / "none"), "--out", str(tmp_path / "x.npz")])
    assert exc.value.code == 2
    assert "training.build_corpus" in capsys.readouterr().err


@pytest.mark.skipif(not (REAL_CORPUS / "manifest.json").is_file(),
                    reason="build/corpus is absent (training.build_corpus)")
def test_real_corpus_clips_give_finite_samples():
    motions = ds.load_corpus(REAL_CORPUS, "validation")[:3]
    assert motions
    arrays = ds.build_arrays(motions, 0)
    assert len(arrays["clip"]) >= 3
    assert all(np.isfinite(v).all() for v in arrays.values() if v.dtype.kind == "f")
