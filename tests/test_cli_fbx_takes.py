"""FBX exports name their take after the exported action (Blender's exporter would call it after the
scene, "Scene"), leaving the scene names as they were; checked with ufbx, not Blender."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")
pytest.importorskip("ufbx", reason="the ufbx reader is installed by scripts/setup.sh")

from sparse_mocap_addon.blender.armature import create_armature  # noqa: E402
from sparse_mocap_addon.blender.bake import bake_motion  # noqa: E402
from sparse_mocap_addon.blender.export import export_fbx  # noqa: E402

from .cli_support import check_fbx  # noqa: E402


@pytest.mark.parametrize("preset", ["UNITY", "UNREAL"])
def test_the_take_is_named_after_the_action_and_the_scenes_keep_their_names(addon, random_motion, tmp_path, preset):
    scene = bpy.context.scene
    other = bpy.data.scenes.new("jump_03")          # another scene already holds the action's name
    obj = create_armature(random_motion.skeleton, name="Subject", with_mesh=False)
    bake_motion(obj, random_motion, action_name="jump_03")
    before = scene.name
    path = export_fbx(obj, tmp_path / "jump.fbx", preset=preset)
    check_fbx(path, "jump_03", frames=random_motion.num_frames)
    assert scene.name == before and other.name == "jump_03"
