"""Synthetic VR trackers: placements, clean device poses, joint targets and the noise model
(core/trackers/synth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import (axis_angle_to_quat, matrix_to_axis_angle, matrix_to_quat,
                                                          quat_identity, quat_to_matrix)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, Skeleton, forward_kinematics
from sparse_mocap_addon.core.trackers.synth import (TrackerNoise, corrupt_trackers, default_mountings, joint_targets,
                                                    virtual_trackers)
from sparse_mocap_addon.core.trackers.recording import (SIX_POINT, THREE_POINT, TRACKER_JOINTS, TrackerError,
                                                        TrackerMounting, TrackerRecording)

ROOT = Path(__file__).resolve().parents[1]
REAL_CORPUS = ROOT / "build" / "corpus"
ALL_NAMES = tuple(TRACKER_JOINTS)
FPS = 60.0


@pytest.fixture(scope="module")
def skel():
    return skeleton_from_measurements(default_measurements())


def _scaled(skel: Skeleton, k: float) -> Skeleton:
    return Skeleton(skel.offsets * k, {j: v * k for j, v in skel.leaf_tips.items()}, skel.sole_height * k)


def _device_in_bone(mounting: TrackerMounting):
    """(d, G): device origin relative to the joint and device axes, in the bone frame."""
    G = mounting.rotation.T
    return -G @ mounting.offset, G


def _assert_round_trip(motion, names):
    mountings = default_mountings(motion.skeleton, names)
    rec = virtual_trackers(motion, names, mountings)
    assert rec.names == tuple(names) and rec.fps == motion.fps and rec.valid.all()
    assert rec.num_frames == motion.rotations.shape[0]
    np.testing.assert_allclose(np.linalg.norm(rec.orientations, axis=-1), 1.0, atol=1e-12)
    positions, rotations = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    targets = joint_targets(rec, mountings)
    assert tuple(targets) == tuple(names)
    for name in names:
        j = TRACKER_JOINTS[name]
        pos, rot = targets[name]
        np.testing.assert_allclose(pos, positions[:, j], rtol=0, atol=1e-12)
        np.testing.assert_allclose(rot, rotations[:, j], rtol=0, atol=1e-12)
    # The devices really sit away from the joints (the mountings are not identities).
    for k, name in enumerate(names):
        assert np.linalg.norm(rec.positions[:, k] - positions[:, TRACKER_JOINTS[name]], axis=-1).min() > 0.02


# --- placements and clean devices ----------------------------------------------------------------

@pytest.mark.parametrize("names", [SIX_POINT, THREE_POINT, ALL_NAMES])
def test_round_trip_on_the_demo_walk(skel, names):
    _assert_round_trip(demo_motion(skel, seconds=3.0), names)


def test_round_trip_on_corpus_clips():
    if not (REAL_CORPUS / "manifest.json").is_file():
        pytest.skip(f"no corpus at {REAL_CORPUS} (build it with training/build_corpus.py)")
    from training.imu_dataset import load_corpus
    motions = load_corpus(REAL_CORPUS, "test")
    if not motions:
        pytest.skip(f"the corpus at {REAL_CORPUS} has no test clips")
    picked = {m.metadata.get("corpus_source", m.metadata["corpus_file"]): m for m in motions}
    for motion in list(picked.values())[:4]:
        _assert_round_trip(motion, SIX_POINT)


def test_devices_are_turned_and_placed_as_documented(skel):
    # Rest pose: the bone frames are the world axes (+X left, +Y up, +Z forward).
    still = Motion(FPS, quat_identity((2, NUM_JOINTS)), np.tile(skel.offsets[0], (2, 1)), skel)
    rec = virtual_trackers(still, ALL_NAMES)
    R = quat_to_matrix(rec.orientations[0])
    rest = skel.rest_positions()
    k = {n: i for i, n in enumerate(rec.names)}
    # Headset: OpenXR view space, -Z forward, +X the wearer's right, 8-10 cm forward, 5-8 cm up.
    np.testing.assert_allclose(R[k["head"]], np.diag([-1.0, 1.0, -1.0]), atol=1e-12)
    eye = rec.positions[0, k["head"]] - rest[JOINT_INDEX["head"]]
    assert 0.08 <= eye[2] <= 0.10 and 0.05 <= eye[1] <= 0.08 and abs(eye[0]) < 1e-12
    # Controllers: OpenXR grip, palms down and thumbs forward at rest: -Z (little finger -> thumb)
    # is forward; +X is out of the left palm (down) and into the right palm (up).
    np.testing.assert_allclose(R[k["left_hand"]][:, 0], [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(R[k["right_hand"]][:, 0], [0, 1, 0], atol=1e-12)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        name = f"{side}_hand"
        np.testing.assert_allclose(R[k[name]][:, 2], [0, 0, -1], atol=1e-12)
        grip = rec.positions[0, k[name]] - rest[JOINT_INDEX[f"{side}_wrist"]]
        hand = skel.offsets[JOINT_INDEX[f"{side}_hand"]]
        np.testing.assert_allclose(grip, 0.5 * hand + [0, -0.03, 0], atol=1e-12)   # over the palm centroid
        assert sign * grip[0] > 0.03
    # Feet: on the instep, in front of and above the ankle; pelvis puck behind the pelvis.
    for side in ("left", "right"):
        d = rec.positions[0, k[f"{side}_foot"]] - rest[JOINT_INDEX[f"{side}_ankle"]]
        assert 0.03 < d[2] < 0.08 and 0.0 < d[1] < 0.04
    d = rec.positions[0, k["pelvis"]] - rest[JOINT_INDEX["pelvis"]]
    assert d[2] < -0.1 and 0.0 < d[1] < 0.1
    front = default_mountings(skel, ["pelvis"], pelvis="front")["pelvis"]
    assert _device_in_bone(front)[0][2] > 0.1


def test_grip_axes_of_controllers_held_in_front(skel):
    """Arms forward, palms facing each other, thumbs up: OpenXR says both grips' +X point to the
    wearer's right and -Z (little finger -> thumb) points up."""
    def rot(axis, deg):
        aa = np.zeros(3)
        aa[axis] = np.radians(deg)
        return quat_to_matrix(axis_angle_to_quat(aa))

    local = np.broadcast_to(np.eye(3), (1, NUM_JOINTS, 3, 3)).copy()
    local[0, JOINT_INDEX["left_shoulder"]] = rot(2, -90) @ rot(1, -90)
    local[0, JOINT_INDEX["right_shoulder"]] = rot(2, 90) @ rot(1, 90)
    motion = Motion(FPS, matrix_to_quat(local), skel.offsets[0][None], skel)
    rec = virtual_trackers(motion, ("left_hand", "right_hand"))
    for k in range(2):
        R = quat_to_matrix(rec.orientations[0, k])
        np.testing.assert_allclose(R[:, 0], [-1, 0, 0], atol=1e-12)    # the wearer's right
        np.testing.assert_allclose(R[:, 2], [0, -1, 0], atol=1e-12)    # -Z up
        np.testing.assert_allclose(R[:, 1], [0, 0, -1], atol=1e-12)    # +Y back towards the wrist


def test_mountings_scale_with_the_skeleton(skel):
    k = 1.1
    base = default_mountings(skel, ALL_NAMES)
    big = default_mountings(_scaled(skel, k), ALL_NAMES)
    J = JOINT_INDEX
    for name in ALL_NAMES:
        np.testing.assert_allclose(big[name].rotation, base[name].rotation, atol=1e-12)
    d0 = {n: _device_in_bone(m)[0] for n, m in base.items()}
    d1 = {n: _device_in_bone(m)[0] for n, m in big.items()}
    # Head: scales with the stature.
    np.testing.assert_allclose(d1["head"], k * d0["head"], atol=1e-12)
    # Bone fractions scale, surface distances do not.
    for side in ("left", "right"):
        hand = skel.offsets[J[f"{side}_hand"]]
        np.testing.assert_allclose(d1[f"{side}_hand"] - d0[f"{side}_hand"], 0.5 * (k - 1) * hand, atol=1e-12)
        assert d1[f"{side}_hand"][1] == pytest.approx(d0[f"{side}_hand"][1])          # palm side: fixed 3 cm
        np.testing.assert_allclose(d1[f"{side}_foot"] - d0[f"{side}_foot"],
                                   0.4 * (k - 1) * skel.offsets[J[f"{side}_foot"]], atol=1e-12)
    assert d1["pelvis"][1] == pytest.approx(k * d0["pelvis"][1])      # belt height scales
    assert d1["pelvis"][2] == pytest.approx(d0["pelvis"][2])          # depth to the skin does not


def test_unknown_names_and_missing_mountings_are_clear_errors(skel):
    motion = demo_motion(skel, seconds=0.5)
    with pytest.raises(TrackerError, match="unknown tracker name.*'tail'"):
        default_mountings(skel, ["head", "tail"])
    with pytest.raises(TrackerError, match="unknown tracker name.*'left_wrist'"):
        virtual_trackers(motion, ["left_wrist"])
    with pytest.raises(TrackerError, match="appears twice"):
        virtual_trackers(motion, ["head", "head"])
    with pytest.raises(TrackerError, match="pelvis must be one of back, front"):
        default_mountings(skel, ["pelvis"], pelvis="side")
    with pytest.raises(TrackerError, match="no mounting for tracker.*'left_foot'"):
        virtual_trackers(motion, SIX_POINT, default_mountings(skel, THREE_POINT))
    rec = virtual_trackers(motion, SIX_POINT)
    with pytest.raises(TrackerError, match="no mounting for tracker.*'pelvis'"):
        joint_targets(rec, default_mountings(skel, THREE_POINT))
    bad = default_mountings(skel, SIX_POINT)
    bad["head"] = TrackerMounting(rotation=np.diag([1.0, 1.0, -1.0]))
    with pytest.raises(TrackerError, match="proper rotation"):
        joint_targets(rec, bad)


def test_joint_targets_are_nan_where_samples_are_missing(skel):
    rec = virtual_trackers(demo_motion(skel, seconds=0.5), SIX_POINT)
    rec.valid[3:5, 2] = False
    targets = joint_targets(rec, default_mountings(skel, SIX_POINT))
    pos, rot = targets["left_hand"]
    assert np.isnan(pos[3:5]).all() and np.isnan(rot[3:5]).all()
    assert np.isfinite(pos[:3]).all() and np.isfinite(targets["head"][0]).all()


# --- noise ---------------------------------------------------------------------------------------

def _still_recording(frames=20000, names=SIX_POINT, fps=FPS, velocity=None):
    K = len(names)
    rng = np.random.default_rng(0)
    p = np.broadcast_to(rng.normal(size=(1, K, 3)), (frames, K, 3)).copy()
    if velocity is not None:
        p += (np.arange(frames) / fps)[:, None, None] * np.asarray(velocity)
    q = np.broadcast_to(axis_angle_to_quat(rng.normal(size=(1, K, 3))), (frames, K, 4)).copy()
    return TrackerRecording(names, p, q, fps)


def _only(**kw) -> TrackerNoise:
    base = dict(position_jitter=0.0, jitter_per_speed=0.0, orientation_noise_deg=0.0, mount_offset_m=0.0,
                mount_deg=0.0, drop_rate=0.0)
    base.update(kw)
    return TrackerNoise(**base)


def test_defaults_are_the_documented_consumer_vr_figures():
    n = TrackerNoise()
    assert n.position_jitter == 0.001 and n.jitter_per_speed == 0.002 and n.orientation_noise_deg == 0.3
    assert n.mount_offset_m == 0.02 and n.mount_deg == 5.0
    assert n.drop_rate == 0.01 and n.drop_burst_s == (0.1, 0.5) and n.drop_exempt == ("head",)
    assert n.latency_s == 0.0 and n.smoothing_s == 0.0


def test_position_and_orientation_noise_have_the_configured_std():
    rec = _still_recording()
    out = corrupt_trackers(rec, _only(position_jitter=0.002, orientation_noise_deg=0.5), rng=1)
    assert out.valid.all()
    err = out.positions - rec.positions
    np.testing.assert_allclose(err.std(axis=0), 0.002, rtol=0.1)
    assert np.abs(err.mean(axis=0)).max() < 1e-4
    R0, R1 = quat_to_matrix(rec.orientations), quat_to_matrix(out.orientations)
    rotvec = matrix_to_axis_angle(np.swapaxes(R0, -1, -2) @ R1)
    np.testing.assert_allclose(np.degrees(rotvec.std(axis=0)), 0.5, rtol=0.1)


def test_position_noise_grows_with_speed():
    speed = 1.5
    rec = _still_recording(velocity=[speed, 0.0, 0.0])
    noise = _only(position_jitter=0.001, jitter_per_speed=0.002)
    err = corrupt_trackers(rec, noise, rng=2).positions - rec.positions
    np.testing.assert_allclose(err[1:-1].std(axis=0), 0.001 + 0.002 * speed, rtol=0.1)


def test_mounting_error_is_constant_and_bounded(skel):
    motion = demo_motion(skel, seconds=2.0)
    mountings = default_mountings(skel, SIX_POINT)
    rec = virtual_trackers(motion, SIX_POINT, mountings)
    out = corrupt_trackers(rec, _only(mount_offset_m=0.02, mount_deg=5.0), rng=3)
    clean, noisy = joint_targets(rec, mountings), joint_targets(out, mountings)
    dp = np.asarray(out.metadata["corruption"]["mount_offset_error"])
    assert np.all(np.linalg.norm(dp, axis=-1) <= 0.02) and np.linalg.norm(dp, axis=-1).max() > 0
    for name in SIX_POINT:
        # The bone is off by a constant rotation in its own frame, at most 5 deg.
        rel = np.swapaxes(clean[name][1], -1, -2) @ noisy[name][1]
        np.testing.assert_allclose(rel, np.broadcast_to(rel[0], rel.shape), atol=1e-9)
        assert np.degrees(np.linalg.norm(matrix_to_axis_angle(rel[0]))) <= 5.0 + 1e-9
        # The joint target is off by a fixed vector in the bone frame, a couple of cm at most.
        off = np.einsum("tji,tj->ti", clean[name][1], noisy[name][0] - clean[name][0])
        np.testing.assert_allclose(off, np.broadcast_to(off[0], off.shape), atol=1e-9)
        assert np.linalg.norm(off[0]) < 0.05


def test_dropouts_are_nan_bursts_at_the_configured_rate():
    rec = _still_recording(frames=200000)
    noise = _only(drop_rate=0.02, drop_burst_s=(0.1, 0.5))
    out = corrupt_trackers(rec, noise, rng=4)
    head = rec.index("head")
    others = [k for k in range(len(rec.names)) if k != head]
    assert out.valid[:, head].all()                                      # the headset is exempt
    lost = ~out.valid[:, others]
    assert lost.mean() == pytest.approx(0.02, rel=0.1)
    assert np.isnan(out.positions[~out.valid]).all() and np.isnan(out.orientations[~out.valid]).all()
    assert np.isfinite(out.positions[out.valid]).all() and np.isfinite(out.orientations[out.valid]).all()
    np.testing.assert_array_equal(out.positions[out.valid], rec.positions[out.valid])
    # Burst lengths: 6..30 frames at 60 fps (0.1..0.5 s), mean 18 (overlapping bursts merge, rarely).
    runs = []
    for col in lost.T:
        edges = np.diff(np.concatenate(([0], col.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        inner = (starts > 0) & (ends < len(col))
        runs.extend((ends - starts)[inner])
    runs = np.asarray(runs)
    assert len(runs) > 500 and runs.min() >= 6
    assert runs.mean() == pytest.approx(18.0, rel=0.1)
    assert np.mean(runs <= 30) > 0.97


def test_latency_delays_by_whole_and_fractional_frames(skel):
    rec = virtual_trackers(demo_motion(skel, seconds=1.0), SIX_POINT)
    out = corrupt_trackers(rec, _only(latency_s=2.0 / FPS), rng=0)
    np.testing.assert_allclose(out.positions[2:], rec.positions[:-2], atol=1e-12)
    np.testing.assert_allclose(out.positions[:2], rec.positions[[0, 0]], atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(out.orientations[2:] * rec.orientations[:-2], axis=-1)), 1.0, atol=1e-12)
    half = corrupt_trackers(rec, _only(latency_s=0.5 / FPS), rng=0)
    np.testing.assert_allclose(half.positions[1:], 0.5 * (rec.positions[1:] + rec.positions[:-1]), atol=1e-12)


def test_smoothing_is_a_one_pole_low_pass():
    frames = 120
    rec = _still_recording(frames=frames, names=("head",))
    step = rec.positions.copy()
    step[60:] += 1.0
    rec = TrackerRecording(rec.names, step, rec.orientations, FPS)
    out = corrupt_trackers(rec, _only(smoothing_s=0.1), rng=0)
    rise = out.positions[:, 0, 0] - step[0, 0, 0]
    np.testing.assert_allclose(rise[:60], 0.0, atol=1e-12)
    # After one time constant (6 frames) the output has covered 1 - 1/e of the step.
    assert rise[60 + 5] == pytest.approx(1.0 - np.exp(-1.0), abs=1e-9)
    np.testing.assert_allclose(out.orientations, rec.orientations, atol=1e-12)


def test_same_seed_same_result_and_the_input_is_untouched(skel):
    rec = virtual_trackers(demo_motion(skel, seconds=20.0), SIX_POINT)
    before = (rec.positions.copy(), rec.orientations.copy(), rec.valid.copy())
    noise = TrackerNoise(drop_rate=0.05, latency_s=0.01, smoothing_s=0.01)
    a = corrupt_trackers(rec, noise, rng=7)
    b = corrupt_trackers(rec, noise, rng=np.random.default_rng(7))
    c = corrupt_trackers(rec, noise, rng=8)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.orientations, b.orientations)
    np.testing.assert_array_equal(a.valid, b.valid)
    assert not np.array_equal(a.positions, c.positions, equal_nan=True)
    assert (~a.valid).any()
    np.testing.assert_array_equal(rec.positions, before[0])
    np.testing.assert_array_equal(rec.orientations, before[1])
    np.testing.assert_array_equal(rec.valid, before[2])
    assert a.names == rec.names and a.fps == rec.fps and "corruption" in a.metadata
    np.testing.assert_allclose(np.linalg.norm(a.orientations[a.valid], axis=-1), 1.0, atol=1e-12)


def test_clean_noise_returns_an_unchanged_copy(skel):
    rec = virtual_trackers(demo_motion(skel, seconds=1.0), SIX_POINT)
    out = corrupt_trackers(rec, TrackerNoise.clean(), rng=0)
    np.testing.assert_array_equal(out.positions, rec.positions)
    np.testing.assert_array_equal(out.orientations, rec.orientations)
    assert out.valid.all() and out.positions is not rec.positions


def test_missing_input_samples_stay_missing(skel):
    rec = virtual_trackers(demo_motion(skel, seconds=1.0), SIX_POINT)
    rec.positions[10:12, 1] = np.nan
    rec.valid[10:12, 1] = False
    out = corrupt_trackers(rec, TrackerNoise(drop_rate=0.0, smoothing_s=0.02), rng=0)
    assert not out.valid[10:12, 1].any() and np.isnan(out.positions[10:12, 1]).all()
    assert out.valid[12:, 1].all() and np.isfinite(out.positions[12:]).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"position_jitter": -0.001}, "position_jitter must be a number >= 0"),
    ({"mount_deg": float("nan")}, "mount_deg must be a number >= 0"),
    ({"drop_rate": 1.0}, "drop_rate must be below 1"),
    ({"drop_burst_s": (0.5, 0.1)}, "drop_burst_s must be 0 < shortest <= longest"),
    ({"drop_burst_s": 0.3}, r"drop_burst_s must be \(shortest, longest\)"),
    ({"drop_exempt": ("hat",)}, "drop_exempt has unknown tracker name"),
])
def test_bad_noise_parameters_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrackerNoise(**kwargs)
