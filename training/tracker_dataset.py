"""Tracker-poser training samples from the SMPL-24 corpus (issue 6): virtual trackers on every clip,
the network's inputs (``inference/tracker_poser.tracker_features``) and its targets.

Augmentation (:func:`make_sample` with ``augment``), each drawn from the given rng in a fixed
order so one seed gives one stream: mirroring, a random body on its own skeleton (the skeleton
input is then that body's), a uniform heading (``training/imu_dataset``'s helpers), and with
``noise_prob`` the consumer-VR tracking errors of ``core/trackers/synth.TrackerNoise`` (jitter,
speed-dependent noise, orientation noise, mounting error, dropout bursts). Devices ride the
skeleton at ``default_mountings``; the network sees the joint-level targets the nominal mountings
give back (``joint_targets``), so a mounting error reaches it as the calibration residual it is.

Targets (float32; heading frame = the reference tracker's position and yaw removed, the frame of
the inputs): ``pose_6d`` (T, P, 6) global rotations of ``POSE_JOINTS``, ``root`` (T, 3) pelvis
position, ``joints`` (T, 24, 3) every joint's position, ``contact`` (T, 2) foot contact
(``core/feet/contact.detect_foot_contact`` on the sole points, as for the IMU poser), and per clip
``tpose_joints`` (24, 3).
"""

from __future__ import annotations

import numpy as np

from sparse_mocap_addon.core.feet.contact import detect_foot_contact
from sparse_mocap_addon.core.feet.soles import foot_floor_points
from sparse_mocap_addon.core.kinematics.mirror import mirror_motion
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import matrix_to_6d
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from sparse_mocap_addon.core.trackers.six_point import stack_targets
from sparse_mocap_addon.core.trackers.synth import (TrackerNoise, corrupt_trackers, default_mountings, joint_targets,
                                                    virtual_trackers)
from sparse_mocap_addon.inference.tracker_poser import KINDS, POSE_JOINTS, tracker_features
from training.imu_dataset import change_speed, cut_windows, heading_rotate, random_measurements, retarget_to_body

TIME_KEYS = ("features", "pose_6d", "root", "joints", "contact")
CLIP_KEYS = ("tpose_joints",)
MIN_FRAMES = 4


def make_sample(motion: Motion, kind: str, rng=None, augment: bool = True, noise_prob: float = 0.5,
                mirror_prob: float = 0.5, random_body_prob: float = 0.5, noise: TrackerNoise | None = None,
                speed_range: tuple[float, float] | None = None) -> dict:
    """One clip as inputs and targets (module docstring). ``noise``: the error model used with
    probability ``noise_prob`` (default ``TrackerNoise()``); ``noise_prob`` applies with or
    without ``augment`` (1 gives a noisy evaluation set). ``speed_range``: with ``augment``, the clip
    played a log-uniform factor in this range faster (``imu_dataset.change_speed``)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    u_mirror, u_body, u_heading, u_noise = rng.uniform(size=4)
    body_seed, noise_seed = rng.integers(0, 2**63 - 1, size=2)
    # Drawn only when asked, so runs without speed augmentation keep their exact streams.
    u_speed = rng.uniform() if (augment and speed_range is not None) else None
    if augment:
        if u_mirror < mirror_prob:
            motion = mirror_motion(motion)
        if u_body < random_body_prob:
            motion = retarget_to_body(motion, random_measurements(np.random.default_rng(body_seed)))
        motion = heading_rotate(motion, 2.0 * np.pi * u_heading)
        if u_speed is not None:
            low, high = np.log(speed_range[0]), np.log(speed_range[1])
            motion = change_speed(motion, float(np.exp(low + u_speed * (high - low))))
    names = KINDS[kind]
    mountings = default_mountings(motion.skeleton, names)
    recording = virtual_trackers(motion, names, mountings)
    if u_noise < noise_prob:
        recording = corrupt_trackers(recording, noise or TrackerNoise(), np.random.default_rng(noise_seed))
    positions, rotations, valid = stack_targets(joint_targets(recording, mountings), names)
    features, heading, origin, _ = tracker_features(positions, rotations, valid, motion.fps, kind, motion.skeleton)

    true_pos, true_rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    heading_t = np.swapaxes(heading, -1, -2)
    joints = np.einsum("tij,tkj->tki", heading_t, true_pos - origin[:, None])
    pose = heading_t[:, None] @ true_rot[:, list(POSE_JOINTS)]
    T = motion.num_frames
    soles = foot_floor_points(true_pos, true_rot, motion.skeleton)
    contact = detect_foot_contact(soles.reshape(T, 6, 3), motion.fps).reshape(T, 2, 3).any(axis=2)
    rest = motion.skeleton.rest_positions()
    f32 = np.float32
    return {"features": features.astype(f32), "pose_6d": matrix_to_6d(pose).astype(f32),
            "root": joints[:, 0].astype(f32), "joints": joints.astype(f32), "contact": contact.astype(f32),
            "tpose_joints": (rest - rest[0]).astype(f32)}


def build_arrays(motions, kind: str, rng, window: int = 200, stride: int = 100, **sample_kwargs) -> dict:
    """Windows of one augmented sample of every clip, stacked: the time arrays as (N, window, ...),
    ``tpose_joints`` (N, 24, 3) and ``mask`` (N, window) (0 on the padding of short clips)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    motions = list(motions)
    seeds = rng.integers(0, 2**63 - 1, size=len(motions))
    parts = {k: [] for k in TIME_KEYS + CLIP_KEYS + ("mask",)}
    for i, motion in enumerate(motions):
        if motion.num_frames < MIN_FRAMES:
            continue
        sample = make_sample(motion, kind, rng=np.random.default_rng(seeds[i]), **sample_kwargs)
        frames = len(sample["features"])  # the clip's own length, or its length after a speed change
        for _, cut, mask in cut_windows(sample, TIME_KEYS, frames, window, stride):
            for key in TIME_KEYS:
                parts[key].append(cut[key])
            parts["tpose_joints"].append(sample["tpose_joints"])
            parts["mask"].append(mask)
    return {k: np.stack(v) for k, v in parts.items()}
