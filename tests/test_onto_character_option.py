"""The Onto Character option of the operators that make motion (operators/onto_character.py), on the
real bpy module, onto test rigs with Mixamo and Unreal Engine names (tests/rigs.py): the SMPL result
also goes onto the character picked in the Character panel as a new action '<character>_<take>'
keyed on its mapped bones on the same frames, the SMPL result as it is without the option; no
character picked (or a bone map that does not fit) is refused before anything is made; a character
bake that fails leaves the SMPL result, a warning and nothing on the character.
"""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender import compat  # noqa: E402
from sparse_mocap_addon.blender.armature import create_armature  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.body.measurements import skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.mocap.formats.bvh import write_bvh  # noqa: E402
from sparse_mocap_addon.core.mocap.source import SourceMotion  # noqa: E402
from sparse_mocap_addon.operators import onto_character  # noqa: E402
from sparse_mocap_addon.blender.character_map import character_rig  # noqa: E402
from tests.blender_helpers import counts, fail_after, select_only  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402
from tests.rigs import build_armature  # noqa: E402
from tests.test_character_operators import action_curves, keyed_bones  # noqa: E402
from tests.test_gap_fill_operators import SUBJECT, tracker_set_with_lost_head, walk_with_holes  # noqa: E402
from tests.test_landmark_operators import mediapipe_json  # noqa: E402

CMU62_BVH = SHARED_DATA / "cmu62" / "62_18.bvh.gz"
OPERATORS = ("import_mocap", "bake_motion_file", "bake_demo", "import_landmarks", "solve_landmarks",
             "reconstruct_imu", "reconstruct_trackers", "fill_gaps")
NO_CHARACTER = "Onto Character: No character picked"


# --- helpers ---------------------------------------------------------------------------------------

def character(kind="mixamo", pick=True, **kwargs):
    """A test rig of ``kind`` with an 'idle' action of its own, picked in the Character panel."""
    obj, _ = build_armature(kind, **kwargs)
    idle = bpy.data.actions.new("idle")
    compat.new_fcurve(compat.assign_new_action(obj, idle), "location", 0, "Object").keyframe_points.insert(1, 0.0)
    if pick:
        bpy.context.scene.sparse_mocap_character = obj
    return obj


def smpl_walker(name="SMPL"):
    """A new SMPL armature (no action), active and the only one selected."""
    obj = create_armature(skeleton_from_measurements(SUBJECT), name=name, with_mesh=False)
    select_only(obj, active=obj)
    return obj


def action_keys(action) -> dict:
    """{(data path, index): (N, 2) keys} of an action, assigned or not."""
    out = {}
    for curve in action_curves(action):
        co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
        curve.keyframe_points.foreach_get("co", co)
        out[curve.data_path, curve.array_index] = co.reshape(-1, 2)
    return out


def same_keys(a, b) -> bool:
    keys_a, keys_b = action_keys(a), action_keys(b)
    return keys_a.keys() == keys_b.keys() and all(np.array_equal(keys_a[k], keys_b[k]) for k in keys_a)


def pose_key_frames(action) -> np.ndarray:
    """The frames of the keys on the first rotation curve of ``action``."""
    curve = next(c for c in action_curves(action) if c.data_path.endswith("rotation_quaternion"))
    co = np.empty(2 * len(curve.keyframe_points), dtype=np.float32)
    curve.keyframe_points.foreach_get("co", co)
    return co[0::2]


def assert_onto_character(obj, smpl_action, name=None):
    """``obj``'s active action is the new '<character>_<take>' of ``smpl_action``, with a key on every
    one of the SMPL action's frames on each bone its bone map carries; its own 'idle' kept."""
    action = obj.animation_data.action
    assert action.name == (name or f"{obj.name}_{smpl_action.name}")
    rig = character_rig(obj)[1]
    # Every mapped bone but the fingers SMPL's hand joints map to (they keep their rest pose).
    mapped = {bone for segment in rig.chains if not segment.endswith("_hand") for bone in rig.chain_names(segment)}
    keyed = keyed_bones(obj)
    frames = pose_key_frames(smpl_action)
    assert len(mapped) > 15 and set(keyed) == mapped
    assert set(keyed.values()) == {len(frames)}
    assert np.allclose(pose_key_frames(action), frames, atol=1e-4)
    assert bpy.data.actions["idle"].use_fake_user                       # the character's own action kept


def assert_refused_at_once(operator, match=NO_CHARACTER, **kwargs):
    """``operator(onto_character=True, **kwargs)`` is CANCELLED with ``match`` and changes nothing."""
    before = counts()
    with pytest.raises(RuntimeError, match=match):
        operator(onto_character=True, **kwargs)
    assert counts() == before


# --- registration ----------------------------------------------------------------------------------

def test_every_operator_that_makes_motion_has_the_option_off_by_default(registered_addon):
    for name in OPERATORS:
        prop = getattr(bpy.ops.sparse_mocap, name).get_rna_type().properties["onto_character"]
        assert prop.default is False and "Character panel" in prop.description, name
        assert "UNDO" in getattr(bpy.types, f"SPARSE_MOCAP_OT_{name}").bl_options, name


# --- Bake Demo Walk, Bake Motion File --------------------------------------------------------------

def test_bake_demo_onto_the_character_keeps_the_smpl_result(addon, capsys):
    obj = character()
    smpl = smpl_walker()
    assert bpy.ops.sparse_mocap.bake_demo(seconds=1.0, fps=30.0) == {"FINISHED"}     # the option off
    plain = smpl.animation_data.action
    assert obj.animation_data.action.name == "idle" and len(bpy.data.actions) == 2
    capsys.readouterr()
    assert bpy.ops.sparse_mocap.bake_demo(seconds=1.0, fps=30.0, onto_character=True) == {"FINISHED"}
    assert "onto 'mixamo' as new action 'mixamo_demo_walk.001'" in capsys.readouterr().out
    made = smpl.animation_data.action
    assert made != plain and same_keys(made, plain)                     # the SMPL result as without it
    assert_onto_character(obj, made)
    assert len(bpy.data.actions) == 4


def test_bake_motion_file_onto_the_character(addon, tmp_path):
    obj = character("unreal")
    smpl = smpl_walker()
    path = tmp_path / "stroll.npz"
    demo_motion(seconds=1.0, fps=30.0).save(path)
    assert bpy.ops.sparse_mocap.bake_motion_file(filepath=str(path), onto_character=True) == {"FINISHED"}
    assert smpl.animation_data.action.name == "stroll"
    assert_onto_character(obj, smpl.animation_data.action)


def test_the_character_s_own_root_motion_and_hands_are_used(addon):
    """The Character panel's Root Motion and Hands apply to the Onto Character bake too."""
    obj = character("unreal")
    smpl_walker()
    assert bpy.ops.sparse_mocap.bake_demo(seconds=1.0, fps=30.0, onto_character=True) == {"FINISHED"}
    auto = obj.animation_data.action
    assert any(c.data_path.startswith('pose.bones["root"]') for c in action_curves(auto))     # Auto: on the root

    obj.sparse_mocap_bone_map.root_motion, obj.sparse_mocap_bone_map.hands = "HIPS", True
    assert bpy.ops.sparse_mocap.bake_demo(seconds=1.0, fps=30.0, onto_character=True) == {"FINISHED"}
    own = obj.animation_data.action
    assert own != auto and not any(c.data_path.startswith('pose.bones["root"]') for c in action_curves(own))
    arm = ('pose.bones["upperarm_l"].rotation_quaternion', 0)
    assert not np.allclose(action_keys(own)[arm], action_keys(auto)[arm], atol=1e-3)   # the arms re-solved


def test_no_character_picked_is_refused_before_anything_is_made(addon, tmp_path):
    character(pick=False)
    smpl_walker()
    assert_refused_at_once(bpy.ops.sparse_mocap.bake_demo)
    path = tmp_path / "stroll.npz"
    demo_motion(seconds=0.5).save(path)
    assert_refused_at_once(bpy.ops.sparse_mocap.bake_motion_file, filepath=str(path))
    assert bpy.context.scene.frame_end == 250                          # the scene not matched either


def test_a_bone_map_that_does_not_fit_is_refused_before_anything_is_made(addon):
    character("unreal", name="one_leg", omit=("left_hip",))
    smpl_walker()
    assert_refused_at_once(bpy.ops.sparse_mocap.bake_demo, match=r"Onto Character: .*'one_leg'")


def test_a_character_bake_that_fails_leaves_the_smpl_result_a_warning_and_nothing_on_the_character(
        addon, monkeypatch, capsys):
    obj = character()
    smpl = smpl_walker()
    fail_after(monkeypatch, onto_character, "bake_onto_character", "the rig's feet are nowhere")
    before = counts()
    assert bpy.ops.sparse_mocap.bake_demo(seconds=1.0, fps=30.0, onto_character=True) == {"FINISHED"}
    out = capsys.readouterr().out
    assert "Warning: Baked 30 frames into new action 'demo_walk'; not onto the character: " \
           "the rig's feet are nowhere" in out and "Traceback" not in out
    assert smpl.animation_data.action.name == "demo_walk"              # the SMPL result stays
    assert counts() == dict(before, actions=before["actions"] + 1)    # and nothing on the character
    assert obj.animation_data.action.name == "idle"


# --- Import Mocap ----------------------------------------------------------------------------------

@pytest.mark.skipif(not CMU62_BVH.is_file(), reason=f"the CMU take {CMU62_BVH.name} is not in {CMU62_BVH.parent}")
def test_import_mocap_of_a_real_bvh_onto_the_character(addon):
    obj = character()
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(CMU62_BVH), target="PERFORMER", with_body=False) == \
        {"FINISHED"}
    plain = bpy.context.active_object.animation_data.action
    assert obj.animation_data.action.name == "idle"                     # the option off: nothing onto it
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(CMU62_BVH), target="PERFORMER", with_body=False,
                                             onto_character=True) == {"FINISHED"}
    made = bpy.context.active_object.animation_data.action
    assert made.name == "62_18.001" and same_keys(made, plain)
    assert_onto_character(obj, made, name="mixamo_62_18.001")
    assert len(pose_key_frames(made)) == 566


def test_import_mocap_several_takes_each_onto_the_character(addon, tmp_path):
    obj = character("unreal")
    for name in ("take_a", "take_b"):
        write_bvh(tmp_path / f"{name}.bvh", SourceMotion.from_motion(demo_motion(seconds=1.0, fps=30.0)))
    assert bpy.ops.sparse_mocap.import_mocap(directory=str(tmp_path), files=[{"name": "take_a.bvh"},
                                             {"name": "take_b.bvh"}], target="PERFORMER", with_body=False,
                                             onto_character=True) == {"FINISHED"}
    smpl = bpy.context.active_object
    assert_onto_character(obj, smpl.animation_data.action, name="unreal_take_b")
    first = bpy.data.actions["unreal_take_a"]
    assert np.allclose(pose_key_frames(first), pose_key_frames(bpy.data.actions["take_a"]))


def test_import_mocap_without_a_character_is_refused_before_reading(addon, tmp_path):
    character(pick=False)
    path = tmp_path / "take.bvh"
    write_bvh(path, SourceMotion.from_motion(demo_motion(seconds=0.5, fps=30.0)))
    assert_refused_at_once(bpy.ops.sparse_mocap.import_mocap, filepath=str(path), target="PERFORMER")


# --- Reconstruct from Trackers, landmarks ------------------------------------------------------------

def test_reconstruct_trackers_onto_the_character(addon, capsys):
    obj = character("unreal")
    tracker_set_with_lost_head()
    parent = bpy.context.active_object
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False) == {"FINISHED"}
    plain = bpy.context.active_object.animation_data.action
    select_only(parent, active=parent)
    capsys.readouterr()
    assert bpy.ops.sparse_mocap.reconstruct_trackers(mode="ANALYTIC", with_body=False, onto_character=True) == \
        {"FINISHED"}
    made = bpy.context.active_object.animation_data.action
    assert same_keys(made, plain)
    assert_onto_character(obj, made)
    assert f"onto 'unreal' as new action 'unreal_{made.name}'" in capsys.readouterr().out
    select_only(parent, active=parent)
    bpy.context.scene.sparse_mocap_character = None
    assert_refused_at_once(bpy.ops.sparse_mocap.reconstruct_trackers, mode="ANALYTIC", with_body=False)


def test_landmark_import_and_solve_onto_the_character(addon, tmp_path):
    obj = character()
    path = mediapipe_json(tmp_path / "clip.json")
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(path), with_body=False, onto_character=True) == \
        {"FINISHED"}
    smpl = bpy.context.active_object
    assert_onto_character(obj, smpl.animation_data.action)
    parent = next(o for o in bpy.data.objects if o.get("sparse_mocap_landmarks"))
    select_only(parent, active=parent)
    bpy.context.scene.sparse_mocap_character = None
    assert_refused_at_once(bpy.ops.sparse_mocap.solve_landmarks, with_body=False)
    # The empties alone (no solve): nothing goes onto a character, none is needed.
    assert bpy.ops.sparse_mocap.import_landmarks(filepath=str(path), solve=False, onto_character=True) == \
        {"FINISHED"}


# --- Fill Gaps -------------------------------------------------------------------------------------

def test_fill_gaps_onto_the_character(addon):
    obj = character()
    smpl, _ = walk_with_holes(seconds=2.0, frame_start=11)
    assert bpy.ops.sparse_mocap.fill_gaps(method="SLERP", onto_character=True) == {"FINISHED"}
    filled = smpl.animation_data.action
    assert filled.name == "walk_filled"
    assert_onto_character(obj, filled)
    assert pose_key_frames(filled)[0] == 11 and len(pose_key_frames(filled)) == 120      # the hole's frames too
    smpl.animation_data.action = bpy.data.actions["walk"]
    bpy.context.scene.sparse_mocap_character = None
    assert_refused_at_once(bpy.ops.sparse_mocap.fill_gaps, method="SLERP")


def test_reconstruct_imu_onto_the_character(addon):
    from sparse_mocap_addon.blender.imu_objects import create_imu_empties
    from sparse_mocap_addon.core.imu.synth import virtual_imus

    obj = character()
    motion = demo_motion(skeleton_from_measurements(SUBJECT), seconds=1.0)
    rec = virtual_imus(motion, sensor_joints=(0, 1, 2, 4, 5, 7, 8))   # pelvis, upper and lower legs, feet: direct
    parent = create_imu_empties(rec, "legs_imu", frame_start=1)
    select_only(parent, active=parent)
    assert bpy.ops.sparse_mocap.reconstruct_imu(mode="DIRECT", with_body=False, onto_character=True) == \
        {"FINISHED"}
    assert_onto_character(obj, bpy.context.active_object.animation_data.action)
