"""Tracker recording (or joint-level targets) + the wearer's skeleton -> a Motion (issue 6), offline
(:func:`reconstruct_trackers`, :func:`solve_targets`) and live (:class:`TrackerStream`).

Modes (``TrackerSolveOptions.mode``; "auto" picks from the trackers present):

- **six_point** (pelvis, head, hands, feet): the six-point poser network guesses the pose
  (``inference/tracker_poser``), and the analytic solver (``core/trackers/six_point.solve_six_point``)
  reaches every target exactly with that guess as its prior: the network decides what six points
  leave open (how the spine bends, where the elbows and knees point).
- **three_point** (head + hands; extra pelvis/feet trackers are used when present): the
  three-point network guesses the pelvis, torso and legs; the head and hands are then reached
  exactly by the same solver, and the guessed feet are planted while in contact and kept above the
  floor (``core/feet/plant``).
- **analytic**: the six-point solver alone, without a network (its closed-form defaults).

Every frame is checked first (``core/trackers/checks``): samples no pose of the wearer's skeleton
can produce (trackers farther apart than the bones between them reach, a joint under the floor)
are treated as lost, and frames without enough usable input are flagged (the report's
``failed_frames``, the stream's ``failed``); their pose is the fallback the lost samples get
(offline interpolated from the good frames around them, live the last good samples held).

Targets are joint-level (``core/trackers/calibration.apply_calibration`` or ``apply_mountings``),
core frame, floor at y = 0. The networks run at 60 fps: other rates are resampled first and the
Motion comes out at 60 fps. Offline, the feet stage (``core/feet/stage``: contact feet planted on
the floor, no sole under it) is the last step (``TrackerSolveOptions.feet``); the live
:class:`TrackerStream` has no such step, so it equals the offline solve with the stage off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.feet.stage import FeetOptions, feet_on_floor
from ..core.kinematics.filters import filtfilt_padlen, zero_phase_lowpass
from ..core.feet.plant import ANKLES, FootPlanter
from ..core.kinematics.motion import Motion
from ..core.kinematics.resample import resample_times
from ..core.kinematics.rotations import matrix_to_6d, matrix_to_quat, quat_slerp, sixd_to_matrix
from ..core.kinematics.skeleton import PARENTS, Skeleton
from ..core.trackers.calibration import TrackerCalibration, apply_calibration, apply_mountings
from ..core.trackers.checks import REASONS, TargetChecks, check_targets, lost_frames, pair_limits
from ..core.trackers.six_point import SixPointOptions, SixPointSolver, solve_six_point, stack_targets
from ..core.trackers.recording import SIX_POINT, THREE_POINT, TrackerError, TrackerRecording
from ..inference.tracker_poser import KINDS, NETWORK_FPS, REFERENCE, TrackerPoser, has_offline_model

MODES = ("auto", "six_point", "three_point", "analytic")
_POSERS: dict = {}


@dataclass
class TrackerSolveOptions:
    """How :func:`solve_targets` and :class:`TrackerStream` reconstruct.

    - ``mode``: "auto", "six_point", "three_point" or "analytic" (module docstring).
    - ``smoothing_hz``: offline zero-phase low-pass of the targets before solving (0: off). The
      solver reaches the targets exactly, so tracking noise reaches the animation as jitter;
      8 Hz removes about half of it. The stream does not smooth.
    - ``plant_feet`` / ``pin_feet``: three-point guessed feet are kept on and above the floor, and
      pinned while in contact (``core/feet/plant``).
    - ``offline_model``: offline reconstruction uses the mode's bidirectional model where one is
      shipped (it sees the future; the stream always uses the causal one).
    - ``mirror_average``: the offline model's guess is averaged with its guess on the targets'
      mirror image (``inference/tracker_poser.mirror_average``: the network's time twice over;
      on the test split three-point MPJPE 6.64 -> 6.36 cm, six-point 7.09 -> 6.82 mm). The causal
      model runs once, as the stream does.
    - ``anchor_pelvis``: the guessed pelvis (three-point) is moved so that the guessed spine puts
      the head on its tracker (else the spine bends to reach it from the network's pelvis).
    - ``ik``: the analytic solver's options.
    - ``feet``: the feet stage, the last offline step (the floor is y = 0; only the legs move, the
      tracked pelvis, head and hands stay on their trackers; off: the raw solve, as the stream
      gives it).
    - ``checks``: the tolerances of the per-frame plausibility check (``core/trackers/checks``):
      samples no pose of the skeleton can produce are treated as lost and their frames flagged.
    """

    mode: str = "auto"
    smoothing_hz: float = 0.0
    plant_feet: bool = True
    pin_feet: bool = True
    offline_model: bool = True
    mirror_average: bool = True
    anchor_pelvis: bool = True
    ik: SixPointOptions = field(default_factory=SixPointOptions)
    feet: FeetOptions = field(default_factory=lambda: FeetOptions(floor="zero", body_shift=False))
    checks: TargetChecks = field(default_factory=TargetChecks)

    def validate(self) -> "TrackerSolveOptions":
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not (np.isfinite(self.smoothing_hz) and 0.0 <= self.smoothing_hz < NETWORK_FPS / 2):
            raise ValueError(f"smoothing_hz must be 0 (off) or a cut-off below {NETWORK_FPS / 2:g} Hz, got {self.smoothing_hz}")
        return self


def load_tracker_poser(kind: str, offline: bool = False) -> TrackerPoser:
    """The shipped poser of ``kind`` (its offline variant when ``offline`` and one is shipped),
    loaded once per session."""
    offline = offline and has_offline_model(kind)
    if (kind, offline) not in _POSERS:
        _POSERS[kind, offline] = TrackerPoser.load(kind, offline=offline)
    return _POSERS[kind, offline]


def choose_mode(names, mode: str = "auto") -> str:
    """The mode for trackers ``names`` (one sentence naming what is missing when none fits)."""
    present = set(names)
    if mode == "auto":
        if set(SIX_POINT) <= present:
            return "six_point"
        if set(THREE_POINT) <= present:
            return "three_point"
        raise TrackerError(f"trackers {', '.join(sorted(present)) or 'none'} are not enough: the solvers need "
                           f"at least the head and both hands ({', '.join(THREE_POINT)})")
    needed = SIX_POINT if mode in ("six_point", "analytic") else THREE_POINT
    missing = [n for n in needed if n not in present]
    if missing:
        raise TrackerError(f"the {mode.replace('_', '-')} solver needs the {', '.join(missing)} tracker(s), "
                           f"which the recording lacks")
    return mode


def resample_targets(targets: dict, fps: float, new_fps: float) -> dict:
    """Joint-level targets at ``new_fps`` (positions linearly, rotations by slerp; a new frame is
    missing when either neighbour is)."""
    from ..core.kinematics.rotations import matrix_to_quat, quat_to_matrix

    T = len(next(iter(targets.values()))[0])
    times = resample_times(T, fps, new_fps)
    lo = np.minimum(np.floor(times).astype(np.int64), T - 1)
    hi = np.minimum(lo + 1, T - 1)
    w = (times - lo)[:, None]
    out = {}
    for name, (pos, rot) in targets.items():
        pos = np.asarray(pos, dtype=np.float64)
        q = matrix_to_quat(np.nan_to_num(np.asarray(rot, dtype=np.float64)))
        ok = np.isfinite(pos).all(-1) & np.isfinite(rot).reshape(T, -1).all(-1)
        p = pos[lo] + w * (pos[hi] - pos[lo])
        r = quat_to_matrix(quat_slerp(q[lo], q[hi], w[:, 0]))
        bad = ~(ok[lo] & (ok[hi] | (w[:, 0] == 0)))
        p[bad] = np.nan
        r[bad] = np.nan
        out[name] = (p, r)
    return out


def used_trackers(mode: str, present) -> tuple:
    """The trackers the solve of ``mode`` listens to: its network's (six for the analytic mode),
    plus the pelvis and feet that a three-point solve takes where they are present."""
    base = SIX_POINT if mode == "analytic" else KINDS[mode]
    return tuple(base) + tuple(n for n in SIX_POINT if n in present and n not in base)


def anchor_trackers(mode: str) -> set:
    """The trackers a pose hangs from (a frame without one of them cannot be posed)."""
    return {"head", REFERENCE.get(mode, "pelvis")}


def check_frames(targets: dict, names, mode: str, skeleton: Skeleton, checks: TargetChecks):
    """The plausibility check of ``names``' samples (``core/trackers/checks``): (targets with the
    rejected samples lost, failed (T,) frames that could not support a pose, reasons {reason: (T,)
    frames})."""
    positions = np.stack([np.asarray(targets[n][0], dtype=np.float64) for n in names], axis=1)
    rotations = np.stack([np.asarray(targets[n][1], dtype=np.float64) for n in names], axis=1)
    ok, reasons = check_targets(positions, rotations, names, skeleton, checks)
    rejected = ~ok & ~reasons["lost"]
    out = dict(targets)
    for k, n in enumerate(names):
        if rejected[:, k].any():
            pos, rot = positions[:, k].copy(), rotations[:, k].copy()
            pos[rejected[:, k]] = np.nan
            rot[rejected[:, k]] = np.nan
            out[n] = (pos, rot)
    gone = [n for k, n in enumerate(names) if rejected[:, k].any() and not ok[:, k].any()]
    if gone:
        why = sorted({r.replace("_", " ") for r in REASONS[1:] for k, n in enumerate(names) if n in gone
                      and reasons[r][:, k].any()})
        raise TrackerError(f"no sample of the {', '.join(gone)} tracker(s) fits the skeleton ({', '.join(why)}): "
                           f"are the measurements the wearer's, and the floor at y = 0?")
    core = [k for k, n in enumerate(names) if n in used_trackers(mode, ())]
    failed = lost_frames(ok[:, core], [names[k] for k in core], anchor_trackers(mode)) | rejected.any(axis=1)
    frames = {r: reasons[r].any(axis=1) for r in REASONS}
    frames["lost"] = lost_frames(~reasons["lost"][:, core], [names[k] for k in core], anchor_trackers(mode))
    return out, failed, frames


def failure_summary(report: dict) -> str:
    """One phrase for the user about the flagged frames of a solve's report ("" when none)."""
    failed = report.get("failed_frames")
    count = int(np.sum(failed)) if failed is not None else 0
    if not count:
        return ""
    why = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in (report.get("failures") or {}).items() if n)
    return f"{count} frame(s) flagged: the input could not support a pose there ({why}); held/interpolated"


def network_summary(report: dict) -> str:
    """The network a solve used, for the report line ("bidirectional network, mirror-averaged";
    empty for the analytic mode)."""
    if not report.get("network"):
        return ""
    return f"{report['network']} network" + (", mirror-averaged" if report.get("mirror_average") else "")


def _chain_end(start, globals_, offsets, chain) -> np.ndarray:
    """Forward kinematics down one chain of joints (each a child of the one before) from ``start``."""
    out = start
    for joint in chain:
        out = out + globals_[:, PARENTS[joint]] @ offsets[joint]
    return out


SPINE_TO_HEAD = (3, 6, 9, 12, 15)      # spine1, spine2, spine3, neck, head


def _guessed_targets(guess, skeleton: Skeleton, planter: FootPlanter | None, head=None) -> dict:
    """Pelvis and feet targets from the network's guess (the feet planted when ``planter``; the
    pelvis moved so the guessed spine reaches ``head`` (T, 3) when given)."""
    g, offsets = guess.globals, skeleton.offsets
    pelvis = guess.pelvis
    if head is not None:
        pelvis = pelvis + (head - _chain_end(pelvis, g, offsets, SPINE_TO_HEAD))
    ankle_pos = np.stack([_chain_end(pelvis, g, offsets, (PARENTS[PARENTS[a]], PARENTS[a], a)) for a in ANKLES], axis=1)
    ankle_rot = g[:, list(ANKLES)]
    if planter is not None:
        ankle_pos = planter.run(ankle_pos, ankle_rot, guess.contact)
    return {"pelvis": (pelvis, g[:, 0]),
            "left_foot": (ankle_pos[:, 0], ankle_rot[:, 0]), "right_foot": (ankle_pos[:, 1], ankle_rot[:, 1])}


def smooth_targets(targets: dict, fps: float, cutoff_hz: float) -> dict:
    """Targets low-passed over time (zero-phase Butterworth at ``cutoff_hz``; rotations as 6D,
    re-orthonormalised): lost samples are filled first (:func:`~..core.tracker_ik.stack_targets`)."""
    names = list(targets)
    positions, rotations, _ = stack_targets(targets, names)
    if len(positions) <= 3 * filtfilt_padlen(2):
        return dict(targets)
    positions = zero_phase_lowpass(positions, fps, cutoff_hz)
    rotations = sixd_to_matrix(zero_phase_lowpass(matrix_to_6d(rotations), fps, cutoff_hz))
    return {n: (positions[:, k], rotations[:, k]) for k, n in enumerate(names)}


def solve_targets(targets: dict, skeleton: Skeleton, fps: float, options: TrackerSolveOptions | None = None,
                  poser: TrackerPoser | None = None, progress=None) -> tuple[Motion, dict]:
    """Joint-level targets ({name: (positions (T, 3), rotations (T, 3, 3))}, NaN where lost) ->
    (Motion at 60 fps for the network modes, else at ``fps``; report).

    The report's ``failed_frames`` ((T,) bool at the Motion's rate, also the Motion's metadata
    ``failed_frames`` as frame indices) flags the frames whose input could not support a pose: a
    tracker the pose hangs from (or half of them) lost, or a sample no pose of the skeleton can
    produce (``core/trackers/checks``: trackers farther apart than the bones between them reach,
    a joint under the floor); ``failures`` counts the frames per reason. Rejected samples are
    treated as lost: interpolated from the good frames around them."""
    options = (options or TrackerSolveOptions()).validate()
    present = [n for n, (p, _) in targets.items() if np.isfinite(np.asarray(p, dtype=np.float64)).all(-1).any()]
    mode = choose_mode(present, options.mode)
    report = {"mode": mode, "trackers": sorted(present)}
    rate = float(fps)
    if mode != "analytic" and abs(fps - NETWORK_FPS) > 1e-6:
        targets = resample_targets(targets, fps, NETWORK_FPS)
        report["resampled_from_fps"], rate = float(fps), NETWORK_FPS
    targets, failed, failures = check_frames(targets, used_trackers(mode, present), mode, skeleton, options.checks)
    report["failed_frames"] = failed
    report["failures"] = {r: int(f.sum()) for r, f in failures.items()}
    lost = {n: ~np.isfinite(np.asarray(targets[n][0], dtype=np.float64)).all(-1) for n in present}
    if options.smoothing_hz > 0.0:
        targets = smooth_targets({n: targets[n] for n in present}, rate, options.smoothing_hz)
    if mode == "analytic":
        motion, ik_report = solve_six_point(targets, skeleton, rate, options.ik)
        report.update(ik_report)
        motion, report["feet"] = feet_on_floor(motion, options=options.feet)
        motion.metadata["failed_frames"] = np.nonzero(failed)[0].tolist()
        return motion, report
    poser = poser or load_tracker_poser(mode, offline=options.offline_model)
    mirror = options.mirror_average and poser.bidirectional
    report["network"], report["mirror_average"] = ("bidirectional" if poser.bidirectional else "causal"), mirror
    positions, rotations, _ = stack_targets(targets, KINDS[mode])
    valid = np.stack([~lost[n] for n in KINDS[mode]], axis=1)       # the network hears what was lost
    guess = poser.run(positions, rotations, valid, skeleton, NETWORK_FPS, progress=progress, mirror=mirror)
    report["lost_samples"] = {n: int((~valid[:, k]).sum()) for k, n in enumerate(KINDS[mode])}
    full = dict(targets)
    if mode == "three_point":
        planter = FootPlanter(skeleton, NETWORK_FPS, pin=options.pin_feet) if options.plant_feet else None
        anchor = options.anchor_pelvis and "pelvis" not in present
        head = positions[:, KINDS[mode].index("head")] if anchor else None
        for name, value in _guessed_targets(guess, skeleton, planter, head).items():
            if name not in present:
                full[name] = value
        report["guessed"] = [n for n in ("pelvis", "left_foot", "right_foot") if n not in present]
    motion, ik_report = solve_six_point(full, skeleton, NETWORK_FPS, options.ik, prior=guess.globals)
    report.update(ik_report)
    report["contact"] = guess.contact
    motion.metadata.update(source=f"{mode}_trackers", solver=f"tracker_poser+tracker_ik ({mode})")
    # Guessed legs: the network's contacts say better than the guessed feet's speed when one is down.
    contact = guess.contact if mode == "three_point" else None
    motion, report["feet"] = feet_on_floor(motion, options=options.feet, contact=contact)
    motion.metadata["failed_frames"] = np.nonzero(failed)[0].tolist()
    return motion, report


def reconstruct_trackers(recording: TrackerRecording, skeleton: Skeleton, calibration: TrackerCalibration | None = None,
                         mountings: dict | None = None, options: TrackerSolveOptions | None = None,
                         progress=None) -> tuple[Motion, dict]:
    """A tracker recording -> (Motion, report). ``calibration`` (from ``calibrate_trackers``) aligns
    the heading and applies the mountings; else ``mountings`` ({name: TrackerMounting}) are applied
    as they are; with neither the devices are taken to sit exactly on their joints (identity
    mountings: right for recordings of joint poses, e.g. Blender empties on a rig)."""
    if calibration is not None:
        targets = apply_calibration(recording, calibration)
    else:
        targets = apply_mountings(recording, mountings)
    motion, report = solve_targets(targets, skeleton, recording.fps, options, progress=progress)
    motion.metadata.setdefault("recording", recording.source)
    return motion, report


class TrackerStream:
    """Live reconstruction: one frame of joint-level targets in, one pose out, at 60 fps.

    ``names``: the trackers of each frame, in order. ``step(positions (K, 3), rotations (K, 3, 3),
    valid (K,) or None)`` returns ``(local rotations (24, 4) wxyz, root translation (3,))``. A lost
    sample (``valid`` False or NaN) holds that tracker's last pose, and so does a sample no pose of
    the skeleton can produce (``core/trackers/checks``). After each step ``failed`` says whether the
    frame's input could not support a pose (its pose is then the held one) and ``failure_reasons``
    why (names from ``core.trackers.checks.REASONS``). The same maths as :func:`solve_targets` frame
    by frame: equal to it with ``offline_model=False``, no smoothing and the feet stage off where no
    sample is lost."""

    def __init__(self, skeleton: Skeleton, names, options: TrackerSolveOptions | None = None,
                 poser: TrackerPoser | None = None):
        self.options = (options or TrackerSolveOptions()).validate()
        self.names = tuple(names)
        self.mode = choose_mode(self.names, self.options.mode)
        self.skeleton = skeleton
        self._columns = None
        if self.mode != "analytic":
            self.poser = poser or load_tracker_poser(self.mode)
            self._columns = [self.names.index(n) for n in KINDS[self.mode]]
        used = used_trackers(self.mode, self.names)
        self._checked = [self.names.index(n) for n in used]
        self._checked_names = used
        self._limits = pair_limits(used, skeleton, self.options.checks)
        core = used_trackers(self.mode, ())
        self._core = [k for k, n in enumerate(used) if n in core]
        self._core_names = [used[k] for k in self._core]
        self._targets = [(k, n) for k, n in enumerate(self.names) if n in SIX_POINT]
        plant = self.mode == "three_point" and self.options.plant_feet
        self._planter = FootPlanter(skeleton, NETWORK_FPS, pin=self.options.pin_feet) if plant else None
        self._solver = SixPointSolver(skeleton, self.options.ik)
        self.reset()

    def reset(self) -> None:
        self._net = self.poser.stream(self.skeleton, NETWORK_FPS) if self.mode != "analytic" else None
        if self._planter is not None:
            self._planter.reset()
        self._last_pos = np.full((len(self.names), 3), np.nan)
        self._last_rot = np.full((len(self.names), 3, 3), np.nan)
        self.failed, self.failure_reasons = False, ()

    def _check(self, pos: np.ndarray, rot: np.ndarray, valid) -> np.ndarray:
        """The samples to take (K,); sets ``failed`` and ``failure_reasons``."""
        c = self._checked
        ok_checked, reasons = check_targets(pos[None, c], rot[None, c], self._checked_names, self.skeleton,
                                            self.options.checks, self._limits)
        ok = np.isfinite(pos).all(-1) & np.isfinite(rot).all(axis=(1, 2))
        if valid is not None:
            ok &= np.asarray(valid, bool)
        lost = ~ok[c]
        ok[c] &= ok_checked[0]
        if ok.all():
            self.failed, self.failure_reasons = False, ()
            return ok
        rejected = ~ok[c] & ~lost
        anchors = anchor_trackers(self.mode)
        lost_rule = bool(lost_frames(~lost[None, self._core], self._core_names, anchors)[0])
        self.failure_reasons = (("lost",) if lost_rule else ()) + tuple(
            r for r in REASONS[1:] if reasons[r][0].any())
        self.failed = bool(lost_frames(ok[None, c][:, self._core], self._core_names, anchors)[0] or rejected.any())
        return ok

    def step(self, positions, rotations, valid=None):
        pos = np.asarray(positions, dtype=np.float64)
        rot = np.asarray(rotations, dtype=np.float64)
        ok = self._check(pos, rot, valid)
        self._last_pos[ok], self._last_rot[ok] = pos[ok], rot[ok]
        seen = np.isfinite(self._last_pos[:, 0])
        targets = {n: (self._last_pos[k][None], self._last_rot[k][None]) for k, n in self._targets if seen[k]}
        prior = None
        if self._net is not None:
            c = self._columns
            if not seen[c].all():
                raise TrackerError("the stream's first frame must hold every tracker the network needs")
            guess = self._net.step(self._last_pos[c], self._last_rot[c], ok[c])
            prior = guess.globals
            if self.mode == "three_point":
                head = self._last_pos[self.names.index("head")][None] if (
                    self.options.anchor_pelvis and "pelvis" not in targets) else None
                for name, value in _guessed_targets(guess, self.skeleton, self._planter, head).items():
                    if name not in targets:
                        targets[name] = value
        if "pelvis" not in targets or "head" not in targets:
            raise TrackerError("the stream's first frame must hold the pelvis and head trackers")
        locals_, _ = self._solver.solve(targets, prior)
        return matrix_to_quat(locals_[0]), targets["pelvis"][0][0].copy()


__all__ = ["MODES", "TrackerSolveOptions", "TrackerStream", "choose_mode", "failure_summary", "load_tracker_poser",
           "network_summary", "reconstruct_trackers",
           "resample_targets", "smooth_targets", "solve_targets"]
