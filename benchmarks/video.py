"""Video -> landmarks -> armature on the shared Pose2Sim recording (issue 19).

Data: ``<data>/landmarks_real/pose2sim/videos/cam0{1..4}.mp4`` (60 fps, 100 frames, 1080x1920) with
the Qualisys calibration ``Calib.qca.txt``, and Pose2Sim's own triangulation of the same frames,
``trc/S00_P00_T01_BalancingTrial_0-100.trc`` (raw, OpenPose BODY_25B keypoints, Y up). Video frame
i goes with TRC data row i.

**Monocular** (cam01 alone, ``video.detect.detect_video``): MediaPipe Pose's 33 world landmarks
against the TRC over the 17 keypoints both have (nose, shoulders, elbows, wrists, hips, knees,
ankles, heels, and MediaPipe's ``foot_index`` for the big toe), in mm:

- ``mono_pa_mpjpe_mm``: per-frame similarity alignment (rotation, translation and scale; Umeyama)
  of the prediction onto the TRC, then the mean distance; ``_max`` the worst frame's mean. Also
  over the limb keypoints only (shoulders, elbows, wrists, knees, ankles: points both tools define
  alike), and per keypoint.
- ``mono_root_relative_mpjpe_mm``: both hip-centred (mid-hip), the TRC put in cam01's axes with
  the calibration (``core.landmarks.cameras``), no alignment.

Variants of the prediction (each a step of :mod:`video.mono` or a candidate for it), so what each
step buys is visible: ``raw`` (MediaPipe's world landmarks), ``smoothed`` (``smooth_points``,
offline, strength 0.5), ``image_xy`` (each point's x, y re-cast from its image landmark at the
depth of the placed world point: ``mono.image_corrected``, focal length from the default 60 degree
field-of-view guess), ``image_xy_calibrated`` (the same with the calibration's focal length),
``image_xy_smoothed``, ``image_xy_rigid`` (then constant limb lengths along the rays:
``mono.constant_limbs``), ``placed_smoothed`` (that, which is what ``place_detection`` gives by
default, smoothed as the landmark solve does by default): the headline ``mono_*`` figures.

**Armature**: ``mono.motion_from_video`` on cam01 (the default field-of-view guess, default solve
options): PA-MPJPE of its FK joints against the TRC over the limb keypoints (SMPL shoulders,
elbows, wrists, knees, ankles), bone-length CV (%) of the armature's segments and its foot
skating (cm/frame in contact), as ``benchmarks/landmarks_quality.py`` measures them.

**Speed**: ``detection_frames_per_second``: ``detect_video`` on all of cam01 (decoding included,
the model's start-up too), best and all of ``--repeats`` runs. Run the script pinned to one core
(``taskset -c 0``) for the one-core figure: the JSON says which cores the process may use.

**Multi-camera** (all four cameras and the calibration): ``pipelines.cameras.multi_camera_figures``
(``multi_camera_mpjpe_mm`` over the limb keypoints against the same TRC, each keypoint, the others
apart, frames/s per camera, ...; its docstring), plus the solved armature's bone-length CV and foot
skating (``multi_camera_armature``).

Prints tables, then, last, one JSON line. Exits 0 with a message when the data or mediapipe is
absent.

    taskset -c 0 .venv/bin/python benchmarks/video.py [--data ../shared/data] [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.landmarks.formats import read_landmarks  # noqa: E402
from sparse_mocap_addon.core.kinematics.filters import smooth_points  # noqa: E402

TRC_NAME = "S00_P00_T01_BalancingTrial_0-100.trc"
# TRC keypoint -> MediaPipe landmark (the 17 both have).
PAIRS = {
    "nose": "nose", "left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder",
    "left_elbow": "left_elbow", "right_elbow": "right_elbow", "left_wrist": "left_wrist",
    "right_wrist": "right_wrist", "left_hip": "left_hip", "right_hip": "right_hip", "left_knee": "left_knee",
    "right_knee": "right_knee", "left_ankle": "left_ankle", "right_ankle": "right_ankle",
    "left_heel": "left_heel", "right_heel": "right_heel", "left_big_toe": "left_foot_index",
    "right_big_toe": "right_foot_index",
}
LIMBS = tuple(f"{s}_{p}" for s in ("left", "right") for p in ("shoulder", "elbow", "wrist", "knee", "ankle"))


def similarity_align(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``pred`` (T, K, 3) moved onto ``true`` by the per-frame similarity (Umeyama: rotation,
    uniform scale, translation) that minimises the squared distances."""
    mp, mt = pred.mean(axis=1, keepdims=True), true.mean(axis=1, keepdims=True)
    p, t = pred - mp, true - mt
    u, s, vt = np.linalg.svd(np.einsum("tki,tkj->tij", t, p))
    d = np.sign(np.linalg.det(u @ vt))
    s[:, -1] *= d
    u[:, :, -1] *= d[:, None]
    rotation = u @ vt
    scale = s.sum(axis=1) / (p ** 2).sum(axis=(1, 2))
    return scale[:, None, None] * np.einsum("tij,tkj->tki", rotation, p) + mt


def keypoint_errors_mm(pred: np.ndarray, true: np.ndarray, align: bool) -> np.ndarray:
    """(T', K) distances (mm) over the frames where every keypoint is there in both."""
    ok = np.isfinite(pred).all(axis=(1, 2)) & np.isfinite(true).all(axis=(1, 2))
    p, t = pred[ok], true[ok]
    if align:
        p = similarity_align(p, t)
    return np.linalg.norm(p - t, axis=-1) * 1000.0


def error_summary(pred: np.ndarray, true: np.ndarray, names, align: bool) -> dict:
    errors = keypoint_errors_mm(pred, true, align)
    limbs = [names.index(n) for n in LIMBS]
    limb_errors = keypoint_errors_mm(pred[:, limbs], true[:, limbs], align)
    per_frame = errors.mean(axis=1)
    return {"mean_mm": float(per_frame.mean()), "max_mm": float(per_frame.max()),
            "limbs_mean_mm": float(limb_errors.mean()), "frames": int(len(errors)),
            "per_keypoint_mm": {n: round(float(e), 1) for n, e in zip(names, errors.mean(axis=0))}}


def _pick(points: np.ndarray, names, wanted) -> np.ndarray:
    return points[:, [list(names).index(n) for n in wanted]]


def _truth(data: Path):
    """TRC keypoints (T, 17, 3) in the world (Pose2Sim's Y-up axes), and in cam01's axes."""
    from sparse_mocap_addon.core.landmarks.cameras import camera_coordinates, read_calibration

    trc = read_landmarks(data / "trc" / TRC_NAME)
    world = _pick(trc.points, trc.names, PAIRS)
    cameras = read_calibration(data / "videos" / "Calib.qca.txt")
    qualisys = world[..., [2, 0, 1]]          # Pose2Sim wrote Qualisys' (X, Y, Z) as (Y, Z, X)
    in_cam01 = camera_coordinates(cameras, qualisys)[:, cameras.index("cam01")]
    return world, in_cam01, cameras


def _hip_centred(points: np.ndarray) -> np.ndarray:
    names = list(PAIRS)
    mid = points[:, [names.index("left_hip"), names.index("right_hip")]].mean(axis=1, keepdims=True)
    return points - mid


def mono_figures(detection, truth_world, truth_cam, focal_calibrated, centre_calibrated) -> dict:
    from sparse_mocap_addon.video import mono

    mp_index = [detection.names.index(n) for n in PAIRS.values()]
    names = list(PAIRS)
    placement = mono.place_detection(detection)
    calibrated = mono.place_detection(detection, focal_px=focal_calibrated, principal_point=centre_calibrated)

    def recast(p):
        return mono.image_corrected(detection.world, detection.image, p.translation, p.focal_px, p.principal_point)

    def rigid(p):
        rays = mono.image_rays(detection.image, p.focal_px, p.principal_point)
        return mono.constant_limbs(recast(p) + p.translation[:, None], rays) - p.translation[:, None]

    variants = {
        "raw": detection.world,
        "smoothed": _smoothed(detection.world, detection.found, detection.fps),
        "image_xy": recast(placement),
        "image_xy_calibrated": recast(calibrated),
        "image_xy_rigid": rigid(placement),
    }
    variants["image_xy_smoothed"] = _smoothed(variants["image_xy"], detection.found, detection.fps)
    # What the product hands the solve (place_detection's defaults), smoothed as the solve does by default.
    variants["placed_smoothed"] = _smoothed(variants["image_xy_rigid"], detection.found, detection.fps)
    out = {}
    for label, points in variants.items():
        pred = points[:, mp_index]
        out[label] = {"pa": error_summary(pred, truth_world, names, align=True),
                      "root_relative": error_summary(_hip_centred(pred), _hip_centred(truth_cam), names, align=False)}
    out["distance_m"] = {"placed": float(np.median(placement.distance_m())),
                         "placed_calibrated_focal": float(np.median(calibrated.distance_m())),
                         "truth": float(np.median(np.linalg.norm(truth_cam[:, [7, 8]].mean(axis=1), axis=-1)))}
    return out


def _smoothed(points, found, fps):
    smoothed, _ = smooth_points(points, np.isfinite(points).all(axis=-1) & found[:, None], fps, 0.5, "offline")
    return smoothed


def armature_quality(motion) -> dict:
    """Bone-length CV (%) of the armature's segments and its foot skating, as
    ``benchmarks/landmarks_quality.py`` measures them."""
    from benchmarks.landmarks_quality import SEGMENTS, SIDES, _armature_points, _cv_percent, _skating

    arm = _armature_points(motion)
    cv = {label: _cv_percent(arm, aa, ab) for label, _, _, aa, ab in SEGMENTS}
    soles = np.stack([arm[f"{s}_sole_{p}"] for s in SIDES for p in ("heel", "ball", "toe")], axis=1)
    skating, _ = _skating(soles, motion.fps)
    return {"bone_length_cv_pct": float(np.mean(list(cv.values()))), "bone_length_cv_max_pct": float(max(cv.values())),
            "foot_skating_cm_per_frame": skating["mean_cm_per_frame"], "contact_frame_pairs": skating["contact_frames"],
            "stature_m": motion.skeleton.stature()}


def armature_figures(video: Path, truth_world: np.ndarray) -> dict:
    from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX
    from sparse_mocap_addon.video.mono import motion_from_video

    with tempfile.TemporaryDirectory() as tmp:
        motion, report = motion_from_video(video, landmarks_path=Path(tmp) / "cam01.json")
    joints = motion.joint_positions()[:, [JOINT_INDEX[n] for n in LIMBS]]
    limbs = keypoint_errors_mm(joints, _pick(truth_world, list(PAIRS), LIMBS), align=True)
    return {"pa_mpjpe_limbs_mm": float(limbs.mean()), "pa_mpjpe_limbs_max_mm": float(limbs.mean(axis=1).max()),
            **armature_quality(motion),
            "distance_m": report["video"]["distance_m"], "frames_with_person": report["video"]["frames_with_person"]}


def detection_speed(video: Path, repeats: int):
    from sparse_mocap_addon.video.detect import detect_video

    rates, detection = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        detection = detect_video(video)
        rates.append(detection.num_frames / (time.perf_counter() - began))
    return rates, detection


def multi_camera_figures(data: Path) -> dict | None:
    """The calibrated path's figures from ``pipelines/cameras.multi_camera_figures`` (its docstring
    lists them), plus the bone-length CV and foot skating of the armature it solved from the
    triangulated landmarks; None when the module is not there."""
    if importlib.util.find_spec("sparse_mocap_addon.pipelines.cameras") is None:
        return None
    from sparse_mocap_addon.pipelines.cameras import multi_camera_figures as figures

    kept = {}
    out = figures(data, keep=kept)
    out["multi_camera_armature"] = armature_quality(kept["motion"])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    data = args.data / "landmarks_real" / "pose2sim"
    video = data / "videos" / "cam01.mp4"
    if not video.is_file() or not (data / "trc" / TRC_NAME).is_file():
        print(f"video benchmark skipped: the shared Pose2Sim video or TRC is not in {data}")
        return 0
    if importlib.util.find_spec("mediapipe") is None or importlib.util.find_spec("cv2") is None:
        print("video benchmark skipped: mediapipe or OpenCV is not installed (scripts/setup.sh installs them)")
        return 0

    rates, detection = detection_speed(video, max(args.repeats, 1))
    truth_world, truth_cam, cameras = _truth(data)
    cam = cameras.index("cam01")
    focal = float(cameras.K[cam, [0, 1], [0, 1]].mean())
    mono_out = mono_figures(detection, truth_world, truth_cam, focal, tuple(cameras.K[cam, :2, 2]))
    armature = armature_figures(video, truth_world)
    multi = multi_camera_figures(args.data)

    cores = sorted(os.sched_getaffinity(0))
    print(f"cam01: {detection.found.sum()} of {detection.num_frames} frames with a person; "
          f"detection {min(rates):.1f}-{max(rates):.1f} frames/s on cores {cores}")
    print(f"{'variant':<22}{'PA mean':>9}{'PA max':>9}{'PA limbs':>10}{'root-rel':>10}{'rr limbs':>10}  (mm)")
    for label, v in mono_out.items():
        if label == "distance_m":
            continue
        print(f"{label:<22}{v['pa']['mean_mm']:>9.1f}{v['pa']['max_mm']:>9.1f}{v['pa']['limbs_mean_mm']:>10.1f}"
              f"{v['root_relative']['mean_mm']:>10.1f}{v['root_relative']['limbs_mean_mm']:>10.1f}")
    best = mono_out["placed_smoothed"]
    print("per keypoint PA (mm), raw -> placed_smoothed:")
    for name in PAIRS:
        print(f"  {name:<16}{mono_out['raw']['pa']['per_keypoint_mm'][name]:>7.1f}"
              f"{best['pa']['per_keypoint_mm'][name]:>8.1f}")
    print(f"distance to the hips (m): placed {mono_out['distance_m']['placed']:.2f} "
          f"(calibrated focal {mono_out['distance_m']['placed_calibrated_focal']:.2f}), "
          f"truth {mono_out['distance_m']['truth']:.2f}")
    print(f"armature (FK joints vs TRC, limb keypoints): PA {armature['pa_mpjpe_limbs_mm']:.1f} mm "
          f"(max {armature['pa_mpjpe_limbs_max_mm']:.1f})")
    print(f"armature: bone-length CV {armature['bone_length_cv_pct']:.4f} % "
          f"(max {armature['bone_length_cv_max_pct']:.4f}), "
          f"foot skating {armature['foot_skating_cm_per_frame']:.3f} cm/frame in contact")
    if multi:
        arm = multi["multi_camera_armature"]
        print(f"multi-camera ({len(multi['multi_camera_cameras'])} cameras): "
              f"MPJPE {multi['multi_camera_mpjpe_mm']:.1f} mm over the limb keypoints "
              f"(max {multi['multi_camera_mpjpe_max_mm']:.1f}), "
              f"{multi['multi_camera_frames_per_second']:.1f} frames/s per camera; armature bone-length CV "
              f"{arm['bone_length_cv_pct']:.4f} %, foot skating {arm['foot_skating_cm_per_frame']:.3f} cm/frame")
    else:
        print("multi-camera: pipelines/cameras.py is not there: not measured")

    result = {
        "benchmark": "video",
        "mono_pa_mpjpe_mm": best["pa"]["mean_mm"], "mono_pa_mpjpe_max_mm": best["pa"]["max_mm"],
        "mono_pa_mpjpe_limbs_mm": best["pa"]["limbs_mean_mm"],
        "mono_root_relative_mpjpe_mm": best["root_relative"]["mean_mm"],
        "mono_variants": {k: {"pa_mm": v["pa"]["mean_mm"], "pa_max_mm": v["pa"]["max_mm"],
                              "pa_limbs_mm": v["pa"]["limbs_mean_mm"],
                              "root_relative_mm": v["root_relative"]["mean_mm"]}
                          for k, v in mono_out.items() if k != "distance_m"},
        "mono_pa_per_keypoint_mm": best["pa"]["per_keypoint_mm"],
        "mono_distance_m": mono_out["distance_m"],
        "detection_frames_per_second": max(rates), "detection_frames_per_second_runs": [round(r, 1) for r in rates],
        "cores": cores,
        "mono_armature": armature,
        **(multi or {"multi_camera_mpjpe_mm": None,
                     "multi_camera": "not measured: pipelines/cameras.py is not there"}),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
