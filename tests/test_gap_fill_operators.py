"""Fill Gaps (sparse_mocap.fill_gaps) and the Fill Gaps option of the reconstruction operators, on the
real bpy module: an action whose keys skip frames is read back as a motion with holes, filled into a
new action (the user's untouched), long gaps left alone and reported, errors leave the file as it
was; reconstructions with lost input get their frames filled, and without the option stay as before.
Synthetic motions only (the demo walk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat, landmark_solve, mocap_import, tracker_solve  # noqa: E402
from sparse_mocap_addon.blender import gap_fill as blender_gap_fill  # noqa: E402
from sparse_mocap_addon.blender.action_motion import read_action_motion  # noqa: E402
from sparse_mocap_addon.blender.armature import create_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion  # noqa: E402
from sparse_mocap_addon.blender.tracker_objects import create_tracker_empties  # noqa: E402
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.feet.stage import FeetOptions, sole_points  # noqa: E402
from sparse_mocap_addon.core.landmarks.sequence import LandmarkSequence  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES, forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.trackers.synth import virtual_trackers  # noqa: E402
from sparse_mocap_addon.core.trackers.recording import SIX_POINT, TrackerMounting, TrackerRecording  # noqa: E402
from sparse_mocap_addon.inference.gap_fill import GapFillOptions  # noqa: E402
from tests.blender_helpers import counts, fail_after, select_only  # noqa: E402

RAW = FeetOptions(enabled=False)      # the gap filler's poses as they are (the feet stage off)

SUBJECT = BodyMeasurements(height=1.72, sex="female")


def predictor_ready() -> bool:
    try:
        from sparse_mocap_addon.inference.motion_predictor import predict_gaps  # noqa: F401
    except ImportError:
        return False
    return True


METHODS = [pytest.param("SLERP", id="slerp"),
           pytest.param("PREDICTOR", id="predictor", marks=pytest.mark.skipif(
               not predictor_ready(), reason="the motion predictor (inference/motion_predictor.predict_gaps) is not "
                                             "in the tree yet"))]


# --- an action with holes --------------------------------------------------------------------------

def all_keys(obj) -> dict:
    """{(data path, index): (N, 2) keys} of the armature's assigned action."""
    out = {}
    for curve in compat.action_fcurves(obj):
        co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
        curve.keyframe_points.foreach_get("co", co)
        out[curve.data_path, curve.array_index] = co.reshape(-1, 2)
    return out


def remove_keys(obj, first: int, last: int) -> None:
    """Delete every key of the assigned action on scene frames first..last (a hole in the recording)."""
    for curve in compat.action_fcurves(obj):
        co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
        curve.keyframe_points.foreach_get("co", co)
        co = co.reshape(-1, 2)
        kept = co[(co[:, 0] < first - 1e-3) | (co[:, 0] > last + 1e-3)]
        curve.keyframe_points.clear()
        curve.keyframe_points.add(len(kept))
        curve.keyframe_points.foreach_set("co", kept.ravel())
        curve.keyframe_points.foreach_set("interpolation", np.ones(len(kept), dtype=np.int8))   # LINEAR


def walk_with_holes(holes=((41, 50),), seconds=4.0, frame_start=1, match_scene=True):
    """A new SMPL armature (active) with the demo walk baked as action 'walk' from ``frame_start``
    and the keys on the inclusive scene-frame ranges ``holes`` deleted; returns (armature, truth)."""
    truth = demo_motion(skeleton_from_measurements(SUBJECT), seconds=seconds)
    obj = create_armature(truth.skeleton, name="Walker", with_mesh=False)
    bake_motion(obj, truth, action_name="walk", frame_start=frame_start, match_scene=match_scene)
    for first, last in holes:
        remove_keys(obj, first, last)
    select_only(obj, active=obj)
    return obj, truth


def joint_errors(obj, truth, frames) -> np.ndarray:
    """(len(frames), 24) joint position errors (m) of the armature's action against ``truth`` at motion
    frames ``frames`` (the action read back as a motion from frame 1)."""
    read = read_action_motion(obj)
    return np.linalg.norm(read.motion.joint_positions()[frames] - truth.joint_positions()[frames], axis=-1)


# --- registration ----------------------------------------------------------------------------------

def test_registered_undoable_in_the_bake_panel_and_greyed_out_without_an_armature(addon):
    op_class = bpy.types.SPARSE_MOCAP_OT_fill_gaps
    assert {"REGISTER", "UNDO"} <= set(op_class.bl_options)
    props = bpy.ops.sparse_mocap.fill_gaps.get_rna_type().properties
    assert props["max_gap_seconds"].default == 1.0 and props["method"].default == "PREDICTOR"
    assert {i.identifier for i in props["method"].enum_items} == {"PREDICTOR", "SLERP"}
    assert not bpy.ops.sparse_mocap.fill_gaps.poll()
    empty = bpy.data.objects.new("not_an_armature", None)
    bpy.context.scene.collection.objects.link(empty)
    select_only(empty, active=empty)
    with pytest.raises(RuntimeError, match="Select an SMPL armature"):
        bpy.ops.sparse_mocap.fill_gaps()
    for name in ("reconstruct_trackers", "reconstruct_imu", "solve_landmarks", "import_landmarks"):
        props = getattr(bpy.ops.sparse_mocap, name).get_rna_type().properties
        assert props["fill_gaps"].default is True and props["max_gap_seconds"].default == 1.0, name


def test_the_action_reads_back_as_the_baked_motion_with_its_holes(addon):
    obj, truth = walk_with_holes(holes=((41, 50), (121, 135)), frame_start=1)
    read = read_action_motion(obj)
    assert read.frame_start == 1 and read.frame_step == 1 and read.motion.fps == 60.0
    assert read.motion.num_frames == truth.num_frames
    assert np.flatnonzero(~read.keyed).tolist() == list(range(40, 50)) + list(range(120, 135))
    known = read.keyed
    err = np.linalg.norm(read.motion.joint_positions()[known] - truth.joint_positions()[known], axis=-1)
    assert err.max() < 1e-5                                            # float32 keys


# --- Fill Gaps -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_fill_gaps_makes_a_new_action_close_to_the_truth_and_keeps_the_users(addon, method):
    obj, truth = walk_with_holes(holes=((41, 50), (121, 135)))
    original = obj.animation_data.action
    before_keys = all_keys(obj)
    before = counts()
    assert bpy.ops.sparse_mocap.fill_gaps(method=method) == {"FINISHED"}
    action = obj.animation_data.action
    assert action != original and action.name == "walk_filled"
    assert counts() == dict(before, actions=before["actions"] + 1)

    # The user's action keeps every key it had (and a fake user, so saving keeps it).
    obj.animation_data.action = original
    if compat.has_slotted_actions():
        obj.animation_data.action_slot = original.slots[0]
    after_keys = all_keys(obj)
    assert after_keys.keys() == before_keys.keys()
    assert all(np.array_equal(after_keys[k], before_keys[k]) for k in before_keys) and original.use_fake_user
    obj.animation_data.action = action
    if compat.has_slotted_actions():
        obj.animation_data.action_slot = action.slots[0]

    # Every frame keyed now; the known frames exactly as they were, the holes close to the truth.
    filled = all_keys(obj)
    assert all(len(keys) == truth.num_frames for keys in filled.values())
    for key, old in before_keys.items():
        at = np.isin(filled[key][:, 0], old[:, 0])
        assert np.array_equal(filled[key][at], old), key
    err = joint_errors(obj, truth, np.arange(40, 50))
    assert err.mean() < 0.03 and err.max() < 0.10
    assert joint_errors(obj, truth, np.arange(120, 135)).mean() < 0.06


def test_fill_gaps_reports_what_it_filled(addon, capsys):
    walk_with_holes(holes=((41, 50), (121, 135)))
    fill = blender_gap_fill.fill_action_gaps(bpy.context.active_object, GapFillOptions(method="slerp"), feet=RAW)
    assert blender_gap_fill.summary(fill) == "Filled 2 gaps (25 frames) by slerp into new action 'walk_filled'"
    assert fill.report["filled_gaps"] == [[41, 50], [121, 135]] and fill.report["skipped_gaps"] == []


def test_filled_frames_get_their_feet_on_the_floor(addon):
    """Slerp across a step drags a foot through the floor; the feet stage (on by default) lifts it
    out and plants it, on the filled frames only."""
    obj, _ = walk_with_holes(holes=((41, 50), (121, 135)))
    assert bpy.ops.sparse_mocap.fill_gaps.get_rna_type().properties["feet_on_floor"].default is True
    raw = blender_gap_fill.fill_action_gaps(obj, GapFillOptions(method="slerp"), feet=RAW)
    obj.animation_data.action = raw.source
    fill = blender_gap_fill.fill_action_gaps(obj, GapFillOptions(method="slerp"))
    assert blender_gap_fill.summary(fill).startswith(
        "Filled 2 gaps (25 frames) by slerp into new action 'walk_filled.001'; feet on the floor: ")
    feet = fill.report["feet"]
    assert feet["edited_frames"] == 25 and feet["frames_lifted"] > 0
    filled = fill.result.filled
    raw_soles = sole_points(raw.result.motion)[filled][..., 1].min()
    soles = sole_points(fill.result.motion)[filled][..., 1].min()
    assert raw_soles < -0.01 and soles > -0.005
    kept = ~filled
    assert np.allclose(fill.result.motion.rotations[kept], raw.result.motion.rotations[kept], atol=1e-12)


def test_the_predictor_falls_back_to_slerp_when_it_is_not_there(addon, monkeypatch):
    from sparse_mocap_addon.inference import gap_fill

    real = gap_fill.fill_motion_gaps

    def without_predictor(motion, missing, *, max_gap_seconds, method):
        if method == "predictor":
            raise ImportError("no motion predictor")
        return real(motion, missing, max_gap_seconds=max_gap_seconds, method=method)

    monkeypatch.setattr(gap_fill, "fill_motion_gaps", without_predictor)
    obj, _ = walk_with_holes()
    fill = blender_gap_fill.fill_action_gaps(obj, GapFillOptions(method="predictor"), feet=RAW)
    assert fill.report["method"] == "slerp"
    assert blender_gap_fill.summary(fill) == ("Filled 1 gap (10 frames) by slerp into new action 'walk_filled'; the "
                                              "motion predictor is not installed, so slerp filled the gaps")


def test_a_gap_longer_than_the_limit_is_left_alone_and_reported(addon):
    obj, truth = walk_with_holes(holes=((41, 50), (151, 230)))         # 10 frames, and 80 > 60 (1 s)
    fill = blender_gap_fill.fill_action_gaps(obj, GapFillOptions(method="slerp"), feet=RAW)
    assert blender_gap_fill.summary(fill) == ("Filled 1 gap (10 frames) by slerp into new action 'walk_filled'; "
                                              "1 gap longer than 1.0 s left alone (frames 151-230)")
    frames = all_keys(obj)['pose.bones["pelvis"].rotation_quaternion', 0][:, 0]
    assert 45 in frames and not np.isin(np.arange(151, 231), frames).any() and {150, 231} <= set(frames)
    read = read_action_motion(obj)
    assert np.flatnonzero(~read.keyed).tolist() == list(range(150, 230))   # the hole is still a hole
    # With a longer limit (through the operator) it is filled.
    assert bpy.ops.sparse_mocap.fill_gaps(method="SLERP", max_gap_seconds=1.5) == {"FINISHED"}
    assert read_action_motion(obj).keyed.all() and obj.animation_data.action.name.startswith("walk_filled.")


def test_keys_every_half_frame_are_filled_on_their_own_grid(addon):
    bpy.context.scene.render.fps = 30                                  # a 60 fps take kept in real time
    obj, truth = walk_with_holes(holes=((21.0, 25.5),), seconds=2.0, match_scene=False)
    read = read_action_motion(obj)
    assert read.frame_step == 0.5 and read.motion.fps == 60.0 and (~read.keyed).sum() == 10
    assert bpy.ops.sparse_mocap.fill_gaps(method="SLERP") == {"FINISHED"}
    frames = all_keys(obj)['pose.bones["pelvis"].location', 0][:, 0]
    assert np.allclose(frames, 1 + 0.5 * np.arange(truth.num_frames))
    assert joint_errors(obj, truth, np.arange(40, 50)).mean() < 0.03


def test_the_users_keys_keep_their_interpolation(addon):
    obj, _ = walk_with_holes()
    for curve in compat.action_fcurves(obj):
        curve.keyframe_points.foreach_set("interpolation", np.full(len(curve.keyframe_points), 2, np.int8))  # BEZIER
    assert bpy.ops.sparse_mocap.fill_gaps(method="SLERP") == {"FINISHED"}
    curve = compat.action_fcurves(obj)[0]
    modes = [key.interpolation for key in curve.keyframe_points]
    assert modes[:40] == ["BEZIER"] * 40 and modes[40:50] == ["LINEAR"] * 10 and modes[50:] == ["BEZIER"] * 190


def test_the_actions_other_curves_come_along(addon):
    obj, _ = walk_with_holes()
    obj.location = (0.5, 0.0, 0.0)
    obj.keyframe_insert("location", index=0, frame=1)
    obj.location = (2.5, 0.0, 0.0)
    obj.keyframe_insert("location", index=0, frame=200)
    assert bpy.ops.sparse_mocap.fill_gaps(method="SLERP") == {"FINISHED"}
    keys = all_keys(obj)[("location", 0)]
    assert np.allclose(keys, [[1, 0.5], [200, 2.5]])
    bpy.context.scene.frame_set(100)
    assert 0.5 < obj.location.x < 2.5                                  # still interpolated between them


@pytest.mark.parametrize("setup, message", [
    ("no action", "armature 'Walker' has no action: bake or import a motion first"),
    ("no holes", "action 'walk' of 'Walker' has no gaps: every frame from 1 to 240 is keyed"),
    ("only long gaps", "action 'walk' of 'Walker': 1 gap longer than 1.0 s left alone (frames 101-200); nothing "
                       "was filled"),
])
def test_nothing_to_fill_is_an_error_that_changes_nothing(addon, setup, message):
    obj, _ = walk_with_holes(holes={"no action": (), "no holes": (), "only long gaps": ((101, 200),)}[setup])
    if setup == "no action":
        obj.animation_data.action = None
    action = obj.animation_data.action
    before, keys = counts(), all_keys(obj)
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bpy.ops.sparse_mocap.fill_gaps(method="SLERP")
    assert counts() == before and obj.animation_data.action == action
    assert all(np.array_equal(all_keys(obj)[k], v) for k, v in keys.items())


@pytest.mark.parametrize("module, name", [(mocap_import, "bake_motion"), (blender_gap_fill, "_copy_curves")])
def test_a_failure_halfway_leaves_nothing_behind(addon, monkeypatch, module, name):
    obj, _ = walk_with_holes()
    original = obj.animation_data.action
    slot = obj.animation_data.action_slot if compat.has_slotted_actions() else None
    before, keys = counts(), all_keys(obj)
    fail_after(monkeypatch, module, name, "the disk is full")
    with pytest.raises(RuntimeError, match="Walker: the disk is full"):
        bpy.ops.sparse_mocap.fill_gaps(method="SLERP")
    assert counts() == before and "walk_filled" not in bpy.data.actions
    assert obj.animation_data.action == original
    if slot is not None:
        assert obj.animation_data.action_slot == slot
    assert all(np.array_equal(all_keys(obj)[k], v) for k, v in keys.items())


# --- the reconstruction operators' Fill Gaps option -------------------------------------------------

def tracker_set_with_lost_head(lost=(30, 40)):
    """A six-tracker set on the demo walk (devices on their joints) whose head is lost on motion frames
    ``lost`` (half-open), active; returns the recording."""
    motion = demo_motion(skeleton_from_measurements(SUBJECT), seconds=2.0)
    rec = virtual_trackers(motion, SIX_POINT, {n: TrackerMounting() for n in SIX_POINT})
    valid = rec.valid.copy()
    valid[lost[0]:lost[1], SIX_POINT.index("head")] = False
    rec = TrackerRecording(rec.names, np.where(valid[..., None], rec.positions, np.nan),
                           np.where(valid[..., None], rec.orientations, np.nan), rec.fps, valid, source="walk")
    parent = create_tracker_empties(rec, "walk_trackers", bpy.context.scene.collection, frame_start=1)
    select_only(parent, active=parent)
    subject = bpy.context.scene.sparse_mocap_new_subject
    subject.height, subject.sex = SUBJECT.height, SUBJECT.sex
    return rec


def pose_key_values(obj) -> np.ndarray:
    """(frames, 99) values of the 24 x 4 rotation and 3 pelvis location keys (one key per frame)."""
    return np.stack([keys[:, 1] for keys in all_keys(obj).values()], axis=1)


def test_reconstruct_trackers_fills_the_frames_without_the_head_and_without_the_option_is_as_before(addon):
    tracker_set_with_lost_head()
    parent = bpy.context.active_object
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False, fill_gaps=False) == \
        {"FINISHED"}
    off = pose_key_values(bpy.context.active_object)
    subject = bpy.context.scene.sparse_mocap_new_subject.to_measurements()      # what the operator uses
    before = tracker_solve.reconstruct_onto_armature(parent, tracker_solve.TrackerSolveOptions(mode="analytic"),
                                                     measurements=subject, with_body=False)
    assert np.array_equal(pose_key_values(before.armature), off)       # off: exactly what it did before
    assert "gap_fill" not in before.report

    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False) == {"FINISHED"}
    on = pose_key_values(bpy.context.active_object)
    changed = np.flatnonzero(np.abs(on - off).max(axis=1) > 1e-6)
    assert changed.min() >= 30 and changed.max() <= 39 and len(changed) >= 8
    solved = tracker_solve.reconstruct_onto_armature(
        parent, tracker_solve.TrackerSolveOptions(mode="analytic"), measurements=SUBJECT, with_body=False,
        gap_fill=GapFillOptions(method="slerp"))
    assert solved.report["gap_fill"]["filled_gaps"] == [[31, 40]]
    assert "filled 1 gap (10 frames) by slerp" in tracker_solve.solve_summary(solved.report)


def test_reconstruct_trackers_reports_the_fill_in_its_message(addon, capsys):
    tracker_set_with_lost_head()
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False, max_gap_seconds=0.1) == \
        {"FINISHED"}
    # 10 lost frames at 60 fps are longer than 0.1 s: left alone, and said so.
    assert "1 gap longer than 0.1 s left alone (frames 31-40)" in capsys.readouterr().out


def test_landmark_solve_fills_frames_without_most_landmarks(addon):
    motion = demo_motion(skeleton_from_measurements(SUBJECT), seconds=2.0, fps=30.0)
    joints, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    confidence = np.ones(joints.shape[:2])
    confidence[20:26] = 0.0                                            # the performer out of view
    seq = LandmarkSequence(JOINT_NAMES, joints, confidence, 30.0, layout="smpl24", up_axis="+Y", source="walk")
    plain = landmark_solve.solve_onto_armature(seq, with_body=False)
    filled = landmark_solve.solve_onto_armature(seq, with_body=False, gap_fill=GapFillOptions(method="slerp"))
    assert "gap_fill" not in plain.report and filled.report["gap_fill"]["filled_gaps"] == [[21, 26]]
    assert "filled 1 gap (6 frames) by slerp" in landmark_solve.summary(filled.report)
    a, b = plain.motion.rotations, filled.motion.rotations
    differs = np.flatnonzero(np.abs(a - b).max(axis=(1, 2)) > 1e-9)
    assert differs.min() >= 20 and differs.max() <= 25


def test_imu_reconstruction_fills_the_frames_with_a_dropped_sample(addon):
    from sparse_mocap_addon.blender import imu_solve
    from sparse_mocap_addon.blender.imu_objects import create_imu_empties
    from sparse_mocap_addon.core.imu.recording import ImuRecording
    from sparse_mocap_addon.core.imu.synth import virtual_imus

    motion = demo_motion(skeleton_from_measurements(SUBJECT), seconds=2.0)
    rec = virtual_imus(motion, sensor_joints=(0, 1, 2, 4, 5, 7, 8))   # pelvis, upper and lower legs, feet: direct
    valid = rec.valid.copy()
    valid[50:56, rec.sensors.index("left_lower_leg")] = False
    rec = ImuRecording(rec.sensors, rec.orientation, rec.acceleration, rec.fps, valid=valid, world="core",
                       source="walk")
    parent = create_imu_empties(rec, "legs_imu", frame_start=1)
    plain = imu_solve.reconstruct_onto_armature(parent, measurements=SUBJECT, with_body=False)
    filled = imu_solve.reconstruct_onto_armature(parent, measurements=SUBJECT, with_body=False,
                                                 gap_fill=GapFillOptions(method="slerp"))
    assert plain.report["mode"] == "direct" and "gap_fill" not in plain.report
    assert filled.report["gap_fill"]["filled_gaps"] == [[51, 56]]
    assert "filled 1 gap (6 frames) by slerp" in imu_solve.solve_summary(filled.report)
    differs = np.flatnonzero(np.abs(plain.motion.rotations - filled.motion.rotations).max(axis=(1, 2)) > 1e-9)
    assert differs.min() >= 50 and differs.max() <= 55


# --- the command line ---------------------------------------------------------------------------------

def test_cli_fills_tracker_gaps_unless_told_not_to(tmp_path):
    from sparse_mocap_addon.core.trackers.formats import write_trackers
    from tests.test_cli import run_cli

    motion = demo_motion(skeleton_from_measurements(SUBJECT), seconds=1.0)
    rec = virtual_trackers(motion, SIX_POINT, {n: TrackerMounting() for n in SIX_POINT})
    valid = rec.valid.copy()
    valid[20:25, SIX_POINT.index("head")] = False
    rec = TrackerRecording(rec.names, np.where(valid[..., None], rec.positions, np.nan),
                           np.where(valid[..., None], rec.orientations, np.nan), rec.fps, valid)
    csv, bvh = write_trackers(rec, tmp_path / "take.csv", convention="unity"), tmp_path / "take.bvh"
    common = ("--trackers", str(csv), "--tracker-mode", "analytic", "--height", "1.72", "--bvh", str(bvh))
    result = run_cli(*common, "--gap-fill-method", "slerp")
    assert result.returncode == 0, result.stderr
    assert "filled 1 gap (5 frames) by slerp" in result.stderr
    result = run_cli(*common, "--fill-gaps", "0")
    assert result.returncode == 0, result.stderr
    assert "filled 1 gap" not in result.stderr
    result = run_cli(*common, "--fill-gaps", "-1")
    assert result.returncode == 2 and "--fill-gaps -1.0 is out of range" in result.stderr


# --- a real recording --------------------------------------------------------------------------------

REAL_TAKE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu_bvh" / "001" / "001_01.bvh.gz"


@pytest.mark.skipif(not REAL_TAKE.is_file(), reason=f"{REAL_TAKE} is absent (the shared mocap data)")
def test_fill_gaps_on_a_real_recording_beats_slerp(addon):
    """A real CMU take (climbing, retargeted and baked at 60 fps) with two 0.5 s holes cut into its
    keys: the predictor's fill lands closer to the recording than slerp's."""
    imported = mocap_import.import_mocap(REAL_TAKE, measurements=SUBJECT, fps=60.0, with_body=False)
    obj, truth = imported.armature, imported.motion
    holes = ((301, 330), (901, 930))
    for first, last in holes:
        remove_keys(obj, first, last)
    missing = np.zeros(truth.num_frames, dtype=bool)
    for first, last in holes:
        missing[first - 1:last] = True
    errors = {}
    for method in ("SLERP", "PREDICTOR"):
        select_only(obj, active=obj)
        holed = obj.animation_data.action
        assert bpy.ops.sparse_mocap.fill_gaps(method=method) == {"FINISHED"}
        filled = read_action_motion(obj).motion
        assert read_action_motion(obj).keyed.all()
        errors[method] = np.linalg.norm(filled.joint_positions() - truth.joint_positions(), axis=-1)[missing].mean()
        obj.animation_data.action = holed
    print("fill errors (m):", errors)
    assert errors["PREDICTOR"] < 0.9 * errors["SLERP"], errors
