"""Performer proportions measured from a mocap rig, and the reader dispatcher."""

from __future__ import annotations

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import BodyMeasurements, measure_skeleton, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.mocap.formats.bvh import write_bvh
from sparse_mocap_addon.core.mocap.formats.mocap import find_asf, read_mocap
from sparse_mocap_addon.core.mocap.rig_body import guess_metres_per_unit, rig_measurements, skeleton_from_rig
from sparse_mocap_addon.core.mocap.source import SourceFormatError, SourceMotion
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def performer():
    return skeleton_from_measurements(BodyMeasurements(height=1.62, sex="female", arm_length=0.50, leg_length=0.76))


def test_rig_in_centimetres_gives_back_the_performers_measurements(performer):
    walk = demo_motion(performer, seconds=1.0)
    source = SourceMotion.from_motion(walk)
    source.skeleton.offsets *= 100.0
    source.root_position = source.root_position * 100.0
    source.metres_per_unit = None
    measured, report = rig_measurements(source)
    assert report["units"] == "guessed: cm"
    truth = measure_skeleton(performer)
    assert measured.leg_length == pytest.approx(truth["leg_length"], rel=1e-9)
    assert measured.arm_length == pytest.approx(truth["arm_length"], rel=1e-9)
    assert measured.height == pytest.approx(1.62, rel=0.03)
    skeleton, _ = skeleton_from_rig(source)
    np.testing.assert_allclose(skeleton.bone_lengths()[[4, 5, 7, 8, 18, 19, 20, 21]],
                               performer.bone_lengths()[[4, 5, 7, 8, 18, 19, 20, 21]], rtol=1e-9)


def test_unit_guess():
    assert guess_metres_per_unit(86.0)[1] == "guessed: cm"
    assert guess_metres_per_unit(0.9)[1] == "guessed: m"
    assert guess_metres_per_unit(15.0)[1] == "guessed: CMU unit"
    mpu, how = guess_metres_per_unit(3.0)     # nothing adult-sized: scale the leg to 0.85 m
    assert how.startswith("normalised") and mpu * 3.0 == pytest.approx(0.85)


def test_read_mocap_dispatches_and_refuses_unknown_types(tmp_path):
    path = tmp_path / "walk.bvh"
    write_bvh(path, SourceMotion.from_motion(demo_motion(seconds=0.5)))
    assert read_mocap(path).num_frames == 30
    odd = tmp_path / "walk.c3d"
    odd.write_bytes(b"\0")
    with pytest.raises(SourceFormatError, match="walk.c3d: unknown mocap file type '.c3d'"):
        read_mocap(odd)
    with pytest.raises(SourceFormatError, match="no such file"):
        read_mocap(tmp_path / "absent.bvh")
    amc = tmp_path / "lonely.amc"
    amc.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\n")
    with pytest.raises(SourceFormatError, match="no ASF skeleton found"):
        read_mocap(amc)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"shared data folder {SHARED_DATA} is absent")
def test_hdm05_asf_is_found_in_the_skeletons_folder():
    amc = sorted((SHARED_DATA / "hdm05" / "test").glob("HDM_mm_*.amc.gz"))[0]
    assert find_asf(amc).name == "HDM_mm.asf.gz"


def test_the_performers_skeleton_has_an_anatomical_layout(performer):
    """The rig's limb lengths, the tables' trunk: where a rig puts its pelvis, hip and collar joints
    is a convention, so two rigs of one performer give one skeleton layout."""
    from sparse_mocap_addon.core.mocap.retarget import retarget, retarget_fidelity

    rig = skeleton_from_measurements(BodyMeasurements(height=1.85, sex="male", hip_width=0.30, shoulder_width=0.46))
    moved = rig.copy()
    moved.offsets[[1, 2], 1] *= 0.3             # hips closer below the pelvis than the tables put them
    skeletons = [skeleton_from_rig(SourceMotion.from_motion(demo_motion(s, seconds=2.0), "rig"))[0] for s in (rig, moved)]
    # The hips hang below the pelvis as the tables put them, not as the rig does.
    for skeleton in skeletons:
        table = skeleton_from_measurements(BodyMeasurements(height=skeleton.stature(), sex="neutral"))
        assert skeleton.offsets[1, 1] / skeleton.stature() == pytest.approx(table.offsets[1, 1] / table.stature(), abs=1e-3)
    source = SourceMotion.from_motion(demo_motion(moved, seconds=2.0), "wide rig")
    fidelity = retarget_fidelity(source, retarget(source, skeletons[1]))
    limbs = [i for i, bone in enumerate(fidelity["bones"]) if bone[2] == "limb"]
    assert fidelity["angles_deg"][:, limbs].max() < 1e-5


def test_one_body_from_several_takes_is_the_median_and_symmetric():
    """Three takes of one performer: each figure is the median over the takes, limbs within 3 % of
    each other on the two sides are made equal, a clearly longer limb keeps its length; the
    report's measurements are those of the skeleton's bones."""
    from sparse_mocap_addon.core.mocap.rig_body import measure_take, performer_body, performer_skeleton

    takes = []
    for height in (1.66, 1.70, 1.90):           # the third take is an outlier
        rig = skeleton_from_measurements(BodyMeasurements(height=height, sex="neutral"))
        takes.append(SourceMotion.from_motion(demo_motion(rig, seconds=0.5), f"take {height}"))
    bodies = [measure_take(t) for t in takes]
    skeleton, report = performer_body(bodies)
    middle, _ = skeleton_from_rig(takes[1])
    np.testing.assert_allclose(skeleton.offsets, middle.offsets, atol=1e-9)
    assert report["takes"] == 3 and report["measurements"]["height"] == pytest.approx(skeleton.stature())
    assert measure_skeleton(skeleton)["leg_length"] == pytest.approx(report["measurements"]["leg_length"])
    np.testing.assert_allclose(performer_skeleton(takes)[0].offsets, skeleton.offsets)

    # A shin 1 % longer on the left is pooled with the right one; 6 % longer stays longer.
    for stretch, symmetric in ((1.01, True), (1.06, False)):
        rig = skeleton_from_measurements(BodyMeasurements(height=1.70))
        rig.offsets[7] *= stretch                # left ankle: the left shin
        body = measure_take(SourceMotion.from_motion(demo_motion(rig, seconds=0.5)))
        skeleton, report = performer_body([body])
        lengths = skeleton.bone_lengths()
        assert (abs(lengths[7] - lengths[8]) < 1e-9) == symmetric
        assert ("ankle" in report["symmetric_limbs"]) == symmetric
