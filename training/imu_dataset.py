"""IMU training and evaluation samples from the SMPL-24 corpus (issue 5, item 3), with augmentation.

A corpus clip (``training/build_corpus.py``) becomes the network inputs of FIP / TransPose (six
virtual IMUs, normalised, plus the wearer's four body measurements) and every target those
networks supervise, all in one dict of float32 arrays (:func:`make_sample`); :func:`build_arrays`
cuts many clips into fixed-length training windows and :func:`save_dataset` writes them to one
``.npz``. No network and no training loop here.

Augmentation (``make_sample(..., augment=True)``), in this order, each drawn from the given rng:

1. **mirroring** with probability ``mirror_prob`` (``core/kinematics/mirror.py``: x -> -x, left and right
   joints swapped, the skeleton mirrored too);
2. **random body** with probability ``random_body_prob``: the motion is put on the skeleton of
   :func:`random_measurements` by :func:`retarget_to_body` (same local rotations; the measurement
   input is then that body's);
3. **heading rotation** by a uniform angle in [0, 2 pi) about the vertical (:func:`heading_rotate`);
4. **playback speed** (only when ``speed_range`` is given): the clip played a log-uniform factor in
   ``speed_range`` faster (:func:`change_speed`; issue 16, item 3), so the networks meet a walk
   quicker or slower than any performer's;
5. the **corruption model** of ``core/imu/synth.py`` (``corruption=None`` gives clean sensors; it is
   applied with or without ``augment``, so evaluation sets get corrupted sensors too).

Conventions (all arrays float32; T frames; "root frame" = the pelvis joint's frame)
----------------------------------------------------------------------------------
Inputs

- ``imu`` (T, 72): ``synth.features`` of the (corrupted) virtual IMUs: TransPose's
  ``normalize_and_concat`` (Xinyu-Yi/TransPose ``utils.py``), sensor order of ``SIX_SENSORS``
  (left forearm, right forearm, left lower leg, right lower leg, head, pelvis), accelerations
  ``R_root^T (a_i - a_root) / 30`` then orientations ``R_root^T R_i``; the pelvis keeps its global
  orientation and ``R_root^T a_root / 30`` (``root_acc="zero"`` gives FIP's variant). A dropped
  sample holds the sensor's previous valid sample (the first valid one before any): see
  :func:`fill_dropped`; the filling is done per sensor on the raw recording, as a streaming
  receiver holding each sensor's last packet would, before normalising.
- ``imu_valid`` (T, 6): 1 where the sensor's sample arrived, 0 where it was dropped (and filled).
- ``measurements`` (4,): height, arm length, leg length (metres, the definitions of
  ``core/body/measurements.BodyMeasurements``: stature, armpit to wrist, hip joint to ankle) and a sex code
  ``SEX_CODES``: male 1, female -1, neutral (unknown) 0, so "unknown" sits halfway between the two
  and a linear layer sees one signed number. FIP's own input is ``[gender, height, arm, leg]``
  with gender an embedding index (0 male, 1 female; bachongyou/FIP_inference ``evaluate.py``
  ``body_parm`` in cm / 100, ``model/net.py`` ``nn.Embedding(2, 3)``); reorder or embed in the
  network if FIP's exact layout is wanted. Height, arm and leg are measured on the skeleton the
  motion is on (``body.measure_skeleton``); the sex comes from the motion metadata (corpus
  performers are "neutral": their sex is not recorded).

Targets

- ``rotations_6d`` (T, 24, 6): local joint rotations (the pelvis's is its global rotation), as
  ``rotations.matrix_to_6d`` (first two matrix columns).
- ``global_6d`` (T, 24, 6): root-relative global rotations ``R_root^T R_j`` (pelvis: identity), what
  TransPose's ``pose_s3`` predicts for its ``joint_set.reduced`` joints and FIP's IK solver outputs
  for 15 joints (FIP ``src/functions.py`` ``glb2local`` puts identity at the root).
- ``joints`` (T, 24, 3): joint positions relative to the pelvis *in the root frame*,
  ``R_root^T (p_j - p_root)`` (pelvis at the origin), i.e. forward kinematics of the local
  rotations with the root rotation set to identity. This is the frame the normalised IMU data
  live in, and the one of TransPose training reproductions (FK of ``R_root^T R`` then minus the
  root: ``nn_jtr = joint - joint[:, :1]`` on the root-removed pose) and of FIP's "body coordinate
  system" (origin at the root, +Z forward, +X left, +Y up). A heading-only frame (root yaw
  removed, tilt kept) was the alternative; it is not used because every IMU input is expressed in
  the full root frame. ``joints``, ``global_6d`` and ``tpose_joints`` are consistent:
  ``joints[j] = joints[parent] + G[parent] @ offset[j]``.
- ``leaf`` (T, 5, 3): ``joints`` of ``LEAF_JOINTS`` = left wrist, right wrist, left ankle, right
  ankle, head: FIP's five leaf nodes ("LAnkle, RAnkle, LWrist, RWrist, Head", the segment ends the
  sensors ride), ordered like ``SIX_SENSORS`` so that leaf ``i`` is the end of the chain sensor
  ``i`` rides (FIP's shared integral regressor maps one sensor's data to one leaf's displacement).
  TransPose's ``joint_set.leaf`` is [7, 8, 12, 20, 21] (ankles, *neck*, wrists); SMPL's hand and
  foot joints (22, 23, 10, 11) are not used because no sensor constrains their rotation and FIP
  ignores them.
- ``tpose_joints`` (24, 3): the rest (T-pose) joint positions of the motion's skeleton relative to
  the pelvis (pelvis at the origin), the shape input of FIP's T-pose regressor (FIP regresses 19
  root-relative offsets; take differences to parents for bone offsets).
- ``contact`` (T, 2): left, right foot contact (0 or 1, the probability target of TransPose's
  ``tran_b1``): ``core/feet/contact.detect_foot_contact`` on the heel, ball and toe points of
  ``core/feet/soles.foot_floor_points`` (a foot is in contact when any of its three points is, ground
  height estimated per clip).
- ``root_velocity`` (T, 3): pelvis velocity in the root frame **in m/s**,
  ``R_root(t)^T (x_t - x_{t-1}) * fps`` (backward difference; frame 0 takes the forward difference
  ``x_1 - x_0``). m/frame = ``root_velocity / fps``; TransPose's ``tran_b2`` target is
  ``root_velocity / vel_scale`` with ``vel_scale = 3`` (its output times ``vel_scale / 60`` is
  m/frame, ``net.py``). Integration: ``x_t = x_{t-1} + R_root(t) v_t / fps``.
- ``fps`` (): the frame rate (the corpus: 60).

Windows (:func:`build_arrays`): ``window`` frames (default 200) every ``stride`` frames (default
100) from frame 0; a clip whose length is not covered exactly gets one more window ending on its
last frame; a clip shorter than ``window`` (but at least ``min_frames``) gives one window padded at
the end by repeating its last frame, with ``mask`` 0 on the padding. Each clip is augmented and
corrupted whole before it is cut, so accelerations near window edges have their true context.

Run from the project root::

    .venv/bin/python -m training.imu_dataset --corpus build/corpus --split train --out build/imu_train.npz --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.io.atomic import atomic_open  # noqa: E402
from sparse_mocap_addon.core.body.measurements import (  # noqa: E402
    SEXES, BodyMeasurements, default_measurements, measure_skeleton, skeleton_from_measurements,
)
from sparse_mocap_addon.core.feet.contact import detect_foot_contact  # noqa: E402
from sparse_mocap_addon.core.feet.soles import foot_floor_points  # noqa: E402
from sparse_mocap_addon.core.imu.recording import SIX_SENSORS, fill_dropped  # noqa: E402
from sparse_mocap_addon.core.kinematics.mirror import mirror_motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.resample import resample_motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.motion import Motion  # noqa: E402
from sparse_mocap_addon.core.kinematics.rotations import (  # noqa: E402
    axis_angle_to_quat, matrix_to_6d, quat_multiply, quat_to_matrix,
)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.imu.synth import CorruptionModel, corrupt, features, virtual_imus  # noqa: E402
from sparse_mocap_addon.inference.imu_poser import SEX_CODES  # noqa: E402  (shared with the runtime)

SPLITS = ("train", "validation", "test")
BUILD_COMMAND = ".venv/bin/python -m training.build_corpus --data ../shared/data --out build/corpus --mirror"
DATASET_VERSION = 1

MEASUREMENT_NAMES = ("height", "arm_length", "leg_length", "sex_code")
LEAF_NAMES = ("left_wrist", "right_wrist", "left_ankle", "right_ankle", "head")
LEAF_JOINTS = tuple(JOINT_INDEX[n] for n in LEAF_NAMES)

# random_measurements: see its docstring for the sources of these numbers.
HEIGHT_MEAN_M = 1.70
HEIGHT_STD_M = 0.09
HEIGHT_CLIP_M = (1.45, 2.00)
LIMB_FACTOR_STD = 0.04
LIMB_FACTOR_CLIP = (1.0 - 3 * LIMB_FACTOR_STD, 1.0 + 3 * LIMB_FACTOR_STD)
SEX_PROBABILITIES = {"male": 0.45, "female": 0.45, "neutral": 0.10}

DEFAULT_WINDOW = 200
DEFAULT_STRIDE = 100
DEFAULT_MIN_FRAMES = 9     # the +-4-frame synthetic acceleration needs 2 * 4 + 1 frames
DEFAULT_RANDOM_BODY_PROB = 0.5

# Arrays of a sample that have a time axis (windowed by build_arrays); the others are per clip.
TIME_KEYS = ("imu", "imu_valid", "rotations_6d", "global_6d", "joints", "leaf", "contact", "root_velocity")
CLIP_KEYS = ("measurements", "tpose_joints")


class CorpusMissingError(FileNotFoundError):
    """The corpus folder or its manifest is missing; the message gives the build command."""


# --- corpus ------------------------------------------------------------------------------------------

def load_corpus(corpus_dir, split: str, sources=None, include_mirrored: bool = True) -> list[Motion]:
    """The Motions of one split of a corpus built by ``training/build_corpus.py``, in manifest order.

    sources: optional iterable of source names (``cmu_bvh``, ``hdm05``, ...) to keep.
    include_mirrored: False drops the mirrored copies ``build_corpus --mirror`` adds to the train
    split (on-the-fly mirroring in :func:`make_sample` covers them).
    Each Motion's metadata gets ``corpus_file`` (the manifest's relative path).
    """
    corpus_dir = Path(corpus_dir)
    manifest_path = corpus_dir / "manifest.json"
    if not manifest_path.is_file():
        raise CorpusMissingError(f"{manifest_path}: no corpus manifest; build the corpus first with: {BUILD_COMMAND}")
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        clips = manifest["clips"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{manifest_path}: not a corpus manifest ({exc}); rebuild it with: {BUILD_COMMAND}") from None
    wanted = None if sources is None else set(sources)
    motions = []
    for entry in clips:
        if entry.get("split") != split or (wanted is not None and entry.get("source") not in wanted):
            continue
        if not include_mirrored and entry.get("mirrored", False):
            continue
        path = corpus_dir / entry["file"]
        if not path.is_file():
            raise CorpusMissingError(f"{path}: listed in {manifest_path} but missing; rebuild with: {BUILD_COMMAND}")
        motion = Motion.load(path)
        motion.metadata["corpus_file"] = entry["file"]
        motion.metadata.setdefault("corpus_source", entry.get("source", ""))
        motions.append(motion)
    return motions


# --- body measurements and augmentation -------------------------------------------------------------

def random_measurements(rng, sex: str | None = None) -> BodyMeasurements:
    """A plausible adult body: height, arm and leg length, sex (widths from the tables).

    - height ~ N(1.70 m, 0.09 m) clipped to [1.45, 2.00] m: adult statures pooled over both sexes
      (men about 1.76 +- 0.07 m, women about 1.63 +- 0.07 m in European / North American surveys,
      e.g. NCD-RisC 2016), whose mixture has a mean of about 1.70 m and a standard deviation of
      about 0.09 m; the clip drops the rare extremes the proportion tables were not made for.
      Height is drawn independently of sex, so tall women and short men are somewhat over-sampled:
      the network sees the whole range for both.
    - sex: male 45 %, female 45 %, neutral (unknown) 10 % when ``sex`` is None, so the "unknown"
      code 0 a user may enter is not outside the training distribution.
    - arm and leg length: the sex's table proportion of the height (de Leva 1996 via
      ``body.default_measurements``) times independent factors N(1, 0.04) clipped to +-3 sd:
      individual limb-to-stature ratios vary by about 3-5 % (coefficient of variation of
      sitting-height / leg-length ratios in anthropometric surveys), so 4 % per limb.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    z = rng.normal(size=3)          # height, arm, leg; always drawn, whatever ``sex`` is
    u_sex = rng.uniform()
    height = float(np.clip(HEIGHT_MEAN_M + HEIGHT_STD_M * z[0], *HEIGHT_CLIP_M))
    if sex is None:
        names = list(SEX_PROBABILITIES)
        edges = np.cumsum([SEX_PROBABILITIES[n] for n in names])
        sex = names[min(int(np.searchsorted(edges, u_sex * edges[-1], side="right")), len(names) - 1)]
    sex = sex.strip().lower()
    if sex not in SEXES:
        raise ValueError(f"sex {sex!r} is not recognised: expected one of {', '.join(SEXES)}")
    base = default_measurements(sex, height)
    arm_f, leg_f = np.clip(1.0 + LIMB_FACTOR_STD * z[1:], *LIMB_FACTOR_CLIP)
    return BodyMeasurements(height=height, arm_length=float(base.arm_length * arm_f),
                            leg_length=float(base.leg_length * leg_f), sex=sex).validate()


def _as_measurements(measurements) -> BodyMeasurements:
    if isinstance(measurements, BodyMeasurements):
        return measurements
    if isinstance(measurements, dict):
        return BodyMeasurements(**measurements)
    raise TypeError(f"measurements must be BodyMeasurements or a dict, got {type(measurements).__name__}")


def retarget_to_body(motion: Motion, measurements) -> Motion:
    """The same local joint rotations on ``skeleton_from_measurements(measurements)``.

    Root translation: horizontally (x, z) the pelvis track is scaled by the leg-length ratio
    ``s = new leg / old leg`` (stride length goes with leg length, so a planted foot stays nearly
    planted); vertically the pelvis is placed so that the lowest sole point (heel, ball, toe tip of
    ``feet.foot_floor_points``) is at ``s`` times its original height in every frame: a foot on the
    floor stays exactly on the floor, a jump's clearance scales with the legs. (Scaling the pelvis
    height by ``s`` alone would float or sink the feet: ankle height and pelvis depth scale with
    stature, not leg length.) Only a uniformly scaled body keeps stance feet perfectly still
    horizontally; other proportions leave small foot sliding.

    The metadata keeps everything and records the new body in ``subject_measurements``.
    """
    measurements = _as_measurements(measurements)
    skeleton = skeleton_from_measurements(measurements)
    old_leg = measure_skeleton(motion.skeleton)["leg_length"]
    new_leg = measure_skeleton(skeleton)["leg_length"]
    s = new_leg / old_leg if old_leg > 1e-9 else 1.0

    old_low = _lowest_sole(motion.rotations, motion.translation, motion.skeleton)
    translation = motion.translation * np.array((s, 0.0, s))
    new_low = _lowest_sole(motion.rotations, translation, skeleton)       # pelvis at y = 0
    translation[:, 1] = s * old_low - new_low
    metadata = dict(motion.metadata, subject_measurements=measurements.as_dict(),
                    retargeted_body={"measurements": measurements.as_dict(), "leg_ratio": s})
    return Motion(motion.fps, motion.rotations.copy(), translation, skeleton, metadata)


def _lowest_sole(rotations, translation, skeleton) -> np.ndarray:
    positions, global_rot = forward_kinematics(rotations, translation, skeleton)
    points = foot_floor_points(positions, global_rot, skeleton)
    return points[..., 1].reshape(len(points), -1).min(axis=1)


def heading_rotate(motion: Motion, angle: float) -> Motion:
    """The whole motion turned by ``angle`` radians about the world's vertical (+Y) axis through
    the origin: the root rotation is pre-multiplied by ``Ry(angle)`` and the root translation
    rotated by it (heights unchanged). Positive angles turn +Z towards +X."""
    q = axis_angle_to_quat(np.array((0.0, float(angle), 0.0)))
    rotations = motion.rotations.copy()
    rotations[:, 0] = quat_multiply(q, rotations[:, 0])
    translation = motion.translation @ quat_to_matrix(q).T
    total = float(motion.metadata.get("heading_rotation", 0.0)) + float(angle)
    metadata = dict(motion.metadata, heading_rotation=total)
    return Motion(motion.fps, rotations, translation, motion.skeleton, metadata)


def change_speed(motion: Motion, factor: float) -> Motion:
    """The motion played ``factor`` times faster at the same frame rate (slerp resampling)."""
    if abs(factor - 1.0) < 1e-9:
        return motion
    faster = resample_motion(motion, motion.fps / factor)
    return Motion(motion.fps, faster.rotations, faster.translation, motion.skeleton, motion.metadata)


def motion_sex(motion: Motion) -> str:
    """The performer's sex from the metadata (``subject_measurements``, then the corpus ``body``),
    "neutral" when not recorded."""
    body = motion.metadata.get("body")
    corpus = body.get("measurements") if isinstance(body, dict) else None
    for holder in (motion.metadata.get("subject_measurements"), corpus):
        sex = holder.get("sex") if isinstance(holder, dict) else None
        if isinstance(sex, str) and sex.strip().lower() in SEXES:
            return sex.strip().lower()
    return "neutral"


def measurement_vector(motion: Motion) -> np.ndarray:
    """(4,) float64: height, arm length, leg length measured on the motion's skeleton, sex code."""
    m = measure_skeleton(motion.skeleton)
    return np.array((m["height"], m["arm_length"], m["leg_length"], SEX_CODES[motion_sex(motion)]))


# --- IMU inputs --------------------------------------------------------------------------------------

# --- one sample --------------------------------------------------------------------------------------

def make_sample(motion: Motion, rng=None, augment: bool = True, corruption: CorruptionModel | None = CorruptionModel(),
                mirror_prob: float = 0.5, random_body_prob: float = DEFAULT_RANDOM_BODY_PROB,
                random_heading: bool = True, root_acc: str = "rotated",
                speed_range: tuple[float, float] | None = None) -> dict:
    """One clip as network inputs and targets (float32 arrays; the module docstring has every
    convention). ``rng``: a numpy Generator or a seed (None: fresh entropy). With ``augment``:
    mirroring with ``mirror_prob``, a random body with ``random_body_prob``, a uniform heading when
    ``random_heading``; a playback speed factor in ``speed_range`` (None: unchanged);
    ``corruption`` (None: clean sensors) applies whatever ``augment`` is.

    Besides the arrays of the docstring the dict holds ``mirrored`` and ``heading`` (radians)
    float32 scalars saying what the augmentation did.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    # Fixed draws whatever is enabled, so one seed gives the same stream for any settings.
    u_mirror, u_body, u_heading = rng.uniform(size=3)
    body_seed, corrupt_seed = rng.integers(0, 2**63 - 1, size=2)
    # Drawn only when asked, so runs without speed augmentation keep their exact streams.
    u_speed = rng.uniform() if (augment and speed_range is not None) else None
    mirrored, heading = False, 0.0
    if augment:
        if u_mirror < mirror_prob:
            motion = mirror_motion(motion)
            mirrored = True
        if u_body < random_body_prob:
            motion = retarget_to_body(motion, random_measurements(np.random.default_rng(body_seed)))
        if random_heading:
            heading = 2.0 * np.pi * u_heading
            motion = heading_rotate(motion, heading)
        if u_speed is not None:
            low, high = np.log(speed_range[0]), np.log(speed_range[1])
            motion = change_speed(motion, float(np.exp(low + u_speed * (high - low))))

    recording = virtual_imus(motion)
    if corruption is not None:
        recording = corrupt(recording, corruption, np.random.default_rng(corrupt_seed))
    valid = recording.valid.copy()
    imu = features(fill_dropped(recording) if not valid.all() else recording, root_acc=root_acc)

    positions, global_rot = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    root_t = np.swapaxes(global_rot[:, 0], -1, -2)                               # R_root^T (T, 3, 3)
    local = quat_to_matrix(motion.rotations)
    relative = root_t[:, None] @ global_rot
    joints = np.einsum("tij,tkj->tki", root_t, positions - positions[:, :1])
    rest = motion.skeleton.rest_positions()

    points = foot_floor_points(positions, global_rot, motion.skeleton)          # (T, 2, 3, 3)
    T = motion.num_frames
    contact = detect_foot_contact(points.reshape(T, 6, 3), motion.fps).reshape(T, 2, 3).any(axis=2)

    step = np.zeros((T, 3))
    if T > 1:
        step[1:] = np.diff(motion.translation, axis=0)
        step[0] = step[1]
    velocity = np.einsum("tij,tj->ti", root_t, step) * motion.fps

    f32 = np.float32
    return {
        "imu": imu.astype(f32),
        "imu_valid": valid.astype(f32),
        "measurements": measurement_vector(motion).astype(f32),
        "rotations_6d": matrix_to_6d(local).astype(f32),
        "global_6d": matrix_to_6d(relative).astype(f32),
        "joints": joints.astype(f32),
        "leaf": joints[:, LEAF_JOINTS].astype(f32),
        "tpose_joints": (rest - rest[0]).astype(f32),
        "contact": contact.astype(f32),
        "root_velocity": velocity.astype(f32),
        "fps": np.array(motion.fps, dtype=f32),
        "mirrored": np.array(float(mirrored), dtype=f32),
        "heading": np.array(heading, dtype=f32),
    }


# --- windows, files, CLI -----------------------------------------------------------------------------

def window_starts(frames: int, window: int, stride: int) -> list[int]:
    """Start frames of the windows of a clip (module docstring): every ``stride`` from 0, plus one
    ending on the last frame when that is not covered; [0] for clips shorter than ``window``."""
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window + 1, stride))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    return starts


def cut_windows(sample: dict, time_keys, frames: int, window: int, stride: int):
    """Yield (start, {key: (window, ...) array}, mask (window,) float32) for each window of one clip
    (:func:`window_starts`); a window past the clip's end repeats its last frame, mask 0 there."""
    for start in window_starts(frames, window, stride):
        stop = min(start + window, frames)
        pad = window - (stop - start)
        cut = {}
        for key in time_keys:
            part = sample[key][start:stop]
            if pad:
                part = np.concatenate((part, np.repeat(part[-1:], pad, axis=0)))
            cut[key] = part
        mask = np.ones(window, dtype=np.float32)
        mask[window - pad:] = 0.0
        yield start, cut, mask


def build_arrays(motions, rng, window: int = DEFAULT_WINDOW, stride: int = DEFAULT_STRIDE, copies: int = 1,
                 min_frames: int = DEFAULT_MIN_FRAMES, **sample_kwargs) -> dict:
    """Windows of ``copies`` independently augmented samples of every clip, stacked.

    ``sample_kwargs`` go to :func:`make_sample` (augment, corruption, mirror_prob, ...). Returns the
    stacked arrays (N windows): the time arrays of :func:`make_sample` as (N, window, ...), the
    per-clip ``measurements`` (N, 4) and ``tpose_joints`` (N, 24, 3), ``mask`` (N, window) float32
    (0 on padding), ``clip`` (N,) int32 index into ``motions``, ``copy`` (N,) int32, ``start`` (N,)
    int32 first frame in the clip, ``mirrored`` and ``heading`` (N,) float32, and ``skipped``: the
    indices of clips shorter than ``min_frames`` (int32, not windowed). Deterministic for a given
    seed / Generator state.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    window, stride, copies = int(window), int(stride), int(copies)
    if window < 1 or stride < 1 or copies < 1:
        raise ValueError(f"window, stride and copies must be positive, got {window}, {stride}, {copies}")
    motions = list(motions)
    rates = {float(m.fps) for m in motions}
    if len(rates) > 1:
        raise ValueError(f"all clips must share one frame rate to be windowed together, got {sorted(rates)}")
    seeds = rng.integers(0, 2**63 - 1, size=(copies, len(motions)))
    parts = {k: [] for k in TIME_KEYS + CLIP_KEYS + ("mask", "clip", "copy", "start", "mirrored", "heading")}
    skipped = []
    for c in range(copies):
        for i, motion in enumerate(motions):
            if motion.num_frames < min_frames:
                if c == 0:
                    skipped.append(i)
                continue
            sample = make_sample(motion, rng=np.random.default_rng(seeds[c, i]), **sample_kwargs)
            frames = len(sample["imu"])  # the clip's own length, or its length after a speed change
            for start, cut, mask in cut_windows(sample, TIME_KEYS, frames, window, stride):
                for key in TIME_KEYS:
                    parts[key].append(cut[key])
                for key in CLIP_KEYS:
                    parts[key].append(sample[key])
                parts["mask"].append(mask)
                parts["clip"].append(i)
                parts["copy"].append(c)
                parts["start"].append(start)
                parts["mirrored"].append(sample["mirrored"])
                parts["heading"].append(sample["heading"])
    arrays = {}
    for key in TIME_KEYS + CLIP_KEYS + ("mask",):
        arrays[key] = np.stack(parts[key]) if parts[key] else np.zeros((0,), np.float32)
    for key in ("clip", "copy", "start"):
        arrays[key] = np.asarray(parts[key], dtype=np.int32)
    for key in ("mirrored", "heading"):
        arrays[key] = np.asarray(parts[key], dtype=np.float32)
    arrays["skipped"] = np.asarray(skipped, dtype=np.int32)
    return arrays


def save_dataset(path, arrays: dict, metadata: dict, compress: bool = False) -> Path:
    """Write ``arrays`` and ``metadata`` (as JSON in ``metadata_json``) to an .npz atomically (a
    temporary file in the same folder renamed over ``path``)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"{path}: datasets are written as .npz files")
    if "metadata_json" in arrays:
        raise ValueError("'metadata_json' is reserved for the metadata")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as fh:
        (np.savez_compressed if compress else np.savez)(
            fh, metadata_json=np.array(json.dumps(metadata, default=_json_default)), **arrays)
    return path


def load_dataset(path) -> tuple[dict, dict]:
    """(arrays, metadata) of a file written by :func:`save_dataset`."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "metadata_json"}
        metadata = json.loads(str(data["metadata_json"])) if "metadata_json" in data.files else {}
    return arrays, metadata


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} cannot be saved as JSON")


def dataset_metadata(motions, arrays, *, split, seed, window, stride, copies, augment, corruption,
                     mirror_prob, random_body_prob, random_heading, root_acc, corpus=None, sources=None) -> dict:
    return {
        "version": DATASET_VERSION,
        "corpus": None if corpus is None else str(corpus),
        "split": split, "sources": None if sources is None else list(sources), "seed": seed,
        "fps": float(motions[0].fps) if motions else None,
        "window": window, "stride": stride, "copies": copies,
        "augment": {"enabled": augment, "mirror_prob": mirror_prob, "random_body_prob": random_body_prob,
                    "random_heading": random_heading},
        "corruption": None if corruption is None else asdict(corruption),
        "conventions": {
            "sensors": list(SIX_SENSORS), "root_acc": root_acc, "acc_scale": 30.0,
            "measurements": list(MEASUREMENT_NAMES), "sex_codes": SEX_CODES,
            "leaf_joints": list(LEAF_JOINTS), "leaf_names": list(LEAF_NAMES),
            "joints": "R_root^T (p_j - p_root), metres", "global_6d": "R_root^T R_j, first two columns",
            "root_velocity": "R_root(t)^T (x_t - x_{t-1}) * fps, m/s", "tpose_joints": "rest positions minus pelvis",
        },
        "clips": [m.metadata.get("corpus_file", m.metadata.get("source", "")) for m in motions],
        "skipped_clips": [int(i) for i in arrays.get("skipped", [])],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "corpus",
                        help="corpus folder (build_corpus --out)")
    parser.add_argument("--split", choices=SPLITS, default="train")
    parser.add_argument("--out", type=Path, required=True, help="output .npz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment-copies", type=int, default=1, help="independently augmented copies of each clip")
    parser.add_argument("--sources", nargs="+", default=None, help="only these corpus sources")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW)
    parser.add_argument("--stride", type=int, default=DEFAULT_STRIDE)
    parser.add_argument("--min-frames", type=int, default=DEFAULT_MIN_FRAMES)
    aug = parser.add_mutually_exclusive_group()
    aug.add_argument("--augment", dest="augment", action="store_true", default=None,
                     help="mirroring, random bodies, heading (default for the train split)")
    aug.add_argument("--no-augment", dest="augment", action="store_false",
                     help="no augmentation (default for validation and test)")
    parser.add_argument("--clean", action="store_true", help="no sensor corruption")
    parser.add_argument("--mirror-prob", type=float, default=0.5)
    parser.add_argument("--random-body-prob", type=float, default=DEFAULT_RANDOM_BODY_PROB)
    parser.add_argument("--no-prebuilt-mirrors", action="store_true",
                        help="leave out the mirrored copies build_corpus --mirror wrote")
    parser.add_argument("--root-acc", choices=("rotated", "zero"), default="rotated")
    parser.add_argument("--compress", action="store_true",
                        help="np.savez_compressed (slower, little gain on noisy floats)")
    args = parser.parse_args(argv)
    augment = (args.split == "train") if args.augment is None else args.augment

    started = time.perf_counter()
    try:
        motions = load_corpus(args.corpus, args.split, args.sources, include_mirrored=not args.no_prebuilt_mirrors)
    except CorpusMissingError as exc:
        parser.exit(2, f"error: {exc}\n")
    if not motions:
        parser.exit(2, f"error: no clips of split {args.split!r}"
                       f"{' from ' + ', '.join(args.sources) if args.sources else ''} in {args.corpus}\n")
    corruption = None if args.clean else CorruptionModel()
    settings = dict(augment=augment, corruption=corruption, mirror_prob=args.mirror_prob,
                    random_body_prob=args.random_body_prob, random_heading=True, root_acc=args.root_acc)
    arrays = build_arrays(motions, np.random.default_rng(args.seed), window=args.window, stride=args.stride,
                          copies=args.augment_copies, min_frames=args.min_frames, **settings)
    metadata = dataset_metadata(motions, arrays, split=args.split, seed=args.seed, window=args.window,
                                stride=args.stride, copies=args.augment_copies, corpus=args.corpus,
                                sources=args.sources, **settings)
    path = save_dataset(args.out, arrays, metadata, compress=args.compress)
    windows = len(arrays["clip"])
    frames = int(arrays["mask"].sum()) if windows else 0
    fps = float(motions[0].fps)
    clip_frames = sum(m.num_frames for m in motions)
    print(f"{args.split}: {len(motions)} clips ({len(arrays['skipped'])} too short), {clip_frames} clip frames "
          f"({clip_frames / fps / 60:.1f} min) x {args.augment_copies} cop{'y' if args.augment_copies == 1 else 'ies'}"
          f" -> {windows} windows of {args.window} (stride {args.stride}), {frames} frames"
          f" ({frames / fps / 60:.1f} min,"
          f" overlaps counted), augment {'on' if augment else 'off'}, corruption {'off' if args.clean else 'on'}, "
          f"{path.stat().st_size / 1e6:.1f} MB -> {path} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
