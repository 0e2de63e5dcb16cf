"""Calibrated IMU recording + body measurements -> a Motion on the wearer's own skeleton (issue 5).

Two modes (``ImuSolveOptions.mode``; "auto" picks):

- **network**: the six sensors of ``core/imu/recording.SIX_SENSORS`` (forearms, lower legs, head, pelvis)
  drive the poser network (``inference/imu_poser.py``; offline, its bidirectional variant unless
  ``ImuSolveOptions.offline_model`` is off): normalised features -> the 17 posed
  joints' root-relative rotations and the foot-contact probabilities; the pelvis's world
  orientation is its sensor's; the root translation comes from the contacts and the pelvis
  acceleration (``core/imu/root.py``).
- **direct**: every leg segment carries a sensor (``core/imu/direct.is_dense_lower_body``): those
  bones take the calibrated orientations directly (``core/imu/direct.direct_motion``).

The recording must already be calibrated into the core frame (``world == "core"``: each
orientation is its bone's world orientation, accelerations are core-frame free accelerations):
``core/imu/calibration.calibrate`` + ``apply_calibration`` do that for raw device recordings.
It is resampled to 60 fps (the network's rate) first when it is at another rate. Offline, the feet
stage (``core/feet/stage``: contact feet planted on the floor at y = 0, no sole under it) is the last
step (``ImuSolveOptions.feet``); the live :class:`ImuStream` has no such step and runs the causal
model, so it equals the offline reconstruction with the stage and ``offline_model`` off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..core.body.measurements import BodyMeasurements, skeleton_from_measurements
from ..core.feet.stage import FeetOptions, feet_on_floor
from ..core.kinematics.filters import OneEuroFilter, one_euro, zero_phase_lowpass
from ..core.imu.formats import resample_imu
from ..core.imu.recording import SIX_SENSOR_JOINTS, SIX_SENSORS, ImuError, ImuRecording, fill_dropped
from ..core.imu.direct import direct_motion, is_dense_lower_body
from ..core.imu.root import (FOOT_POINTS, ROOT_JOINTS, RootOptions, RootTracker, SoleLift, kinematic_contact,
                             lift_to_floor_roots, root_translation, sole_floor_roots)
from ..core.kinematics.motion import Motion
from ..core.kinematics.rotations import matrix_to_6d, matrix_to_quat, sixd_to_matrix
from ..core.kinematics.skeleton import PARENTS, forward_kinematics
from ..core.imu.synth import feature_vectors, features, normalise_arrays
from ..inference.imu_poser import (CHUNK_FRAMES, KINDS, POSE_JOINTS, ImuPoser, chunk_bounds, globals_from_posed,
                                   has_offline_model, local_matrices, local_quaternions, relative_globals,
                                   world_root_velocity)

NETWORK_FPS = 60.0
PELVIS = SIX_SENSORS.index("pelvis")
DEFAULT_SMOOTHING_HZ = 6.0   # offline only; see smooth_rotations
ONLINE_FILTER = (3.0, 1.0)   # One Euro (min cut-off Hz, beta) of the live stream; see smooth_rotations_online
MODES = ("auto", "network", "direct")
# Offline, a recording runs through the network and the per-frame steps CHUNK_FRAMES at a time (the
# network's own chunk, 5 minutes at 60 fps; a shorter one in one pass, exactly as before chunking):
# the working memory of a long recording is that of one chunk.
# Each chunk's zero-phase smoothing runs over this much more on either side (the 6 Hz Butterworth's
# response to an edge is below 1e-12 of it after about a second).
SMOOTHING_MARGIN_S = 2.0


@dataclass
class ImuSolveOptions:
    """``mode``: "auto" (network when the six sensors are there, else direct when the legs are
    dense), "network" or "direct"; ``model``: "full", "no_shape" or "baseline" (shipped weights);
    ``translation``: root translation from contacts + pelvis acceleration (off: the pelvis stays
    over the origin, at the height that puts the lowest sole point on the floor in each frame);
    ``smoothing_hz``: cut-off of the zero-phase low-pass on the network's rotations (0: none, the
    streaming output as it is); ``sensor_bones``: the bones the sensors ride (forearms, shins, head)
    take their calibrated sensor orientations instead of the network's estimate; ``feet``: the feet
    stage, the last offline step (the floor is y = 0; ``FeetOptions(enabled=False)``: the raw
    reconstruction, as the live stream gives it); ``offline_model``: the model's bidirectional
    variant, where one is shipped (``inference/imu_poser.OFFLINE_WEIGHT_FILES``; each frame also sees
    the future: more accurate on every synthetic figure, and on the real TransPose example it hops
    in place with the least drift, ``benchmarks/imu_real.py``; about half as fast, and never what
    the live stream runs). Off: the causal model, what :class:`ImuStream` gives.
    ``mirror_average``: the offline model also runs on the recording's left-right mirror image, and
    its answer, mirrored back, is averaged in (``inference/imu_poser.mirror_average``: a test-time
    ensemble, the network's time twice over; on the test split the joint angle error falls from
    8.64 to 8.43 deg). The causal model (``offline_model`` off) always runs once, as the stream does."""

    mode: str = "auto"
    model: str = "full"
    translation: bool = True
    smoothing_hz: float = DEFAULT_SMOOTHING_HZ
    sensor_bones: bool = True
    feet: FeetOptions = field(default_factory=lambda: FeetOptions(floor="zero"))
    offline_model: bool = True
    mirror_average: bool = True

    def validate(self) -> "ImuSolveOptions":
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.model not in KINDS:
            raise ValueError(f"model must be one of {', '.join(KINDS)}, got {self.model!r}")
        if not (np.isfinite(self.smoothing_hz) and 0.0 <= self.smoothing_hz < NETWORK_FPS / 2):
            raise ValueError(f"smoothing_hz must be 0 (off) or a cut-off below {NETWORK_FPS / 2:g} Hz, "
                             f"got {self.smoothing_hz}")
        return self


def sensor_bone_rotations(pose_6d: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """``pose_6d`` (T, 17, 6) with the elbows, knees and head replaced by their sensors' root-relative
    orientations ``R_pelvis^T R_sensor`` (``orientation`` (T, 6, 3, 3) in ``SIX_SENSORS`` order,
    calibrated: each is its bone's world orientation). After calibration a sensor *is* its bone's
    orientation, up to strap slip and sensor noise; the network only estimates it."""
    out = np.array(pose_6d, dtype=np.float64, copy=True)
    root_t = np.swapaxes(orientation[:, SIX_SENSORS.index("pelvis")], -1, -2)
    for s, joint in enumerate(SIX_SENSOR_JOINTS):
        if joint in POSE_JOINTS:
            out[:, POSE_JOINTS.index(joint)] = matrix_to_6d(root_t @ orientation[:, s])
    return out


def smooth_rotations_online(pose_6d: np.ndarray, fps: float, min_cutoff: float = None, beta: float = None) -> np.ndarray:
    """What :class:`ImuStream` does frame by frame, on a whole take: a causal One Euro filter on the
    6D rotations (``ONLINE_FILTER``: still joints get a low cut-off, fast ones a high one, so the
    sensor noise that reaches the live output is damped with little lag)."""
    lo, b = ONLINE_FILTER if min_cutoff is None else (min_cutoff, beta)
    return one_euro(pose_6d, fps, lo, b)


def smooth_rotations(pose_6d: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """Offline smoothing of the network's 6D rotations (T, J, 6): a zero-phase Butterworth
    low-pass (no lag) over time, re-orthonormalised later by ``sixd_to_matrix``. Sensor noise
    reaches the unidirectional network's output as jitter; human motion has little above 6 Hz."""
    if cutoff_hz <= 0.0 or len(pose_6d) < 3:
        return pose_6d
    return zero_phase_lowpass(pose_6d, fps, cutoff_hz, axis=0)


_POSERS: dict = {}


def load_poser(model: str = "full", offline: bool = False) -> ImuPoser:
    """The shipped network of ``model`` (its bidirectional variant with ``offline`` where one is
    shipped, else the causal one), loaded once per process."""
    key = (model, offline and has_offline_model(model))
    if key not in _POSERS:
        _POSERS[key] = ImuPoser.load(kind=model, offline=key[1])
    return _POSERS[key]


def choose_mode(sensors, mode: str = "auto") -> str:
    """The mode to run: ``mode`` checked against the sensors, or the one "auto" picks."""
    names = set(sensors)
    six = set(SIX_SENSORS) <= names
    if mode == "network" and not six:
        missing = ", ".join(s for s in SIX_SENSORS if s not in names)
        raise ImuError(f"the network needs the six sensors {', '.join(SIX_SENSORS)}; this recording lacks {missing}")
    if mode == "network" or (mode == "auto" and six):
        return "network"
    if is_dense_lower_body(sensors):
        return "direct"
    if mode == "direct":
        raise ImuError("direct mode needs a sensor on the pelvis and on every upper and lower leg; "
                       f"this recording has {', '.join(sensors)}")
    raise ImuError(f"sensors {', '.join(sensors)} are neither the six of the network ({', '.join(SIX_SENSORS)}) "
                   "nor a full lower-body set (pelvis, upper and lower legs) for direct mode")


def _sixes(recording: ImuRecording) -> ImuRecording:
    """The six network sensors in ``SIX_SENSORS`` order (``recording`` itself when it has just those:
    no copy of a long recording)."""
    if recording.sensors == SIX_SENSORS:
        return recording
    index = [recording.sensors.index(s) for s in SIX_SENSORS]
    return ImuRecording(sensors=SIX_SENSORS, orientation=recording.orientation[:, index],
                        acceleration=recording.acceleration[:, index], fps=recording.fps,
                        valid=recording.valid[:, index], world=recording.world, source=recording.source,
                        metadata=dict(recording.metadata))


def reconstruct_imu(recording: ImuRecording, measurements: BodyMeasurements, options: ImuSolveOptions = None,
                    progress=None, poser: ImuPoser | None = None) -> tuple[Motion, dict]:
    """The Motion (60 fps, on ``skeleton_from_measurements(measurements)``) and a report dict.

    ``progress(fraction)`` is called as the work goes (network chunks, then translation);
    ``poser`` overrides the shipped network of ``options.model``.
    """
    options = (options or ImuSolveOptions()).validate()
    where = recording.source or "the recording"
    if recording.world != "core":
        raise ImuError(f"{where} is in the device world {recording.world!r}: calibrate it first "
                       "(core/imu/calibration.calibrate, or the Calibrate operator)")
    if recording.num_frames < 2:
        raise ImuError(f"{where} has {recording.num_frames} frame(s); at least 2 are needed")
    started = time.perf_counter()
    report = progress or (lambda fraction: None)
    mode = choose_mode(recording.sensors, options.mode)
    skeleton = skeleton_from_measurements(measurements)
    if abs(recording.fps - NETWORK_FPS) > 1e-6:
        recording = resample_imu(recording, NETWORK_FPS)
    if mode == "direct":
        motion, info = direct_motion(recording, skeleton)
        motion, feet = feet_on_floor(motion, options=options.feet)
        report(1.0)
        return motion, {"mode": "direct", "frames": motion.num_frames, "fps": motion.fps,
                        "seconds": round(time.perf_counter() - started, 3), **info, "feet": feet}

    six = _sixes(recording)
    dropped = int((~six.valid).sum())
    held = fill_dropped(six) if dropped else six
    poser = poser or load_poser(options.model, offline=options.offline_model)
    mirror = options.mirror_average and poser.bidirectional
    sixd, contact, velocity = _network_6d(held, six.valid, measurements, poser, options.sensor_bones, mirror,
                                          lambda f: report(0.8 * f))
    del six
    rotations, positions, floor_roots = _pose_from_6d(sixd, skeleton, options.smoothing_hz)
    del sixd
    T = len(rotations)
    root_options = RootOptions.for_skeleton(skeleton)
    if contact is None:
        contact = kinematic_contact(positions, NETWORK_FPS, root_options)
    translation = np.zeros((T, 3))
    if options.translation:
        translation = root_translation(positions, contact, NETWORK_FPS,
                                       held.acceleration[:, SIX_SENSORS.index("pelvis")], root_options,
                                       estimated_velocity=velocity)
    del positions, held
    translation, lifted = lift_to_floor_roots(translation, floor_roots)
    metadata = {"source": recording.source, "imu": {"mode": "network", "model": poser.kind,
                                                     "sensors": list(SIX_SENSORS)}}
    motion = Motion(NETWORK_FPS, rotations, translation, skeleton, metadata)
    del rotations                               # the Motion holds its own (normalised) copy
    # The contacts the root translation used (the network's, trained on true contacts): the
    # reconstructed feet move too much for low-and-slow to find them all.
    motion, feet = feet_on_floor(motion, options=options.feet, contact=contact)
    report(1.0)
    return motion, {
        "mode": "network", "model": poser.kind, "offline_model": poser.bidirectional, "mirror_average": mirror, "frames": T, "smoothing_hz": options.smoothing_hz, "fps": NETWORK_FPS, "dropped_samples": dropped,
        "contact_fraction": [round(float(v), 3) for v in (contact > 0.5).mean(axis=0)],
        "translation": bool(options.translation), "frames_lifted_to_floor": int(lifted.sum()), "seconds": round(time.perf_counter() - started, 3),
        "feet": feet,
    }


def network_summary(report: dict) -> str:
    """The network a reconstruction used, for the report line ("full model, bidirectional,
    mirror-averaged"; empty for the direct mode)."""
    if not report.get("model"):
        return ""
    return ", ".join([f"{report['model']} model"] + (["bidirectional"] if report.get("offline_model") else [])
                     + (["mirror-averaged"] if report.get("mirror_average") else []))


def _network_6d(held: ImuRecording, valid, measurements, poser: ImuPoser, sensor_bones: bool, mirror: bool,
                progress):
    """The network over ``held`` (the six sensors, dropped samples held), chunk by chunk with its
    recurrent state carried (``ImuPoser.chunked``; a bidirectional model's chunks each run with
    ``poser.context`` frames more on either side instead; with ``mirror``, each averaged with the
    chunk's mirror image): (T, 18, 6) the 17 posed joints' root-relative
    rotations (the sensor bones' own with ``sensor_bones``) and, last, the pelvis's world
    orientation, as 6D; the (T, 2) contact probabilities (None for a model without them); and the
    root's world velocity (T, 3) from a model that estimates it (else None)."""
    T = held.num_frames
    sixd = np.empty((T, len(POSE_JOINTS) + 1, 6))
    contact = velocity = None
    session = poser.chunked(measurements, mirror=mirror)
    for lo, hi, a, b in chunk_bounds(T, poser.context, CHUNK_FRAMES):
        part = ImuRecording(sensors=held.sensors, orientation=held.orientation[lo:hi],
                            acceleration=held.acceleration[lo:hi], fps=held.fps, world=held.world)
        out = session.run(features(part), valid[lo:hi]).crop(a - lo, b - lo)
        orientation = held.orientation[a:b]
        sixd[a:b, :-1] = sensor_bone_rotations(out.pose_6d, orientation) if sensor_bones else out.pose_6d
        sixd[a:b, -1] = matrix_to_6d(orientation[:, PELVIS])
        if out.contact is not None:
            contact = np.empty((T, 2), out.contact.dtype) if contact is None else contact
            contact[a:b] = out.contact
        if out.root_velocity is not None:
            velocity = np.empty((T, 3)) if velocity is None else velocity
            velocity[a:b] = world_root_velocity(orientation[:, PELVIS], out.root_velocity)
        progress(b / T)
    return sixd, contact, velocity


def _pose_from_6d(sixd: np.ndarray, skeleton, smoothing_hz: float):
    """The Motion's local rotations (T, 24, 4) from :func:`_network_6d`'s rotations smoothed
    (:func:`smooth_rotations`; the pelvis's world orientation with the pose: its sensor noise moves
    the whole body), the root-relative joints the root and contacts read (T, 24, 3; ``ROOT_JOINTS``,
    the others zero) and each frame's root height putting its lowest sole point on the floor (T,).
    Chunk by chunk: the zero-phase smoothing of a chunk runs over ``SMOOTHING_MARGIN_S`` more on
    either side, where its response to the chunk's edges has died out."""
    T = len(sixd)
    rotations, positions, floor_roots = np.empty((T, 24, 4)), np.empty((T, 24, 3)), np.empty(T)
    margin = int(round(SMOOTHING_MARGIN_S * NETWORK_FPS))
    for lo, hi, a, b in chunk_bounds(T, margin, CHUNK_FRAMES):
        smoothed = smooth_rotations(sixd[lo:hi], NETWORK_FPS, smoothing_hz)[a - lo:b - lo]
        local = local_matrices(sixd_to_matrix(smoothed[:, -1]), relative_globals(smoothed[:, :-1]))
        rotations[a:b] = matrix_to_quat(local)
        positions[a:b], global_rot = forward_kinematics(local, np.zeros((b - a, 3)), skeleton, joints=ROOT_JOINTS)
        floor_roots[a:b] = sole_floor_roots(positions[a:b], global_rot, skeleton)
    return rotations, positions, floor_roots


class ImuStream:
    """Live reconstruction, one frame in, one pose out: calibrated six-sensor samples at 60 fps ->
    local rotations (24, 4) wxyz, the root translation (3,) and the foot contacts (2,).

    The same maths as :func:`reconstruct_imu`, except what needs the future: a zero-phase filter
    does, so with ``smoothing`` the rotations go through the causal One Euro filter of
    :func:`smooth_rotations_online` instead; the offline feet stage (it too sees the whole take)
    is left out; and the network is the causal model, never the bidirectional offline one
    (``smoothing=False``: exactly ``reconstruct_imu`` with ``smoothing_hz=0``, the feet stage and
    ``offline_model`` off). The network's recurrent state and the root tracker's filter live here; a
    dropped sample (``valid`` False or NaN values) holds that sensor's last sample. ``sensors``
    names the columns of the samples (default ``SIX_SENSORS`` order)."""

    def __init__(self, measurements: BodyMeasurements, options: ImuSolveOptions = None, poser: ImuPoser | None = None,
                 sensors=SIX_SENSORS, smoothing: bool = True):
        self.options = replace(options or ImuSolveOptions(), smoothing_hz=0.0).validate()
        missing = [s for s in SIX_SENSORS if s not in tuple(sensors)]
        if missing:
            raise ImuError(f"the network needs the six sensors {', '.join(SIX_SENSORS)}; the stream lacks "
                           f"{', '.join(missing)}")
        self._order = [tuple(sensors).index(s) for s in SIX_SENSORS]
        self.skeleton = skeleton_from_measurements(measurements)
        self._parents = list(PARENTS[1:])
        self._offsets = self.skeleton.offsets[1:, :, None]
        # Forward kinematics of one frame as one product: joint j is the sum of the bones (child
        # minus parent, 1..23) on its path from the root.
        self._paths = np.zeros((24, 23))
        for j in range(1, 24):
            k = j
            while k:
                self._paths[j, k - 1] = 1.0
                k = PARENTS[k]
        self.poser = poser or load_poser(self.options.model)
        self._net = self.poser.stream(measurements)
        self._root_options = RootOptions.for_skeleton(self.skeleton)
        self._tracker = RootTracker(NETWORK_FPS, self._root_options)
        self._soles = SoleLift(self.skeleton)      # lift_soles_above_floor, one frame
        self._filter = OneEuroFilter(*ONLINE_FILTER) if smoothing else None
        self.reset()

    def reset(self) -> None:
        self._net.reset()
        self._tracker.reset()
        if self._filter is not None:
            self._filter.reset()
        self._last_orientation = np.broadcast_to(np.eye(3), (6, 3, 3)).copy()
        self._last_acceleration = np.zeros((6, 3))

    def step(self, orientation, acceleration, valid=None):
        """``orientation`` (S, 3, 3) bone world orientations, ``acceleration`` (S, 3) core-frame free
        accelerations, ``valid`` (S,) or None -> ``(rotations (24, 4), translation (3,), contact (2,))``."""
        ori = np.asarray(orientation, np.float64)[self._order]
        acc = np.asarray(acceleration, np.float64)[self._order]
        ok = (np.ones(6, bool) if valid is None else np.asarray(valid, bool)[self._order])
        ok &= np.isfinite(ori).all(axis=(1, 2)) & np.isfinite(acc).all(axis=1)
        self._last_orientation[ok], self._last_acceleration[ok] = ori[ok], acc[ok]
        held, held_acc = self._last_orientation[None], self._last_acceleration[None]
        # One frame of features(), without building a recording for it.
        x = feature_vectors(*normalise_arrays(held, held_acc, PELVIS))[0]
        out = self._net.step(x, ok.astype(np.float32))
        pose_6d = out.pose_6d[None]
        if self.options.sensor_bones:
            pose_6d = sensor_bone_rotations(pose_6d, held)
        both = np.concatenate((pose_6d, matrix_to_6d(held[:, PELVIS])[:, None]), axis=1)
        if self._filter is not None:
            both = self._filter(both, 1.0 / NETWORK_FPS)
        matrices = sixd_to_matrix(both[0])                                          # (18, 3, 3)
        relative, pelvis = globals_from_posed(matrices[:-1]), matrices[-1]
        rotations = local_quaternions(pelvis[None], relative[None])[0]
        # Forward kinematics of one frame straight from the globals (the batched FK is built for
        # many frames and costs more than the network here).
        global_rot = pelvis @ relative                                              # (24, 3, 3)
        bones = (global_rot[self._parents] @ self._offsets)[..., 0]                 # (23, 3)
        positions = self._paths @ bones                                             # (24, 3)
        contact = out.contact if out.contact is not None else _lower_foot_contact(positions)
        translation = np.zeros(3)
        if self.options.translation:
            estimated = None if out.root_velocity is None else world_root_velocity(held[0, PELVIS], out.root_velocity)
            translation = self._tracker.step(positions, contact, self._last_acceleration[PELVIS], estimated)
        translation, _ = self._soles.lift(translation, positions, global_rot)
        return rotations, translation, contact


def _lower_foot_contact(relative_positions: np.ndarray, tie_m: float = 0.04) -> np.ndarray:
    """Streaming stand-in for the contacts of a model without a contact head (the baseline): the
    lower foot is planted, both when their lowest points are within ``tie_m``."""
    lowest = np.array([relative_positions[list(points), 1].min() for points in FOOT_POINTS])
    return (lowest <= lowest.min() + tie_m).astype(np.float64)
