"""Robust triangulation on synthetic cameras, and the TRC writer read back by the TRC reader."""

import numpy as np
import pytest

from sparse_mocap_addon.core.landmarks.cameras import CameraSet, project, rodrigues
from sparse_mocap_addon.core.landmarks.formats import read_landmarks
from sparse_mocap_addon.core.landmarks.sequence import LAYOUTS, LandmarkError, LandmarkSequence
from sparse_mocap_addon.core.landmarks.trc_writer import write_trc
from sparse_mocap_addon.core.landmarks.triangulation import temporal_median, triangulate, weighted_dlt


def _look_at(centre, target=(0.0, 0.0, 1.0)):
    """World -> camera rotation of a camera at ``centre`` looking at ``target`` (Z up, image y down)."""
    forward = np.asarray(target, float) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack((right, down, forward))


def _ring(azimuths_deg, radius=3.5, height=1.8, distortion=(-0.05, 0.02, 0.001, -0.001, 0.0)):
    """Cameras on a circle around the origin, all looking at a point 1 m up."""
    centres = [np.array([radius * np.cos(np.radians(a)), radius * np.sin(np.radians(a)), height])
               for a in azimuths_deg]
    R = np.stack([_look_at(c) for c in centres])
    t = -np.einsum("nij,nj->ni", R, np.stack(centres))
    n = len(centres)
    K = np.tile(np.array([[1400.0, 0.0, 540.0], [0.0, 1400.0, 960.0], [0.0, 0.0, 1.0]]), (n, 1, 1))
    return CameraSet(tuple(f"cam{i}" for i in range(n)), K, np.tile(distortion, (n, 1)), R, t,
                     np.tile([1080.0, 1920.0], (n, 1)))


def _body(frames=12, joints=9, seed=0):
    """Points (T, J, 3) in a person-sized box around the origin, moving smoothly."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([-0.3, -0.3, 0.1], [0.3, 0.3, 1.8], size=(1, joints, 3))
    drift = np.linspace(0.0, 0.2, frames)[:, None, None] * np.array([1.0, 0.5, 0.0])
    return base + drift


def test_noise_free_projections_are_triangulated_exactly():
    cams, truth = _ring([0, 80, 170, 260]), _body()
    found = triangulate(cams, project(cams, truth))
    assert found.valid.all()
    assert np.abs(found.points - truth).max() < 1e-4              # < 0.1 mm
    assert (found.inlier_count == 4).all() and np.nanmax(found.error_px) < 1e-6


def test_weighted_dlt_follows_the_confident_camera():
    cams, truth = _ring([0, 90]), _body(frames=1, joints=1)
    from sparse_mocap_addon.core.landmarks.cameras import undistort_points
    observed = undistort_points(cams, project(cams, truth))[0, :, 0]          # (C, 2)
    observed[1] += 0.01                                                        # camera 1 is off
    projections = np.concatenate((cams.R, cams.t[:, :, None]), axis=2)
    trusting_0 = weighted_dlt(projections, observed, np.array([1.0, 0.05]))
    trusting_1 = weighted_dlt(projections, observed, np.array([0.05, 1.0]))
    pixel_0 = project(cams, trusting_0[None, None])[0, 0, 0]
    assert np.linalg.norm(pixel_0 - project(cams, truth)[0, 0, 0]) < np.linalg.norm(
        project(cams, trusting_1[None, None])[0, 0, 0] - project(cams, truth)[0, 0, 0])


def test_one_camera_with_outliers_is_voted_out():
    cams, truth = _ring([0, 80, 170, 260]), _body()
    pixels = project(cams, truth)
    pixels[:, 2] += np.array([120.0, -90.0])                      # camera 2 is wrong on every point
    found = triangulate(cams, pixels, threshold_px=15.0)
    assert found.valid.all()
    assert np.abs(found.points - truth).max() < 1e-4
    assert not found.inliers[:, 2].any() and found.inliers[:, [0, 1, 3]].all()
    # Plain weighted DLT over all four cameras would have been pulled off by the bad camera.
    from sparse_mocap_addon.core.landmarks.cameras import undistort_points
    projections = np.concatenate((cams.R, cams.t[:, :, None]), axis=2)
    naive = weighted_dlt(projections, np.moveaxis(undistort_points(cams, pixels), 1, 2), np.ones((12, 9, 4)))
    assert np.linalg.norm(naive - truth, axis=-1).mean() > 0.01


def test_points_seen_by_fewer_than_two_cameras_are_nan():
    cams, truth = _ring([0, 80, 170, 260]), _body()
    pixels = project(cams, truth)
    confidence = np.ones(pixels.shape[:3])
    confidence[:, 1:, 0] = 0.0                                     # point 0: camera 0 only
    pixels[:, :3, 1] = np.nan                                      # point 1: camera 3 only
    found = triangulate(cams, pixels, confidence)
    assert not found.valid[:, :2].any() and np.isnan(found.points[:, :2]).all()
    assert np.isnan(found.error_px[:, :2]).all() and (found.inlier_count[:, :2] == 0).all()
    assert found.valid[:, 2:].all()


def test_two_cameras_that_disagree_are_rejected():
    cams, truth = _ring([0, 90]), _body()
    pixels = project(cams, truth)
    pixels[:, 1, 3, 1] += 60.0                                     # off its epipolar line in camera 1
    found = triangulate(cams, pixels, threshold_px=10.0)
    assert not found.valid[:, 3].any()
    assert found.valid[:, [0, 1, 2, 4]].all()


def test_cameras_facing_each_other_cannot_fix_depth():
    # Points near the line through two facing cameras: their rays are within 10 degrees of opposite.
    cams = _ring([0, 178])
    truth = np.stack([np.linspace(-0.3, 0.3, 5), np.full(5, 0.05), np.full(5, 1.75)], axis=-1)[None].repeat(4, 0)
    found = triangulate(cams, project(cams, truth), min_angle_deg=10.0)
    assert not found.valid.any()
    assert triangulate(cams, project(cams, truth), min_angle_deg=0.0).valid.all()
    wide = _ring([0, 120])
    assert triangulate(wide, project(wide, truth)).valid.all()


def test_temporal_pass_picks_the_candidate_that_fits_the_motion():
    # Frame 6: cameras 0 and 1 agree on a point 0.8 m away (a wrong limb in two views), cameras 2
    # and 3 on the true one; each pair reprojects perfectly, so only the motion can tell.
    cams, truth = _ring([0, 70, 180, 250]), _body(frames=15)
    pixels = project(cams, truth)
    wrong = truth + np.array([0.0, 0.0, -0.8])
    pixels[6, :2] = project(cams, wrong)[6, :2]
    found = triangulate(cams, pixels, threshold_px=10.0)
    assert np.abs(found.points[6] - truth[6]).max() < 1e-4
    assert not found.inliers[6, :2].any()
    blind = triangulate(cams, pixels, threshold_px=10.0, temporal_window=0)
    assert blind.valid[6].all()                                   # without it a coin toss; 2 vs 2 inliers
    assert (np.abs(blind.points[6] - truth[6]).max(axis=-1) > 0.5).any()


def test_temporal_median_ignores_missing_frames():
    points = np.arange(10.0)[:, None, None] * np.ones((1, 1, 3))
    points[4] = np.nan
    median = temporal_median(points, 1)
    assert median[4, 0, 0] == pytest.approx(4.0) and median[0, 0, 0] == pytest.approx(0.5)


def test_noisy_pixels_give_millimetre_errors():
    cams, truth = _ring([0, 80, 170, 260]), _body(frames=30)
    rng = np.random.default_rng(7)
    pixels = project(cams, truth) + rng.normal(0.0, 1.0, size=(30, 4, 9, 2))
    found = triangulate(cams, pixels)
    assert found.valid.mean() > 0.99
    assert np.nanmean(np.linalg.norm(found.points - truth, axis=-1)) < 0.004


@pytest.mark.parametrize("kwargs", [dict(threshold_px=0.0), dict(min_angle_deg=95.0), dict(temporal_window=-1)])
def test_bad_options_are_refused(kwargs):
    cams, truth = _ring([0, 90]), _body()
    with pytest.raises(ValueError):
        triangulate(cams, project(cams, truth), **kwargs)


def test_bad_shapes_are_refused():
    cams = _ring([0, 90])
    with pytest.raises(ValueError, match="2 cameras"):
        triangulate(cams, np.zeros((3, 3, 5, 2)))
    with pytest.raises(ValueError, match="confidence"):
        triangulate(cams, np.zeros((3, 2, 5, 2)), np.ones((3, 2)))


def test_rotations_of_the_ring_are_proper():
    cams = _ring([0, 80, 170, 260])
    for R in cams.R:
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(rodrigues(np.zeros(3)), np.eye(3))


# --- TRC writer ----------------------------------------------------------------------------------

def _sequence(frames=20):
    names = LAYOUTS["mediapipe33"]
    rng = np.random.default_rng(1)
    body = _body(frames=frames, joints=len(names), seed=2)
    body[..., 2] = np.linspace(0.05, 1.75, len(names))[None]       # feet low, head high (Z up)
    points = body[..., [0, 2, 1]] + rng.normal(0, 0.001, body.shape)   # Y up
    confidence = np.full((frames, len(names)), 0.9)
    points[3, 5] = np.nan
    confidence[4, 7] = 0.0
    return LandmarkSequence(names=names, points=points, confidence=confidence, fps=60.0, layout="mediapipe33")


@pytest.mark.parametrize("units", ["m", "mm"])
def test_trc_round_trip(tmp_path, units):
    seq = _sequence()
    path = write_trc(tmp_path / "take.trc", seq, units=units)
    back = read_landmarks(path)
    assert back.names == seq.names and back.fps == 60.0 and back.num_frames == 20
    expected = seq.points.copy()
    expected[4, 7] = np.nan                                          # confidence 0: written empty
    np.testing.assert_allclose(back.points, expected, atol=2e-6)
    assert np.isnan(back.points[3, 5]).all() and np.isnan(back.points[4, 7]).all()
    assert back.metadata["first_frame"] == 1


def test_trc_writer_refuses_bad_names_and_leaves_the_old_file(tmp_path):
    path = tmp_path / "take.trc"
    path.write_text("old")
    seq = _sequence()
    bad = LandmarkSequence(names=("left hip",) + seq.names[1:], points=seq.points, confidence=seq.confidence, fps=60.0)
    with pytest.raises(LandmarkError, match="spaces"):
        write_trc(path, bad)
    with pytest.raises(LandmarkError, match="units"):
        write_trc(path, seq, units="inch")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["take.trc"]
