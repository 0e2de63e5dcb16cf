"""Body measurements -> personalised SMPL-24 skeleton (numpy only, no bpy)."""

import itertools
import json
import math

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import (
    DE_LEVA_1996_TABLE1_MM,
    HIP_JOINTS_PER_BITROCHANTERIC,
    SEXES,
    SHOULDER_JOINTS_PER_BIACROMIAL,
    WINTER_DRILLIS_CONTINI,
    BodyMeasurements,
    MeasurementError,
    default_measurements,
    measure_skeleton,
    skeleton_from_measurements,
)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX, LEAVES, MIRROR, NUM_JOINTS, PARENTS, Skeleton

J = JOINT_INDEX
HEIGHTS = (0.55, 1.0, 1.5, 1.62, 1.75, 1.9, 2.1, 2.45)
ARM_RATIOS = (0.23, 0.31, 0.41)
LEG_RATIOS = (0.36, 0.49, 0.59)


def _grid():
    for sex, h, ar, lr in itertools.product(SEXES, HEIGHTS, ARM_RATIOS, LEG_RATIOS):
        yield BodyMeasurements(height=h, arm_length=ar * h, leg_length=lr * h, sex=sex)


# --- reproduction of the inputs ------------------------------------------------------------------

def test_grid_reproduces_height_arm_and_leg():
    for m in _grid():
        sk = skeleton_from_measurements(m)
        assert isinstance(sk, Skeleton)
        assert np.all(np.isfinite(sk.offsets))
        got = measure_skeleton(sk)
        assert abs(sk.stature() - m.height) <= 0.01 * m.height, m
        assert abs(got["height"] - m.height) < 1e-9, m          # exact in practice
        assert abs(got["arm_length"] - m.arm_length) < 1e-3, m
        assert abs(got["leg_length"] - m.leg_length) < 1e-3, m


@pytest.mark.parametrize("sex", SEXES)
def test_table_defaults_fill_missing_fields(sex):
    m = BodyMeasurements(height=1.68, sex=sex)
    got = measure_skeleton(skeleton_from_measurements(m))
    full = default_measurements(sex, 1.68)
    for key in ("height", "arm_length", "leg_length", "shoulder_width", "hip_width"):
        assert got[key] == pytest.approx(getattr(full, key), abs=1e-9), key


def test_default_measurements_follow_the_tables():
    male = DE_LEVA_1996_TABLE1_MM["male"]
    female = DE_LEVA_1996_TABLE1_MM["female"]
    m = default_measurements("male", 1.741)
    assert m.arm_length == pytest.approx((male["upper_arm"] + male["forearm"]) / 1000.0)
    assert m.leg_length == pytest.approx((male["thigh"] + male["shank"]) / 1000.0)
    f = default_measurements("female", 1.735)
    assert f.arm_length == pytest.approx((female["upper_arm"] + female["forearm"]) / 1000.0)
    n = default_measurements("neutral", 2.0)
    mm, ff = default_measurements("male", 2.0), default_measurements("female", 2.0)
    assert n.leg_length == pytest.approx(0.5 * (mm.leg_length + ff.leg_length))
    assert n.shoulder_width == pytest.approx(WINTER_DRILLIS_CONTINI["biacromial"] * 2.0)
    assert n.hip_width == pytest.approx(WINTER_DRILLIS_CONTINI["bitrochanteric"] * 2.0)
    assert n.sex == "neutral"
    assert mm.arm_length != ff.arm_length
    # Default argument values.
    assert default_measurements().height == 1.75


@pytest.mark.parametrize("sex", SEXES)
def test_optional_widths_are_reproduced(sex):
    for h in (1.2, 1.75, 2.2):
        for sw_ratio, hw_ratio in ((0.16, 0.13), (0.25, 0.2), (0.34, 0.29)):
            m = BodyMeasurements(height=h, sex=sex, shoulder_width=sw_ratio * h, hip_width=hw_ratio * h)
            sk = skeleton_from_measurements(m)
            got = measure_skeleton(sk)
            assert got["shoulder_width"] == pytest.approx(m.shoulder_width, abs=1e-9)
            assert got["hip_width"] == pytest.approx(m.hip_width, abs=1e-9)
            rest = sk.rest_positions()
            sep = rest[J["left_shoulder"], 0] - rest[J["right_shoulder"], 0]
            assert sep == pytest.approx(SHOULDER_JOINTS_PER_BIACROMIAL * m.shoulder_width)
            sep = rest[J["left_hip"], 0] - rest[J["right_hip"], 0]
            assert sep == pytest.approx(HIP_JOINTS_PER_BITROCHANTERIC * m.hip_width)
            assert got["height"] == pytest.approx(h)


def test_plausible_proportions_for_a_default_adult():
    sk = skeleton_from_measurements(default_measurements("neutral", 1.75))
    rest = sk.rest_positions()
    assert 0.85 < rest[J["left_hip"], 1] < 1.0                      # hip joints ~0.53 H
    assert 1.35 < rest[J["left_shoulder"], 1] < 1.47                 # shoulder joints ~0.80 H
    assert 0.30 < rest[J["left_shoulder"], 0] - rest[J["right_shoulder"], 0] < 0.42
    assert 0.12 < rest[J["left_hip"], 0] - rest[J["right_hip"], 0] < 0.22
    assert sk.sole_height == pytest.approx(WINTER_DRILLIS_CONTINI["ankle_height"] * 1.75)


# --- rest pose layout ----------------------------------------------------------------------------

@pytest.mark.parametrize("sex", SEXES)
def test_t_pose_layout(sex):
    sk = skeleton_from_measurements(BodyMeasurements(1.8, arm_length=0.6, leg_length=0.85, sex=sex))
    off, rest = sk.offsets, sk.rest_positions()
    # Soles on the floor, body centred.
    for side in ("left", "right"):
        assert rest[J[f"{side}_ankle"], 1] - sk.sole_height == pytest.approx(0.0, abs=1e-12)
        # Legs straight down.
        for joint in ("knee", "ankle"):
            o = off[J[f"{side}_{joint}"]]
            assert o[0] == 0.0 and o[2] == 0.0 and o[1] < 0.0
        # Arms straight out: +X on the left, -X on the right.
        sign = 1.0 if side == "left" else -1.0
        for joint in ("elbow", "wrist", "hand"):
            o = off[J[f"{side}_{joint}"]]
            assert sign * o[0] > 0.0 and o[1] == 0.0 and o[2] == 0.0
        tip = sk.leaf_tips[J[f"{side}_hand"]]
        assert sign * tip[0] > 0.0 and tip[1] == 0.0 and tip[2] == 0.0
        # Foot joint (ball of the foot) forward and down, toe tip forward, not below the floor.
        foot = off[J[f"{side}_foot"]]
        assert foot[2] > 0.0 and foot[1] < 0.0
        toe = sk.leaf_tips[J[f"{side}_foot"]]
        assert toe[2] > 0.0
        assert rest[J[f"{side}_foot"], 1] + toe[1] >= -1e-12
        assert rest[J[f"{side}_foot"], 1] > 0.0
        # Collar between spine3 and the shoulder.
        collar, shoulder = rest[J[f"{side}_collar"]], rest[J[f"{side}_shoulder"]]
        assert 0.0 < sign * collar[0] < sign * shoulder[0]
        assert rest[J["spine3"], 1] < collar[1] <= shoulder[1] < rest[J["neck"], 1]
    # Spine chain vertical and rising, head above neck, head tip up.
    for name in ("spine1", "spine2", "spine3", "neck", "head"):
        o = off[J[name]]
        assert o[0] == 0.0 and o[1] > 0.0
    assert sk.leaf_tips[J["head"]][1] > 0.0
    assert set(sk.leaf_tips) == set(LEAVES)
    assert sk.stature() == pytest.approx(1.8)


@pytest.mark.parametrize("sex", SEXES)
def test_left_right_symmetry(sex):
    sk = skeleton_from_measurements(default_measurements(sex, 1.66))
    flip = np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(sk.offsets[MIRROR] * flip, sk.offsets, atol=1e-12)
    rest = sk.rest_positions()
    np.testing.assert_allclose(rest[MIRROR] * flip, rest, atol=1e-12)
    for j, tip in sk.leaf_tips.items():
        np.testing.assert_allclose(sk.leaf_tips[int(MIRROR[j])] * flip, tip, atol=1e-12)


def test_bone_lengths_positive_and_parents_consistent():
    sk = skeleton_from_measurements(default_measurements())
    lengths = sk.bone_lengths()
    assert lengths[0] == 0.0
    assert np.all(lengths[1:] > 0.005)
    assert len(PARENTS) == NUM_JOINTS


def test_taller_people_get_longer_bones():
    short = skeleton_from_measurements(default_measurements("female", 1.5))
    tall = skeleton_from_measurements(default_measurements("female", 2.0))
    assert np.all(tall.bone_lengths()[1:] > short.bone_lengths()[1:])
    np.testing.assert_allclose(tall.offsets, short.offsets * 2.0 / 1.5, atol=1e-12)


def test_case_insensitive_sex_and_dict_is_json():
    a = skeleton_from_measurements(BodyMeasurements(1.7, sex="Female"))
    b = skeleton_from_measurements(BodyMeasurements(1.7, sex="female"))
    np.testing.assert_array_equal(a.offsets, b.offsets)
    json.dumps(default_measurements("male").as_dict())


def test_validate_returns_self_for_valid_input():
    m = BodyMeasurements(1.75, arm_length=0.55, leg_length=0.86, sex="male", shoulder_width=0.4, hip_width=0.33)
    assert m.validate() is m
    # numpy numbers and ints are numbers too
    BodyMeasurements(np.float64(1.75), arm_length=np.float32(0.55)).validate()
    BodyMeasurements(2).validate()


# --- refusals ------------------------------------------------------------------------------------

def _refused(m: BodyMeasurements) -> str:
    with pytest.raises(MeasurementError) as info:
        skeleton_from_measurements(m)
    with pytest.raises(ValueError):  # MeasurementError is a ValueError
        m.validate()
    msg = str(info.value)
    assert "\n" not in msg and msg.count(". ") == 0, msg   # one sentence
    return msg


BAD_VALUES = (float("nan"), float("inf"), -float("inf"), -0.5, 0.0, "abc", True, [1.0])


@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_bad_height_refused_naming_field_and_range(bad):
    msg = _refused(BodyMeasurements(height=bad))
    assert msg.startswith("height ")
    assert "0.50 to 2.50 m" in msg


@pytest.mark.parametrize("height", (0.49, 0.1, 2.51, 3.0, 17.5))
def test_out_of_range_height_refused(height):
    msg = _refused(BodyMeasurements(height=height))
    assert msg.startswith("height ") and "0.50 to 2.50 m" in msg and "implausible" in msg


def test_none_height_refused():
    msg = _refused(BodyMeasurements(height=None))
    assert msg.startswith("height ") and "0.50 to 2.50 m" in msg


RANGES_AT_175 = {
    "arm_length": ("0.39 to 0.73 m", "0.22 to 0.42 x height"),
    "leg_length": ("0.61 to 1.05 m", "0.35 to 0.60 x height"),
    "shoulder_width": ("0.26 to 0.61 m", "0.15 to 0.35 x height"),
    "hip_width": ("0.21 to 0.53 m", "0.12 to 0.30 x height"),
}
RATIOS = {"arm_length": (0.22, 0.42), "leg_length": (0.35, 0.60), "shoulder_width": (0.15, 0.35),
          "hip_width": (0.12, 0.30)}


@pytest.mark.parametrize("field", sorted(RANGES_AT_175))
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_bad_optional_field_refused_naming_field_and_range(field, bad):
    msg = _refused(BodyMeasurements(height=1.75, **{field: bad}))
    assert msg.startswith(field + " ")
    metres, ratio = RANGES_AT_175[field]
    assert metres in msg and ratio in msg


@pytest.mark.parametrize("field", sorted(RANGES_AT_175))
@pytest.mark.parametrize("side", ("low", "high"))
def test_out_of_range_optional_field_refused(field, side):
    lo, hi = RATIOS[field]
    value = 1.75 * (lo * 0.97 if side == "low" else hi * 1.03)
    msg = _refused(BodyMeasurements(height=1.75, **{field: value}))
    metres, ratio = RANGES_AT_175[field]
    assert msg.startswith(f"{field} {value:.2f} m is implausible for a height of 1.75 m")
    assert metres in msg and ratio in msg
    # The limits themselves are accepted.
    for ok in (lo * 1.75 * 1.0001, hi * 1.75 * 0.9999):
        BodyMeasurements(height=1.75, **{field: ok}).validate()


def test_example_message_from_the_spec():
    msg = _refused(BodyMeasurements(height=1.75, leg_length=1.30))
    assert msg == ("leg_length 1.30 m is implausible for a height of 1.75 m: "
                   "expected 0.61 to 1.05 m (0.35 to 0.60 x height)")


@pytest.mark.parametrize("sex", ("", "man", "m", "other", None, 1))
def test_unknown_sex_refused_listing_choices(sex):
    msg = _refused(BodyMeasurements(height=1.75, sex=sex))
    assert msg.startswith("sex ")
    assert "male, female, neutral" in msg
    with pytest.raises(MeasurementError):
        default_measurements(sex=sex)


def test_default_measurements_refuses_bad_height():
    with pytest.raises(MeasurementError, match="height"):
        default_measurements(height=math.nan)
    with pytest.raises(MeasurementError, match="0.50 to 2.50 m"):
        default_measurements(height=3.0)
