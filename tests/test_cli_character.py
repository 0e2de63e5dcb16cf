"""The CLI onto the user's own character (issue 18 items 3 and 4): --character (.blend or .fbx),
--character-object, --bone-map, --root-motion and --batch, through the real CLI process; the FBX
files read back with ufbx, the .blend files opened with bpy."""

from __future__ import annotations

import json

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")
pytest.importorskip("ufbx", reason="the ufbx reader is installed by scripts/setup.sh")

from sparse_mocap_addon.blender.target_rig import target_rig_from_armature  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.mocap.onto_rig import ROOT_MOTION  # noqa: E402
from sparse_mocap_addon.core.mocap.target_rig import BUILTIN_RIG_MAPS  # noqa: E402

from .cli_support import fbx_takes, only_paths  # noqa: E402
from .conftest import SHARED_DATA  # noqa: E402
from .fbx_reader import read_fbx  # noqa: E402
from .rigs import build_armature  # noqa: E402
from .test_cli import run_cli  # noqa: E402

DEMO = ("--demo", "--demo-seconds", "0.5")      # 30 frames at 60 fps
DEMO_FRAMES = 30


def save_character(path, *kinds, names=("Hero",), mesh=True):
    """A .blend with the test rigs ``kinds`` (objects ``names``), each with an 'idle' action of its
    own and (``mesh``) a skinned mesh parented to the first; returns the bone names of each."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bones = {}
    for kind, name in zip(kinds, names):
        obj, _ = build_armature(kind, name=name)
        obj.animation_data_create().action = bpy.data.actions.new(f"{name}_idle")
        bones[name] = {bone.name for bone in obj.data.bones}
    if mesh:
        owner = bpy.data.objects[names[0]]
        data = bpy.data.meshes.new("Body")
        data.from_pydata([(0, 0, 0), (0.2, 0, 0), (0, 0, 1.6)], [], [(0, 1, 2)])
        body = bpy.data.objects.new("Body", data)
        bpy.context.scene.collection.objects.link(body)
        body.parent = owner
        body.modifiers.new("Armature", "ARMATURE").object = owner
        body.vertex_groups.new(name=sorted(bones[names[0]])[0]).add([0, 1, 2], 1.0, "REPLACE")
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return bones


def refused(result, tmp_path, inputs, *fragments):
    """Exit status 2, one line ``error: ...`` holding ``fragments``, no traceback, nothing written."""
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1], result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(inputs)
    return errors[0]


def top_bones(fbx) -> list:
    depth = min(fbx.depths[b] for b in fbx.bones)
    return [b for b in fbx.bones if fbx.depths[b] == depth]


def test_the_flags_choices_are_the_engines():
    from sparse_mocap_addon.cli import build_parser

    options = {action.dest: action for action in build_parser()._actions}
    assert tuple(options["root_motion"].choices) == ROOT_MOTION
    assert all(key in options["bone_map"].help for key in BUILTIN_RIG_MAPS)


@pytest.mark.parametrize("kind, preset", [("unreal", "unity"), ("unreal", "unreal"),
                                          ("mixamo", "unity"), ("mixamo", "unreal")])
def test_demo_onto_a_character_to_fbx(tmp_path, kind, preset):
    bones = save_character(tmp_path / "hero.blend", kind)["Hero"]
    fbx_path = tmp_path / "walk.fbx"
    result = run_cli(*DEMO, "--character", str(tmp_path / "hero.blend"), "--fbx", str(fbx_path), "--preset", preset)
    assert result.returncode == 0, result.stderr
    only_paths(result, fbx_path)
    assert "baked 30 frames onto character 'Hero' as action 'demo_walk'" in result.stderr
    frames = (0, DEMO_FRAMES - 1)
    top = "root" if preset == "unreal" else ("root" if kind == "unreal" else "mixamorig:Hips")
    fbx = read_fbx(fbx_path, [(top, f) for f in frames])
    assert fbx_takes(fbx_path) == ["demo_walk"]
    assert fbx.frames == DEMO_FRAMES
    assert "Body" in fbx.depths                                   # the character's mesh went too
    added = {"root"} if (kind, preset) == ("mixamo", "unreal") else set()
    assert set(fbx.bones) == bones | added                        # the character's own bone names
    assert top_bones(fbx) == [top]                                # exactly one root
    if preset == "unreal":
        assert fbx.unit_meters == pytest.approx(0.01)
        start, end = (fbx.world_positions[(top, f)] * 0.01 for f in frames)
        assert start[1] == pytest.approx(0.0, abs=1e-6) and end[1] == pytest.approx(0.0, abs=1e-6)
        assert np.hypot(*(end - start)[[0, 2]]) > 0.3             # half a second of walking, on the root


def test_a_motion_file_onto_a_character_to_blend_keeps_its_actions(tmp_path):
    save_character(tmp_path / "hero.blend", "mixamo")
    walk = demo_motion(skeleton_from_measurements(BodyMeasurements(height=1.62)), seconds=0.4)
    motion_path = walk.save(tmp_path / "stroll.npz")
    blend = tmp_path / "out.blend"
    result = run_cli("--motion", str(motion_path), "--character", str(tmp_path / "hero.blend"), "--blend", str(blend))
    assert result.returncode == 0, result.stderr
    only_paths(result, blend)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    hero = bpy.data.objects["Hero"]
    assert hero.animation_data.action.name == "stroll"
    assert tuple(hero.animation_data.action.frame_range) == (1.0, float(walk.num_frames))
    assert "Hero_idle" in bpy.data.actions                         # the character's own action kept
    assert bpy.data.objects["Body"].parent == hero
    assert not any(o.name == "Subject" or "pelvis" in getattr(o.data, "bones", {}) for o in bpy.data.objects)
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "hero.blend"))  # the user's file is untouched
    assert sorted(bpy.data.actions.keys()) == ["Hero_idle"]


def test_an_fbx_character_and_a_user_bone_map(tmp_path):
    from sparse_mocap_addon.blender.export import export_fbx

    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj, _ = build_armature("unreal", name="Hero")
    obj.animation_data_create().action = bpy.data.actions.new("idle")
    rig = target_rig_from_armature(obj)
    chains = {segment: [rig.bone_names[b] for b in bones] for segment, bones in rig.chains.items()}
    (tmp_path / "hero_map.json").write_text(json.dumps({"name": "my hero", "bones": chains}))
    export_fbx(obj, tmp_path / "hero.fbx")
    bones = {bone.name for bone in obj.data.bones}
    blend = tmp_path / "out.blend"
    result = run_cli(*DEMO, "--character", str(tmp_path / "hero.fbx"), "--bone-map", str(tmp_path / "hero_map.json"),
                     "--blend", str(blend), "--bvh", str(tmp_path / "out.bvh"))
    assert result.returncode == 0, result.stderr
    assert "bone map 'my hero'" in result.stderr
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    [hero] = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    assert {bone.name for bone in hero.data.bones} == bones
    assert hero.animation_data.action.name == "demo_walk"
    text = (tmp_path / "out.bvh").read_text()
    assert f"Frames: {DEMO_FRAMES}" in text and "JOINT hand_l" in text


def test_character_object_picks_one_of_several_armatures(tmp_path):
    bones = save_character(tmp_path / "cast.blend", "unreal", "mixamo", names=("Manny", "Remy"))
    inputs = ["cast.blend"]
    out = tmp_path / "walk.fbx"
    result = run_cli(*DEMO, "--character", str(tmp_path / "cast.blend"), "--fbx", str(out))
    refused(result, tmp_path, inputs,
            "--character: 'cast.blend' holds 2 armatures (Manny, Remy); name one with --character-object")
    result = run_cli(*DEMO, "--character", str(tmp_path / "cast.blend"), "--character-object", "Nobody",
                     "--fbx", str(out))
    refused(result, tmp_path, inputs, "--character-object: 'cast.blend' holds no object named 'Nobody'",
            "Manny, Remy")
    result = run_cli(*DEMO, "--character", str(tmp_path / "cast.blend"), "--character-object", "Body",
                     "--fbx", str(out))
    refused(result, tmp_path, inputs, "--character-object: 'Body' in 'cast.blend' is a mesh, not an armature")
    result = run_cli(*DEMO, "--character", str(tmp_path / "cast.blend"), "--character-object", "Remy",
                     "--fbx", str(out))
    assert result.returncode == 0, result.stderr
    assert set(read_fbx(out).bones) == bones["Remy"]


def test_bad_bone_maps_and_characters_are_refused_in_one_sentence(tmp_path):
    save_character(tmp_path / "hero.blend", "unreal")
    (tmp_path / "broken.json").write_text('{"name": "x", "bones": {"pelvis": "pelvis", "tail": "tail_01"}}')
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "props.blend"), copy=True)
    (tmp_path / "notes.txt").write_text("not a character")
    inputs = ["hero.blend", "broken.json", "props.blend", "notes.txt"]
    out = ("--fbx", str(tmp_path / "walk.fbx"))
    hero = ("--character", str(tmp_path / "hero.blend"))

    refused(run_cli(*DEMO, *hero, "--bone-map", "mixamo", *out), tmp_path, inputs,
            "--bone-map: armature 'Hero': bone map 'Mixamo", "lacks")
    refused(run_cli(*DEMO, *hero, "--bone-map", "skeleton_x", *out), tmp_path, inputs,
            "--bone-map 'skeleton_x' is neither a built-in bone map (rigify_deform", "nor a .json file")
    refused(run_cli(*DEMO, *hero, "--bone-map", str(tmp_path / "broken.json"), *out), tmp_path, inputs,
            "--bone-map: ", "broken.json: unknown joint name(s) tail")
    refused(run_cli(*DEMO, "--character", str(tmp_path / "props.blend"), *out), tmp_path, inputs,
            "--character: 'props.blend' holds no armature")
    refused(run_cli(*DEMO, "--character", str(tmp_path / "notes.txt"), *out), tmp_path, inputs,
            "--character: ", "notes.txt: expected a .blend file or an .fbx file")
    refused(run_cli(*DEMO, "--character", str(tmp_path / "absent.blend"), *out), tmp_path, inputs,
            "absent.blend: no such file")
    for name, reason in (("garbled.blend", "File format is not supported)"),
                         ("garbled.fbx", "ASCII FBX files are not supported)")):
        (tmp_path / name).write_text("not a character")
        inputs.append(name)
        refused(run_cli(*DEMO, "--character", str(tmp_path / name), *out), tmp_path, inputs,
                f"--character: Blender could not read {tmp_path / name} ({reason}")
    refused(run_cli(*DEMO, "--bone-map", "unreal", *out), tmp_path, inputs,
            "--bone-map applies to a character rig: give --character FILE")


def test_root_motion_flag(tmp_path):
    save_character(tmp_path / "hero.blend", "mixamo", mesh=False)
    save_character(tmp_path / "manny.blend", "unreal", mesh=False)
    inputs = ["hero.blend", "manny.blend"]
    result = run_cli(*DEMO, "--character", str(tmp_path / "hero.blend"), "--root-motion", "root",
                     "--fbx", str(tmp_path / "walk.fbx"))
    refused(result, tmp_path, inputs, "--root-motion: ", "no root bone near the floor", "give --root-motion hips")
    # On the hips, a UE rig's own root stays where it is: the travel is the pelvis's.
    out = tmp_path / "walk.fbx"
    result = run_cli(*DEMO, "--character", str(tmp_path / "manny.blend"), "--root-motion", "hips",
                     "--fbx", str(out), "--preset", "unreal")
    assert result.returncode == 0, result.stderr
    assert "travel on 'pelvis'" in result.stderr
    fbx = read_fbx(out, [("root", 0), ("root", DEMO_FRAMES - 1), ("pelvis", 0), ("pelvis", DEMO_FRAMES - 1)])
    root = fbx.world_positions[("root", DEMO_FRAMES - 1)] - fbx.world_positions[("root", 0)]
    pelvis = fbx.world_positions[("pelvis", DEMO_FRAMES - 1)] - fbx.world_positions[("pelvis", 0)]
    assert np.linalg.norm(root) < 1e-3 and np.hypot(pelvis[0], pelvis[2]) * 0.01 > 0.3


def test_the_characters_own_settings_apply_unless_a_flag_says_otherwise(tmp_path, registered_addon):
    """A character set up in Blender (Character panel: Root Motion, Hands Reach Targets, bone map)
    keeps that setup through the CLI; a flag overrides it, and a saved bone map that cannot be used
    is refused in one sentence that names the way out."""
    save_character(tmp_path / "manny.blend", "unreal", mesh=False)      # nothing saved: auto, off
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "manny.blend"))
    settings = bpy.data.objects["Hero"].sparse_mocap_bone_map
    settings.root_motion, settings.hands = "HIPS", True
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "set_up.blend"), copy=True)
    settings.map, settings.path = "JSON", str(tmp_path / "gone.json")
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "lost_map.blend"), copy=True)
    out = ("--fbx", str(tmp_path / "walk.fbx"))

    result = run_cli(*DEMO, "--character", str(tmp_path / "manny.blend"), *out)
    assert result.returncode == 0, result.stderr
    assert "travel on 'root'" in result.stderr and "hands reach" not in result.stderr
    assert "from its Character panel" not in result.stderr
    result = run_cli(*DEMO, "--character", str(tmp_path / "set_up.blend"), *out)
    assert result.returncode == 0, result.stderr
    assert "its own Root Motion 'hips', Hands Reach Targets from its Character panel" in result.stderr
    assert "travel on 'pelvis'; hands reach their targets" in result.stderr
    result = run_cli(*DEMO, "--character", str(tmp_path / "set_up.blend"), "--root-motion", "auto", "--no-hands", *out)
    assert result.returncode == 0, result.stderr
    assert "travel on 'root'" in result.stderr and "hands reach" not in result.stderr
    inputs = sorted(p.name for p in tmp_path.iterdir() if p.name != "walk.fbx")
    (tmp_path / "walk.fbx").unlink()
    refused(run_cli(*DEMO, "--character", str(tmp_path / "lost_map.blend"), *out), tmp_path, inputs,
            "--character: the bone map saved with 'Hero' cannot be used", "gone.json", "give --bone-map")
    result = run_cli(*DEMO, "--character", str(tmp_path / "lost_map.blend"), "--bone-map", "unreal", *out)
    assert result.returncode == 0, result.stderr
    (tmp_path / "walk.fbx").unlink()
    refused(run_cli(*DEMO, "--hands", *out), tmp_path, inputs, "--hands applies to a character rig")


def test_batch_onto_one_character(tmp_path):
    save_character(tmp_path / "hero.blend", "unreal")
    takes, out = tmp_path / "takes", tmp_path / "out"
    takes.mkdir()
    out.mkdir()
    frames = {}
    for name, height, seconds in (("walk_a", 1.70, 0.4), ("walk_b", 1.85, 0.6)):
        walk = demo_motion(skeleton_from_measurements(BodyMeasurements(height=height)), seconds=seconds)
        walk.save(takes / f"{name}.npz")
        frames[name] = walk.num_frames
    result = run_cli("--batch", "--motion", str(takes), "--character", str(tmp_path / "hero.blend"),
                     "--out-dir", str(out), "--format", "fbx", "--format", "blend")
    assert result.returncode == 0, result.stderr
    only_paths(result, out / "walk_a.fbx", out / "walk_b.fbx", out / "hero_takes.blend")
    for name, count in frames.items():
        assert fbx_takes(out / f"{name}.fbx") == [name]
        assert read_fbx(out / f"{name}.fbx").frames == count
    bpy.ops.wm.open_mainfile(filepath=str(out / "hero_takes.blend"))
    assert {"walk_a", "walk_b", "Hero_idle"} <= set(bpy.data.actions.keys())
    assert {name: bpy.data.actions[name].frame_range[1] for name in frames} == {k: float(v) for k, v in frames.items()}
    assert bpy.data.objects["Hero"].animation_data.action.name == "walk_b"


def tracker_file(tmp_path):
    from sparse_mocap_addon.core.trackers.formats import write_trackers
    from sparse_mocap_addon.core.trackers.recording import SIX_POINT, TrackerMounting
    from sparse_mocap_addon.core.trackers.synth import virtual_trackers

    walk = demo_motion(skeleton_from_measurements(BodyMeasurements(height=1.8)), seconds=0.5)
    path = tmp_path / "vr_take.csv"
    write_trackers(virtual_trackers(walk, SIX_POINT, {n: TrackerMounting() for n in SIX_POINT}), path,
                   convention="unity")
    return path


def shared(relative):
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (real recordings live in ../shared/data)")
    return str(path)


# Every input path onto the character: (the input's flags, take name, frames).
INPUTS = {
    "mocap": (lambda tmp: ["--mocap", shared("cmu62/62_01.bvh.gz"), "--fps", "30"], "62_01", 271),
    "landmarks": (lambda tmp: ["--landmarks", shared("landmarks_real/pose2sim/trc/S00_P00_T00_StaticTrial_0-12.trc"),
                               "--fps", "30"], "S00_P00_T00_StaticTrial_0-12", 12),
    "imu": (lambda tmp: ["--imu", shared("imu_real/transpose_example"), "--imu-duration", "0.5"],
            "transpose_example", 30),
    "trackers": (lambda tmp: ["--trackers", str(tracker_file(tmp)), "--tracker-mode", "analytic"], "vr_take", 30),
}


@pytest.mark.parametrize("kind", INPUTS)
def test_every_input_onto_a_character(tmp_path, kind):
    flags, take, frames = INPUTS[kind]
    flags = flags(tmp_path)
    bones = save_character(tmp_path / "hero.blend", "mixamo", mesh=False)["Hero"]
    out = tmp_path / f"{take}.fbx"
    result = run_cli(*flags, "--character", str(tmp_path / "hero.blend"), "--fbx", str(out), "--preset", "unreal")
    assert result.returncode == 0, result.stderr
    only_paths(result, out)
    assert f"onto character 'Hero' as action '{take}'" in result.stderr
    fbx = read_fbx(out)
    assert fbx_takes(out) == [take] and fbx.frames == frames
    assert set(fbx.bones) == bones | {"root"} and top_bones(fbx) == ["root"]


def test_demo_onto_a_rigify_character_for_unity(tmp_path):
    """Done means (issue 18): the CLI onto a Rigify rig, FBX for Unity with its DEF bones under the hips."""
    from .rigs import build_rigify

    bpy.ops.wm.read_factory_settings(use_empty=True)
    metarig, rig = build_rigify()
    bpy.data.objects.remove(metarig)
    deforming = {bone.name for bone in rig.data.bones if bone.use_deform}
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "rigify.blend"), copy=True)
    out = tmp_path / "walk.fbx"
    result = run_cli(*DEMO, "--character", str(tmp_path / "rigify.blend"), "--fbx", str(out))
    assert result.returncode == 0, result.stderr
    assert "bone map 'Rigify" in result.stderr
    fbx = read_fbx(out)
    assert set(fbx.bones) == deforming and fbx_takes(out) == ["demo_walk"] and fbx.frames == DEMO_FRAMES
    assert fbx.depths["DEF-thigh.L"] == fbx.depths["DEF-spine"] + 1 == min(fbx.depths[b] for b in fbx.bones) + 1
