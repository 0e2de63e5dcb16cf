"""Monocular placement of MediaPipe's world landmarks, the JSON it writes, and the whole
video -> Motion path, on the shared Pose2Sim cam01 video (real mediapipe, real calibration)."""

import dataclasses
import json

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless) is not installed")
pytest.importorskip("mediapipe.python.solutions.pose", reason="mediapipe is not installed")

from sparse_mocap_addon.core.landmarks.cameras import read_calibration  # noqa: E402
from sparse_mocap_addon.core.landmarks.formats import read_landmarks  # noqa: E402
from sparse_mocap_addon.core.landmarks.sequence import orient  # noqa: E402
from sparse_mocap_addon.video import mono  # noqa: E402
from sparse_mocap_addon.video.detect import detect_video  # noqa: E402

POSE2SIM = SHARED_DATA / "landmarks_real" / "pose2sim"
CAM01 = POSE2SIM / "videos" / "cam01.mp4"
TRC = POSE2SIM / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc"
FRAMES = 30


@pytest.fixture(scope="module")
def detection():
    if not (CAM01.is_file() and TRC.is_file()):
        pytest.skip(f"the shared Pose2Sim video and TRC ({POSE2SIM}) are absent")
    return detect_video(CAM01, max_frames=FRAMES)


@pytest.fixture(scope="module")
def truth():
    """cam01's view of the truth: the hip centre of Pose2Sim's TRC in cam01's axes (OpenCV: x right,
    y down, z ahead) through the Qualisys calibration, and the world's up direction in those axes."""
    cameras = read_calibration(POSE2SIM / "videos" / "Calib.qca.txt")
    cam = cameras.index("cam01")
    trc = read_landmarks(TRC)
    hips = trc.points[:FRAMES, [trc.index("left_hip"), trc.index("right_hip")]].mean(axis=1)
    qualisys = hips[:, [2, 0, 1]]                 # Pose2Sim wrote Qualisys' Z-up (X, Y, Z) as (Y, Z, X)
    hip_in_camera = qualisys @ cameras.R[cam].T + cameras.t[cam]
    up_in_camera = cameras.R[cam] @ np.array([0.0, 0.0, 1.0])
    return hip_in_camera, up_in_camera, float(cameras.K[cam, 0, 0]), cameras.K[cam, :2, 2]


def test_translation_solve_is_exact_on_a_projected_body(detection):
    world = detection.world[:5]
    truth = np.array([[0.3, -0.2, 3.5], [0.31, -0.2, 3.4], [0.33, -0.21, 3.3], [0.35, -0.2, 3.2], [0.4, -0.2, 3.1]])
    placed = world + truth[:, None]
    focal, centre = 1500.0, (540.0, 960.0)
    image = placed[..., :2] / placed[..., 2:] * focal + centre
    solved = mono.camera_translation(world, image, np.ones(world.shape[:2]), focal, centre)
    np.testing.assert_allclose(solved, truth, atol=1e-9)


def test_person_placed_at_the_calibrated_distance_and_upright(detection, truth):
    hip_in_camera, up_in_camera, focal, centre = truth
    placement = mono.place_detection(detection)            # the field-of-view guess, no calibration
    true_distance = np.linalg.norm(hip_in_camera, axis=-1)
    assert 2.0 < np.median(placement.distance_m()) < 6.0
    assert np.abs(placement.distance_m() - true_distance).max() < 0.3
    assert np.linalg.norm(placement.translation - hip_in_camera, axis=-1).max() < 0.3
    # The calibrated pinhole places her as well (what is left is MediaPipe's average-body scale).
    calibrated = mono.place_detection(detection, focal_px=focal, principal_point=centre)
    assert np.abs(calibrated.distance_m() - true_distance).max() < 0.3
    # The camera looks down about 26 degrees; levelled, the true up is within 15 degrees of -y.
    tilt = np.degrees(np.arccos(-up_in_camera[1]))
    levelled = placement.rotation @ up_in_camera
    assert tilt > 20 and np.degrees(np.arccos(-levelled[1])) < 15
    np.testing.assert_allclose(placement.rotation @ placement.rotation.T, np.eye(3), atol=1e-12)


def test_json_reads_back_with_the_same_points(detection, tmp_path):
    missing = detection.found.copy()
    missing[4] = False                                  # a frame without a person
    world = detection.world.copy()
    world[4] = np.nan
    placement = mono.place_detection(dataclasses.replace(detection, found=missing, world=world))
    path = mono.write_landmark_json(tmp_path / "cam01.json", placement, start=7, source=str(CAM01))
    assert [p.name for p in tmp_path.iterdir()] == ["cam01.json"]          # no temporary file left
    assert json.loads(path.read_text())["frames"][4]["pose_world_landmarks"] == []
    seq = read_landmarks(path)
    assert seq.layout == "mediapipe33" and seq.fps == 60.0 and seq.num_frames == FRAMES
    assert seq.metadata["first_frame"] == 7 and seq.metadata["frames_without_person"] == 1
    found = missing
    np.testing.assert_allclose(seq.points[found], placement.points[found], atol=1e-6)
    np.testing.assert_allclose(seq.confidence[found], placement.visibility[found], atol=1e-6)
    assert np.isnan(seq.points[4]).all() and (seq.confidence[4] == 0).all()
    # In the core frame: head above the feet, the person in front of the camera (-Z), facing it.
    core = orient(seq)
    nose, ankles = core.points[found, seq.index("nose")], core.points[found][:, [27, 28]]
    assert (nose[:, 1] > ankles[..., 1].max(axis=1) + 0.8).all()
    assert -3.8 < np.median(core.points[found, 23:25, 2]) < -2.6
    left, right = core.points[found, seq.index("left_shoulder")], core.points[found, seq.index("right_shoulder")]
    assert np.median(left[:, 0] - right[:, 0]) > 0.2            # +X is the subject's left: she faces +Z


def test_field_of_view_guess():
    assert mono.focal_from_fov((1080, 1920), 60.0) == pytest.approx(960 / np.tan(np.radians(30)))
    with pytest.raises(ValueError, match="field of view"):
        mono.focal_from_fov((1080, 1920), 0.0)


def test_no_visible_landmarks_refused(detection):
    hidden = dataclasses.replace(detection, visibility=np.zeros_like(detection.visibility))
    with pytest.raises(ValueError, match="cannot be placed"):
        mono.place_detection(hidden)


def test_motion_from_video(tmp_path):
    if not CAM01.is_file():
        pytest.skip(f"shared video {CAM01} is absent")
    landmarks = tmp_path / "cam01.landmarks.json"
    motion, report = mono.motion_from_video(CAM01, landmarks_path=landmarks, max_frames=FRAMES)
    assert landmarks.is_file() and report["video"]["landmarks_file"] == str(landmarks)
    assert motion.rotations.shape == (FRAMES, 24, 4) and motion.fps == 60.0
    assert report["video"]["frames_with_person"] == FRAMES
    assert 1.4 < motion.skeleton.stature() < 2.0
    # The armature stands where the camera saw her: about 3.2 m in front of it (-Z), upright.
    assert -3.8 < np.median(motion.translation[:, 2]) < -2.6
    joints = motion.joint_positions()
    assert (joints[:, 15, 1] > joints[:, [7, 8], 1].max(axis=1) + 1.0).all()       # head over the ankles


def test_placed_points_lie_on_the_image_rays_with_rigid_limbs(detection):
    placement = mono.place_detection(detection)
    camera = placement.points @ placement.rotation           # back from levelled to the camera's axes
    pixels = camera[..., :2] / camera[..., 2:] * placement.focal_px + placement.principal_point
    np.testing.assert_allclose(pixels, detection.image, atol=1e-6)
    lengths = mono.limb_lengths(placement.points)
    for parent, child in (("left_elbow", "left_wrist"), ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow")):
        i, j = detection.names.index(parent), detection.names.index(child)
        per_frame = np.linalg.norm(placement.points[:, j] - placement.points[:, i], axis=-1)
        reached = np.abs(per_frame - lengths[parent, child]) < 1e-9
        assert reached.mean() > 0.8, (parent, child)
        assert (per_frame[~reached] > lengths[parent, child]).all()    # the ray passes the sphere: its nearest point
    assert lengths["left_elbow", "left_wrist"] == lengths["right_elbow", "right_wrist"]
