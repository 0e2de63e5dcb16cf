"""The feet stage (core/feet/stage.py) and the feet metrics (core/feet/metrics.py): a motion moved onto
bodies from 1.40 to 2.10 m keeps its contact feet planted and on the floor and never goes under it
(issue 15's targets: 1 cm, 1 cm, 2 cm/s), on a synthetic walk and on real takes of the shared data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.demo import demo_motion
from sparse_mocap_addon.core.feet.stage import (FeetOptions, feet_metrics, feet_on_floor, feet_summary,
                                                motion_contacts, pelvis_height, sole_points)
from sparse_mocap_addon.core.feet.metrics import (foot_below_floor_max_cm, foot_float_in_contact_max_cm,
                                                  foot_skate_cm_per_s)
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_INDEX

from .conftest import SHARED_DATA

BODIES_M = (1.40, 1.50, 1.64, 1.80, 2.00, 2.10)
TARGETS = {"foot_below_floor_max_cm": 1.0, "foot_float_in_contact_max_cm": 1.0, "foot_skate_cm_per_s": 2.0}
LEGS = [JOINT_INDEX[f"{side}_{part}"] for side in ("left", "right") for part in ("hip", "knee", "ankle")]
ANKLES = [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]


def _body(height, sex="neutral"):
    return skeleton_from_measurements(default_measurements(sex, height))


@pytest.fixture(scope="module")
def walk():
    return demo_motion(_body(1.75), seconds=4.0)


def _meets_targets(metrics: dict, label: str) -> None:
    for key, limit in TARGETS.items():
        assert metrics[key] <= limit, f"{label}: {key} {metrics[key]:.2f} > {limit}"


def _max_acceleration(motion, joints=ANKLES) -> float:
    positions = motion.joint_positions()[:, joints]
    return float(np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1).max() * motion.fps ** 2)


# --- metrics ---------------------------------------------------------------------------------------

def test_metrics_on_hand_made_sole_tracks():
    fps = 50.0
    soles = np.zeros((100, 2, 3, 3))
    soles[..., 1] = 0.10                                   # every point 10 cm up ...
    soles[20:60, 0, :, 1] = 0.004                          # ... the left foot down for 40 frames
    soles[20:60, 0, 1, 1] = 0.0                            # (its ball exactly on the floor)
    soles[30, 0, 1, 1] = 0.03                              # one frame mid-contact the whole foot floats 3 cm
    soles[30, 0, [0, 2], 1] = 0.05
    soles[70, 1, 2, 1] = -0.025                            # the right toe tip dips 2.5 cm under the floor
    soles[20:60, 0, :, 0] = np.linspace(0.0, 0.39, 40)[:, None]   # and the planted foot slides 1 cm per frame
    contact = np.zeros((100, 2, 3), dtype=bool)
    contact[20:60, 0] = True
    assert foot_below_floor_max_cm(soles) == pytest.approx(2.5)
    assert foot_float_in_contact_max_cm(soles, contact, fps) == pytest.approx(3.0)
    # The first and last 0.05 s (here 2 frames... rounded 2.5 -> 2) of a contact are not floats.
    soles[21, 0, :, 1] = 0.04
    assert foot_float_in_contact_max_cm(soles, contact, fps) == pytest.approx(3.0)
    assert foot_skate_cm_per_s(soles, contact, fps) == pytest.approx(50.0)
    assert np.isnan(foot_skate_cm_per_s(soles, np.zeros_like(contact), fps))
    assert np.isnan(foot_float_in_contact_max_cm(soles, np.zeros_like(contact), fps))
    with pytest.raises(ValueError, match=r"\(T, feet, points\)"):
        foot_skate_cm_per_s(soles, contact[:, :, 0], fps)


# --- the stage on a synthetic walk ------------------------------------------------------------------

def test_off_gives_the_raw_motion_and_on_the_same_body_changes_only_the_legs_and_root(walk):
    raw, report = feet_on_floor(walk, options=FeetOptions(enabled=False))
    assert np.allclose(raw.rotations, walk.rotations, atol=1e-12) and np.array_equal(raw.translation, walk.translation)
    assert report["enabled"] is False and feet_summary(report) == "feet left raw"
    out, report = feet_on_floor(walk, options=FeetOptions(floor="zero"))
    others = [j for j in range(24) if j not in LEGS]
    assert np.allclose(out.rotations[:, others], walk.rotations[:, others], atol=1e-12)
    assert np.abs(out.translation[:, [0, 2]] - walk.translation[:, [0, 2]]).max() < 1e-12
    assert report["contact_runs"] >= 4 and report["root_scale"] == 1.0 and not report["moved_onto_body"]
    assert out.metadata["feet"]["contact_runs"] == report["contact_runs"]


def test_a_still_pose_standing_on_the_floor_comes_back_unchanged():
    body = _body(1.70)
    frames = 120
    rest = body.rest_positions()
    still = Motion(60.0, np.tile([1.0, 0.0, 0.0, 0.0], (frames, 24, 1)), np.tile(rest[0], (frames, 1)), body)
    out, report = feet_on_floor(still, options=FeetOptions(floor="zero"))
    assert report["contact_fraction"] == [1.0, 1.0]
    assert np.abs(out.rotations - still.rotations).max() < 1e-9
    assert np.abs(out.translation - still.translation).max() < 1e-9


@pytest.mark.parametrize("height", BODIES_M)
def test_a_walk_moved_onto_another_body_stands_walks_and_stays_on_the_floor(walk, height):
    contact = motion_contacts(walk)
    body = _body(height, "female" if height < 1.7 else "male")
    raw, _ = feet_on_floor(walk, body, FeetOptions(enabled=False))
    out, report = feet_on_floor(walk, body, FeetOptions(floor="zero"))
    assert np.allclose(out.skeleton.offsets, body.offsets) and raw.skeleton is not walk.skeleton
    scale = pelvis_height(body) / pelvis_height(walk.skeleton)
    assert report["moved_onto_body"] and report["root_scale"] == pytest.approx(scale)
    # Raw: rotations and root path as they are; planted: the path scaled (about the first frame).
    assert np.allclose(raw.rotations, walk.rotations, atol=1e-12)
    assert np.array_equal(raw.translation, walk.translation)
    travel = walk.translation[-1] - walk.translation[0]
    assert np.allclose(out.translation[-1, [0, 2]] - out.translation[0, [0, 2]], scale * travel[[0, 2]], atol=0.01)
    assert feet_summary(feet_on_floor(walk, body, FeetOptions(enabled=False))[1]).startswith(
        "feet left raw: the root path of a 1.75 m body kept on a")
    _meets_targets(feet_metrics(out, contact), f"walk on a {height} m body")
    # Nothing pops: the ankles accelerate no harder than the walk's own (within a little).
    assert _max_acceleration(out) < 1.5 * _max_acceleration(raw) + 5.0
    summary = feet_summary(report)
    assert summary.startswith("feet on the floor: moved onto a") and f"x{scale:.2f}" in summary


def test_a_floating_or_sunk_motion_is_put_on_the_floor(walk):
    contact = motion_contacts(walk)
    for lift in (0.12, -0.05):
        shifted = Motion(walk.fps, walk.rotations, walk.translation + [0.0, lift, 0.0], walk.skeleton)
        out, report = feet_on_floor(shifted)                          # floor estimated
        assert report["ground_shift_m"] == pytest.approx(-lift, abs=0.01)
        _meets_targets(feet_metrics(out, contact), f"walk shifted by {lift} m")
    # With the floor given, a sunk motion is lifted by the body shift and the legs, not regrounded.
    sunk = Motion(walk.fps, walk.rotations, walk.translation - [0.0, 0.03, 0.0], walk.skeleton)
    out, report = feet_on_floor(sunk, options=FeetOptions(floor="zero"))
    assert report["ground_shift_m"] == 0.0 and report["frames_lifted"] > 0
    assert report["worst_depth_before_cm"] == pytest.approx(3.0, abs=0.05)
    assert report["worst_depth_after_cm"] < 0.1
    assert "lifted out of the floor (up to 3.0 cm)" in feet_summary(report)


def test_root_noise_skating_is_pinned_away(walk):
    contact = motion_contacts(walk)
    noise = np.random.default_rng(5).normal(scale=0.004, size=walk.translation.shape) * [1, 0, 1]
    noisy = Motion(walk.fps, walk.rotations, walk.translation + noise, walk.skeleton)
    before = feet_metrics(noisy, contact)["foot_skate_cm_per_s"]
    out, _ = feet_on_floor(noisy, options=FeetOptions(floor="zero"))
    after = feet_metrics(out, contact)["foot_skate_cm_per_s"]
    assert after < 0.25 * before
    unpinned, report = feet_on_floor(noisy, options=FeetOptions(floor="zero", pin=False))
    assert feet_metrics(unpinned, contact)["foot_skate_cm_per_s"] > 2 * after and not report["pinned"]


def test_given_contacts_are_added_to_those_found(walk):
    _, report_auto = feet_on_floor(walk)
    blind = FeetOptions(speed_threshold=1e-9)                     # low and slow finds nothing
    out_none, report_none = feet_on_floor(walk, options=replace(blind, body_shift=False))
    assert report_none["contact_fraction"] == [0.0, 0.0] and report_none["contact_runs"] == 0
    # Without contacts nothing is pinned: only soles under the floor would be lifted (none here).
    assert np.abs(out_none.translation - walk.translation).max() < 1e-9
    # A network's per-foot probabilities (above 0.5 counts) give them back.
    probability = motion_contacts(walk).any(axis=2).astype(float) * 0.9
    _, report = feet_on_floor(walk, options=blind, contact=probability)
    assert report["contact_runs"] == report_auto["contact_runs"]
    assert report["contact_fraction"] == pytest.approx(report_auto["contact_fraction"], abs=0.02)
    with pytest.raises(ValueError, match=r"\(T, 2\) per foot"):
        feet_on_floor(walk, contact=np.zeros((10, 2), dtype=bool))


def test_editable_frames_alone_change_and_join_the_rest(walk):
    sunk = Motion(walk.fps, walk.rotations, walk.translation - [0.0, 0.04, 0.0], walk.skeleton)
    editable = np.zeros(walk.num_frames, dtype=bool)
    editable[80:160] = True
    out, report = feet_on_floor(sunk, options=FeetOptions(floor="zero"), editable=editable)
    assert report["edited_frames"] == 80
    assert np.allclose(out.rotations[~editable], sunk.rotations[~editable], atol=1e-12)
    assert np.array_equal(out.translation[~editable], sunk.translation[~editable])
    soles = sole_points(out)[..., 1].min(axis=(1, 2))
    assert soles[95:145].min() > -0.002 and soles[:70].min() < -0.03
    step = np.linalg.norm(np.diff(out.joint_positions(), axis=0), axis=-1).max() * walk.fps
    assert step < 1.2 * np.linalg.norm(np.diff(walk.joint_positions(), axis=0), axis=-1).max() * walk.fps
    with pytest.raises(ValueError, match="own body"):
        feet_on_floor(walk, _body(1.5), editable=editable)


def test_options_are_checked():
    with pytest.raises(ValueError, match="floor must be one of"):
        FeetOptions(floor="ceiling").validate()
    with pytest.raises(ValueError, match="height_threshold"):
        FeetOptions(height_threshold=0.0).validate()
    assert feet_summary(None) == ""


# --- real takes from the shared data ------------------------------------------------------------------

REAL_TAKES = ("131_01", "62_07", "005_01", "HDM_bd_hopBothLegs1hops_001_120", "HDM_bd_jogLeftCircle4StepsRstart_001_120")


@pytest.fixture(scope="module")
def real_takes():
    from training.build_corpus import discover, read_take

    from sparse_mocap_addon.core.kinematics.resample import resample_motion
    from sparse_mocap_addon.core.mocap.retarget import retarget
    from sparse_mocap_addon.core.mocap.rig_body import skeleton_from_rig

    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared mocap data is absent ({SHARED_DATA})")
    takes = {t.name: t for t in discover(SHARED_DATA, sources=("cmu_misc_bvh", "cmu62", "cmu_bvh", "hdm05"))}
    found = [takes[name] for name in REAL_TAKES if name in takes]
    if not found:
        pytest.skip(f"none of the takes {', '.join(REAL_TAKES)} is in {SHARED_DATA}")
    motions = {}
    for take in found:
        source = read_take(take)            # as the corpus builder does it
        skeleton, _ = skeleton_from_rig(source)
        motions[take.name] = resample_motion(retarget(source, skeleton), 60.0)
    return motions


@pytest.mark.parametrize("height", (None,) + BODIES_M)
def test_real_takes_on_every_body_meet_the_targets(real_takes, height):
    """Every take: no sole under the floor, no contact foot above it (1 cm). Skating: 2 cm/s over
    the takes together, as the benchmark reports it; a single take may reach 2.5 cm/s (a foot that
    pivots further than the stage holds its heading, 30 deg, turns about its anchor point)."""
    skating = []
    for name, motion in real_takes.items():
        contact = motion_contacts(motion, floor="estimate")
        body = None if height is None else _body(height)
        out, report = feet_on_floor(motion, body)
        label = f"{name} on {'its performer' if height is None else f'a {height} m body'}"
        metrics = feet_metrics(out, contact)
        _meets_targets(dict(metrics, foot_skate_cm_per_s=0.0), label)
        assert metrics["foot_skate_cm_per_s"] <= 2.5, label
        skating.append(metrics["foot_skate_cm_per_s"])
        raw, _ = feet_on_floor(motion, body, FeetOptions(enabled=False))
        assert _max_acceleration(out) < 1.5 * _max_acceleration(raw) + 5.0, label
        assert report["contact_runs"] > 0
    assert np.mean(skating) <= TARGETS["foot_skate_cm_per_s"], skating


def test_real_take_raw_vs_stage_on_a_short_body(real_takes):
    """The stage is what makes the targets: the raw move onto a 1.40 m body misses them."""
    motion = next(iter(real_takes.values()))
    contact = motion_contacts(motion, floor="estimate")
    body = _body(1.40, "female")
    raw = feet_metrics(feet_on_floor(motion, body, FeetOptions(enabled=False))[0], contact)
    fixed = feet_metrics(feet_on_floor(motion, body, replace(FeetOptions()))[0], contact)
    assert raw["foot_skate_cm_per_s"] > 2.0 and fixed["foot_skate_cm_per_s"] < raw["foot_skate_cm_per_s"] / 3


def test_the_contacts_are_kept_with_the_motion_and_planted_again_on_another_body(walk, tmp_path):
    from sparse_mocap_addon.core.feet.stage import stored_contacts

    planted, report = feet_on_floor(walk)
    again = Motion.load(planted.save(tmp_path / "planted.npz"))
    kept = stored_contacts(again)
    assert kept is not None and kept.shape == (walk.num_frames, 2, 3)
    assert kept.any(axis=2).mean(axis=0).tolist() == pytest.approx(report["contact_fraction"])
    # Cut or resampled, the kept runs no longer fit: they are not used.
    cut = Motion(again.fps, again.rotations[:100], again.translation[:100], again.skeleton, dict(again.metadata))
    assert stored_contacts(cut) is None
    # Onto another body the kept contacts are planted even where the planted feet no longer look so.
    blind = FeetOptions(speed_threshold=1e-9)
    _, onto = feet_on_floor(again, _body(1.5), blind)
    assert onto["contact_runs"] == report["contact_runs"]
