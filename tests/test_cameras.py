"""Calibration readers (Pose2Sim TOML, Anipose TOML, Qualisys .qca.txt), projection, undistortion."""

from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.landmarks.cameras import (CalibrationError, CameraSet, project, read_calibration,
                                                       rodrigues, undistort_points)
from sparse_mocap_addon.core.landmarks.formats import read_landmarks

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "landmarks_real" / "pose2sim"
QCA = DATA / "videos" / "Calib.qca.txt"
TRC = DATA / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc"
needs_data = pytest.mark.skipif(not (QCA.is_file() and TRC.is_file()),
                                reason=f"the shared Pose2Sim recording is absent ({DATA})")

# Two cameras written the way Pose2Sim's calibration step writes Calib.toml (toml_write).
POSE2SIM_TOML = """\
[cam_left]
name = "cam_left"
size = [ 1920.0, 1080.0]
matrix = [ [ 1500.0, 0.0, 960.0], [ 0.0, 1510.0, 540.0], [ 0.0, 0.0, 1.0]]
distortions = [ -0.05, 0.01, 0.001, -0.002]
rotation = [ 0.0, 0.0, 1.5707963267948966]
translation = [ 0.5, -0.25, 3.0]
fisheye = false

[cam_right]
name = "cam_right"
size = [ 1920.0, 1080.0]
matrix = [ [ 1400.0, 0.0, 950.0], [ 0.0, 1400.0, 530.0], [ 0.0, 0.0, 1.0]]
distortions = [ 0.0, 0.0, 0.0, 0.0]
rotation = [ 0.0, 0.0, 0.0]
translation = [ 0.0, 0.0, 4.0]
fisheye = false

[metadata]
adjusted = false
error = 0.0
"""

# The layout aniposelib's CameraGroup.dump writes (the `toml` package: trailing commas), millimetres.
ANIPOSE_TOML = """\
[cam_0]
name = "A"
size = [ 1280, 1024,]
matrix = [ [ 1000.0, 0.0, 640.0,], [ 0.0, 1000.0, 512.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.2, 0.05, 0.0, 0.0, 0.01,]
rotation = [ 0.1, -0.2, 0.3,]
translation = [ 100.0, -50.0, 2000.0,]

[cam_1]
name = "B"
size = [ 1280, 1024,]
matrix = [ [ 1100.0, 0.0, 630.0,], [ 0.0, 1100.0, 500.0,], [ 0.0, 0.0, 1.0,],]
distortions = [ -0.1, 0.0, 0.0, 0.0, 0.0,]
rotation = [ 0.0, 1.2, 0.0,]
translation = [ -300.0, 0.0, 2500.0,]

[metadata]
adjusted = true
error = 0.42
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rodrigues_matches_a_hand_made_rotation():
    quarter_turn_about_z = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(rodrigues(np.array([0.0, 0.0, np.pi / 2])), quarter_turn_about_z, atol=1e-12)
    np.testing.assert_allclose(rodrigues(np.zeros(3)), np.eye(3))


def test_pose2sim_toml_is_read_and_projects_by_hand(tmp_path):
    cams = read_calibration(_write(tmp_path, "Calib.toml", POSE2SIM_TOML))
    assert cams.names == ("cam_left", "cam_right")
    np.testing.assert_allclose(cams.sizes, [[1920, 1080], [1920, 1080]])
    np.testing.assert_allclose(cams.distortion[0], [-0.05, 0.01, 0.001, -0.002, 0.0])
    np.testing.assert_allclose(cams.t[0], [0.5, -0.25, 3.0])
    np.testing.assert_allclose(cams.centres[1], [0.0, 0.0, -4.0])
    # cam_right has no rotation and no distortion: the world point (0.2, -0.1, 0) is 4 m ahead.
    pixel = project(cams, np.array([[[0.2, -0.1, 0.0]]]))[0, 1, 0]
    np.testing.assert_allclose(pixel, [950.0 + 1400.0 * 0.2 / 4.0, 530.0 - 1400.0 * 0.1 / 4.0])
    # A point on cam_left's optical axis lands on its principal point whatever the distortion.
    on_axis = cams.centres[0] + cams.R[0].T @ np.array([0.0, 0.0, 2.0])
    np.testing.assert_allclose(project(cams, on_axis[None, None])[0, 0, 0], [960.0, 540.0], atol=1e-9)


def test_anipose_toml_in_millimetres(tmp_path):
    path = _write(tmp_path, "calibration.toml", ANIPOSE_TOML)
    cams = read_calibration(path, metres_per_unit=0.001)
    assert cams.names == ("A", "B")
    np.testing.assert_allclose(cams.t[0], [0.1, -0.05, 2.0])
    np.testing.assert_allclose(cams.distortion[0], [-0.2, 0.05, 0.0, 0.0, 0.01])
    np.testing.assert_allclose(cams.R[1], rodrigues(np.array([0.0, 1.2, 0.0])))
    for R in cams.R:
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)


def test_undistortion_inverts_the_distortion(tmp_path):
    cams = read_calibration(_write(tmp_path, "calibration.toml", ANIPOSE_TOML), metres_per_unit=0.001)
    rng = np.random.default_rng(3)
    points = rng.uniform([-0.6, -0.5, -0.3], [0.6, 0.5, 0.3], size=(4, 7, 3))
    pixels = project(cams, points)
    normalised = undistort_points(cams, pixels)
    cam = np.einsum("cij,tkj->tcki", cams.R, points) + cams.t[None, :, None]
    np.testing.assert_allclose(normalised, cam[..., :2] / cam[..., 2:], atol=1e-9)
    assert np.abs(cams.distortion).sum() > 0       # the test would pass trivially without distortion


@needs_data
def test_qualisys_file_conventions():
    cams = read_calibration(QCA)
    assert cams.names == ("cam01", "cam02", "cam03", "cam04")
    np.testing.assert_allclose(cams.sizes, [[1088, 1920]] * 4)
    # 1/64-pixel units: about 1680 px focal length, principal point near the image centre.
    assert np.all((cams.K[:, 0, 0] > 1600) & (cams.K[:, 0, 0] < 1750))
    assert np.all(np.abs(cams.K[:, :2, 2] - cams.sizes / 2) < 0.05 * cams.sizes)
    # Millimetres: the cameras stand 2-5 m from the origin and 1.5-2.5 m up (Z up).
    centres = cams.centres
    assert np.all((np.linalg.norm(centres[:, :2], axis=1) > 1.5) & (np.linalg.norm(centres[:, :2], axis=1) < 5))
    assert np.all((centres[:, 2] > 1.5) & (centres[:, 2] < 2.5))
    for R in cams.R:
        assert np.linalg.det(R) == pytest.approx(1.0)


@needs_data
def test_pose2sim_points_land_inside_every_image_on_every_frame():
    cams = read_calibration(QCA)
    seq = read_landmarks(TRC)
    world = seq.points[..., [2, 0, 1]]          # Pose2Sim's TRC is Y-up (its zup2yup): x, y, z = Y, Z, X
    assert np.isfinite(world).all()
    depth = (np.einsum("cij,tkj->tcki", cams.R, world) + cams.t[None, :, None])[..., 2]
    assert (depth > 1.0).all()                  # in front of every camera
    pixels = project(cams, world)
    assert np.isfinite(pixels).all()
    assert ((pixels >= 0) & (pixels < cams.sizes[None, :, None, :])).all()
    # The person fills a good part of each portrait frame, feet low and head high.
    head, ankle = seq.index("head_top"), seq.index("left_ankle")
    assert (pixels[:, :, head, 1] < pixels[:, :, ankle, 1] - 400).all()


def _malformed(tmp_path):
    good = POSE2SIM_TOML
    first_matrix = "matrix = [ [ 1500.0, 0.0, 960.0], [ 0.0, 1510.0, 540.0], [ 0.0, 0.0, 1.0]]\n"
    return {
        "no_matrix.toml": good.replace(first_matrix, ""),
        "fisheye.toml": good.replace("fisheye = false", "fisheye = true", 1),
        "short_matrix.toml": good.replace("[ 0.0, 0.0, 1.0]]\ndistortions = [ -0.05", "]\ndistortions = [ -0.05"),
        "bad_rotation.toml": good.replace("rotation = [ 0.0, 0.0, 1.5707963267948966]", "rotation = [ 0.0, 1.0]"),
        "text_translation.toml": good.replace("translation = [ 0.5, -0.25, 3.0]", 'translation = "far"'),
        "no_cameras.toml": "[metadata]\nerror = 0.0\n",
        "text_distortions.toml": good.replace("distortions = [ -0.05, 0.01, 0.001, -0.002]", 'distortions = ["a"]'),
        "broken.toml": "[cam_0\nname = 1\n",
        "broken.qca.txt": "<calibration><cameras><camera serial='c1'>",
        "empty.qca.txt": "<calibration><cameras/></calibration>",
        "no_intrinsic.qca.txt": ("<calibration><cameras><camera serial='c1'><fov_video left='0' top='0' right='9' "
                                 "bottom='9'/><transform x='0' y='0' z='0' r11='1' r12='0' r13='0' r21='0' r22='1' "
                                 "r23='0' r31='0' r32='0' r33='1'/></camera></cameras></calibration>"),
        "calib.yaml": "cam: 1\n",
    }


@pytest.mark.parametrize("name", list(_malformed(Path("."))))
def test_malformed_calibrations_are_refused_in_one_sentence(tmp_path, name):
    path = _write(tmp_path, name, _malformed(tmp_path)[name])
    with pytest.raises(CalibrationError) as error:
        read_calibration(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "\n" not in message and message.endswith(".")


@needs_data
def test_qualisys_with_a_non_number_is_refused(tmp_path):
    text = QCA.read_text().replace('focalLengthU="107599.671875"', 'focalLengthU="wide"')
    path = _write(tmp_path, "bad.qca.txt", text)
    with pytest.raises(CalibrationError, match="focalLengthU"):
        read_calibration(path)


@needs_data
def test_qualisys_rotated_view_is_refused(tmp_path):
    text = QCA.read_text().replace('serial="cam02" viewrotation="0"', 'serial="cam02" viewrotation="90"')
    path = _write(tmp_path, "rotated.qca.txt", text)
    with pytest.raises(CalibrationError, match="'cam02' has viewrotation 90"):
        read_calibration(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CalibrationError, match="no such calibration file"):
        read_calibration(tmp_path / "nothing.toml")


def test_subset_keeps_the_order_asked_for(tmp_path):
    cams = read_calibration(_write(tmp_path, "Calib.toml", POSE2SIM_TOML))
    picked = cams.subset(["cam_right", "cam_left"])
    assert isinstance(picked, CameraSet) and picked.names == ("cam_right", "cam_left")
    np.testing.assert_allclose(picked.K[0], cams.K[1])
