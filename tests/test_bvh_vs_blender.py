"""Our BVH reader against an independent one: Blender's own BVH importer, on real files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from sparse_mocap_addon.core.mocap.formats.bvh import read_bvh
from tests.conftest import SHARED_DATA

FILES = ("cmu62/62_01.bvh.gz", "cmu_salsa/60_01_scaled.bvh.gz", "cmu_misc_bvh/131_01.bvh.gz",
         "cmu_bvh/005/005_05.bvh.gz")


@pytest.mark.parametrize("relative", FILES)
def test_joint_positions_match_blenders_bvh_importer(relative, blank_scene, tmp_path):
    import bpy

    packed = SHARED_DATA / relative
    if not packed.exists():
        pytest.skip(f"shared data file {packed} is absent")
    path = tmp_path / packed.name[:-3]
    path.write_bytes(gzip.decompress(packed.read_bytes()))
    bpy.ops.import_anim.bvh(filepath=str(path), axis_forward="-Z", axis_up="Y", rotate_mode="NATIVE",
                            global_scale=1.0, update_scene_fps=False, update_scene_duration=True)
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    source = read_bvh(path)
    positions, _ = source.global_transforms()
    names = list(source.skeleton.names)
    size = np.ptp(positions[0], axis=0).max()
    for frame in (0, source.num_frames // 2, source.num_frames - 1):
        blank_scene.frame_set(blank_scene.frame_start + frame)
        for bone in armature.pose.bones:
            ours = positions[frame, names.index(bone.name)]
            theirs = np.array(armature.matrix_world @ bone.head)
            # Blender's importer turns the file's Y up into Z up: (x, y, z) -> (x, -z, y).
            np.testing.assert_allclose(theirs, (ours[0], -ours[2], ours[1]), atol=1e-5 * size + 1e-6)
