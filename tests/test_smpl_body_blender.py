"""The user's SMPL body in Blender (issue 20), with model files the tests make (``tests/smpl_files.py``)
and the real bpy module: the scene's SMPL Model File setting, Create Personalised Armature giving the
fitted body (mesh, vertex groups, shape keys, bones), the mesh deforming as the numpy skinning says,
Import Mocap's new armature, FBX with the mesh, AMASS out and in through the operators, and nothing
changed without a model file."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.blender.action_motion import read_action_motion  # noqa: E402
from sparse_mocap_addon.blender.coords import core_to_blender_vectors  # noqa: E402
from sparse_mocap_addon.blender.export import export_fbx  # noqa: E402
from sparse_mocap_addon.blender.smpl_body import bone_weights, export_amass, stored_body  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.mesh import body_mesh  # noqa: E402
from sparse_mocap_addon.core.body.shape_inverse import ShapeInverse  # noqa: E402
from sparse_mocap_addon.core.body.smpl_model import (  # noqa: E402
    BodyModelError, load_body_model, pose_vertices, skeleton_from_betas)
from sparse_mocap_addon.core.kinematics.skeleton import JOINT_NAMES  # noqa: E402
from sparse_mocap_addon.core.mocap.formats.bvh import write_bvh  # noqa: E402
from sparse_mocap_addon.core.mocap.source import SourceMotion  # noqa: E402

from .blender_helpers import counts  # noqa: E402
from .smpl_files import make_model_arrays, write_model  # noqa: E402

SUBJECT = dict(height=1.80, sex="female", arm_length=0.58, leg_length=0.86)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """An SMPL file (.pkl, with pose correctives) and an SMPL-X file (.npz) the tests made."""
    folder = tmp_path_factory.mktemp("models")
    return {"smpl": write_model(make_model_arrays("smpl", seed=1), folder / "SMPL_FEMALE.pkl"),
            "smplx": write_model(make_model_arrays("smplx", seed=2), folder / "SMPLX_NEUTRAL.npz")}


@pytest.fixture
def addon(registered_addon, blank_scene):
    return registered_addon


def use_model(path, num_betas=10):
    settings = bpy.context.scene.sparse_mocap_body_model
    settings.num_betas = num_betas
    settings.filepath = str(path)
    return settings


def create_subject():
    subject = bpy.context.scene.sparse_mocap_new_subject
    for key, value in SUBJECT.items():
        setattr(subject, key, value)
    assert bpy.ops.sparse_mocap.create_armature() == {"FINISHED"}
    return bpy.context.active_object


def mesh_of(obj):
    meshes = [child for child in obj.children if child.type == "MESH"]
    assert len(meshes) == 1
    return meshes[0]


def vertices(obj, evaluated=True) -> np.ndarray:
    """The mesh's vertices (Blender's frame): evaluated (shape keys and armature applied) or as stored."""
    source = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()) if evaluated else obj
    mesh = source.to_mesh() if evaluated else obj.data
    co = np.empty(3 * len(mesh.vertices))
    mesh.vertices.foreach_get("co", co)
    if evaluated:
        source.to_mesh_clear()
    return co.reshape(-1, 3)


def rigid_model(path):
    """The model without pose correctives: Blender skins linearly (smpl_body's docstring)."""
    return dataclasses.replace(load_body_model(path), posedirs=None)


# -- Create Personalised Armature --------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["smpl", "smplx"])
def test_create_personalised_armature_gives_the_fitted_smpl_body(addon, model_files, kind):
    settings = use_model(model_files[kind])
    assert settings.readable and settings.status.startswith(f"{kind.upper()} ")
    obj = create_subject()
    model = load_body_model(model_files[kind])
    measurements = obj.sparse_mocap_subject.to_measurements()      # SUBJECT as Blender stores it (float32)
    fit = ShapeInverse(model, 10).fit(skeleton_from_measurements(measurements))

    stored = stored_body(obj)
    assert (stored["kind"], stored["gender"], stored["num_betas"]) == (kind, model.gender, 10)
    assert np.allclose(stored["betas"][:10], fit.betas, atol=1e-9)
    assert stored["fit"]["mean_joint_error_mm"] == pytest.approx(fit.mean_joint_error_mm)

    body = mesh_of(obj)
    assert len(body.data.vertices) == len(model.v_template)
    assert len(body.data.polygons) == len(model.faces)
    keys = body.data.shape_keys.key_blocks
    assert [k.name for k in keys] == ["Basis"] + [f"Shape {b:02d}" for b in range(10)]
    assert np.allclose([k.value for k in keys[1:]], fit.betas, atol=1e-6)
    # Vertex groups: the model's weights on the 24 bones (SMPL-X's hands, jaw and eyes folded in).
    assert [g.name for g in body.vertex_groups] == list(JOINT_NAMES)
    weights = bone_weights(model)
    for v in (0, 101, len(model.v_template) - 1):
        got = {body.vertex_groups[g.group].name: g.weight for g in body.data.vertices[v].groups}
        want = {JOINT_NAMES[j]: weights[v, j] for j in np.flatnonzero(weights[v])}
        assert got.keys() == want.keys() and all(abs(got[k] - want[k]) < 1e-6 for k in want)
    assert np.allclose(weights.sum(axis=1), 1.0)
    # The bones are where skeleton_from_betas puts them.
    skeleton = skeleton_from_betas(model, fit.betas)
    heads = np.array([obj.data.bones[name].head_local for name in JOINT_NAMES])
    assert np.abs(heads - core_to_blender_vectors(skeleton.rest_positions())).max() < 1e-5
    # At rest the mesh is the shaped model standing on the floor (under its lowest template vertex).
    shaped = model.shaped(fit.betas)
    rest = core_to_blender_vectors(shaped - (0.0, shaped[model.height_vertices()[1], 1], 0.0))
    assert np.abs(vertices(body) - rest).max() < 1e-5


@pytest.mark.parametrize("kind", ["smpl", "smplx"])
def test_posing_deforms_the_mesh_as_the_numpy_skinning(addon, model_files, kind):
    use_model(model_files[kind])
    obj = create_subject()
    assert bpy.ops.sparse_mocap.bake_demo(seconds=1.0) == {"FINISHED"}
    motion = read_action_motion(obj).motion
    model, betas = rigid_model(model_files[kind]), stored_body(obj)["betas"]
    body = mesh_of(obj)
    scene = bpy.context.scene
    for frame in (0, 23, motion.num_frames - 1):
        scene.frame_set(scene.frame_start + frame)
        want = pose_vertices(model, betas, motion.rotations[frame:frame + 1], motion.translation[frame:frame + 1])[0]
        error = np.linalg.norm(vertices(body) - core_to_blender_vectors(want), axis=1)
        assert error.max() < 1e-3, (frame, error.max())
    moved = pose_vertices(model, betas, motion.rotations[23:24], motion.translation[23:24])[0]
    assert np.abs(moved - model.shaped(betas)).max() > 0.05          # the frames compared are real poses


def test_import_mocap_makes_its_new_armature_with_the_smpl_body(addon, model_files, tmp_path):
    """Reconstructions and Import Mocap create armatures through create_armature (bake_onto_armature)."""
    walk = tmp_path / "walk.bvh"
    write_bvh(walk, SourceMotion.from_motion(demo_motion(seconds=0.5, fps=30.0)))
    use_model(model_files["smpl"])
    assert bpy.ops.sparse_mocap.import_mocap(filepath=str(walk), target="PERFORMER", fps="FILE") == {"FINISHED"}
    obj = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert stored_body(obj)["kind"] == "smpl"
    assert len(mesh_of(obj).data.vertices) == len(load_body_model(model_files["smpl"]).v_template)
    # The take was fitted to the fitted body's legs (the feet stage): its soles stay on the floor.
    scene, lowest = bpy.context.scene, []
    for frame in range(scene.frame_start, scene.frame_end + 1, 3):
        scene.frame_set(frame)
        body = mesh_of(obj).evaluated_get(bpy.context.evaluated_depsgraph_get())
        heights = np.array([(body.matrix_world @ v.co).z for v in body.data.vertices])
        lowest.append(heights.min())
    assert abs(min(lowest)) < 0.015


# -- without a model file, and a bad one -------------------------------------------------------------

def test_without_a_model_file_the_default_body_is_unchanged(addon, model_files):
    use_model(model_files["smpl"])
    use_model("")                                       # set, then cleared: the default again
    obj = create_subject()
    assert stored_body(obj) is None and "sparse_mocap_body_model" not in obj.keys()
    body = mesh_of(obj)
    assert body.data.shape_keys is None
    skeleton = skeleton_from_measurements(BodyMeasurements(**SUBJECT))
    expected, faces, _ = body_mesh(skeleton)
    assert len(body.data.polygons) == len(faces)
    assert np.allclose(vertices(body, evaluated=False), core_to_blender_vectors(expected), atol=1e-6)
    heads = np.array([obj.data.bones[name].head_local for name in JOINT_NAMES])
    assert np.allclose(heads, core_to_blender_vectors(skeleton.rest_positions()), atol=1e-6)


def test_a_bad_model_file_is_refused_in_one_sentence(addon, tmp_path):
    bad = tmp_path / "SMPL_MALE.pkl"
    bad.write_text("not a model")
    settings = use_model(bad)
    assert not settings.readable and settings.status.startswith(f"{bad}: not an SMPL model file")
    before = counts()
    with pytest.raises(RuntimeError, match="SMPL_MALE.pkl: not an SMPL model file") as error:
        create_subject()
    assert len(str(error.value).strip().splitlines()) == 1
    assert counts() == before
    use_model(tmp_path / "absent.npz")
    assert settings.status == f"{tmp_path / 'absent.npz'}: no such file"


# -- exports -----------------------------------------------------------------------------------------

# ufbx in a child process that leaves with os._exit (tests/fbx_reader.py says why): the meshes, the
# bones of their skin clusters and their blend shape channels (name, weight, largest offset).
_FBX_MESHES = r"""
import json, os, sys
import ufbx
scene = ufbx.load_file(sys.argv[1])
out, kept = [], []          # every wrapper kept alive until os._exit (freeing one can crash)
for mesh in list(scene.meshes):
    info = {"vertices": int(mesh.num_vertices), "bones": [], "shapes": []}
    for skin in list(mesh.skin_deformers):
        clusters = list(skin.clusters)
        kept += [skin, clusters]
        info["bones"] += [cluster.bone_node.name for cluster in clusters]
    for blend in list(mesh.blend_deformers):
        channels = list(blend.channels)
        kept += [blend, channels]
        for channel in channels:
            keys = list(channel.keyframes)
            kept.append(keys)
            for key in keys:
                shape = key.shape
                offsets = list(shape.position_offsets)
                kept += [shape, offsets]
                info["shapes"].append([channel.name, float(channel.weight),
                                       max(abs(c) for o in offsets for c in (o.x, o.y, o.z))])
    out.append(info)
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""


def fbx_meshes(path) -> list:
    result = subprocess.run([sys.executable, "-c", _FBX_MESHES, str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    return json.loads(result.stdout)


@pytest.fixture
def baked_body(addon, model_files):
    pytest.importorskip("ufbx", reason="the ufbx reader is installed by scripts/setup.sh")
    use_model(model_files["smpl"])
    obj = create_subject()
    assert bpy.ops.sparse_mocap.bake_demo(seconds=0.5) == {"FINISHED"}
    return obj


def _check_fbx_body(obj, path, metres_per_unit):
    model = load_body_model(bpy.context.scene.sparse_mocap_body_model.filepath)
    (mesh,) = fbx_meshes(path)
    assert mesh["vertices"] == len(model.v_template)
    assert set(JOINT_NAMES) <= set(mesh["bones"])
    betas = stored_body(obj)["betas"][:10]
    assert [name for name, _, _ in mesh["shapes"]] == [f"Shape {b:02d}" for b in range(10)]
    assert np.allclose([weight for _, weight, _ in mesh["shapes"]], betas, atol=1e-5)
    # Each blend shape moves the vertices by its shape direction with the feet kept on the floor
    # (a few cm), in the file's unit: the largest offset of each.
    directions = model.shapedirs[:, :, :10].copy()
    directions[:, 1] -= directions[model.height_vertices()[1], 1]
    largest = np.abs(directions).max(axis=(0, 1)) / metres_per_unit
    assert np.allclose([offset for _, _, offset in mesh["shapes"]], largest, rtol=1e-3)


def test_unity_fbx_holds_the_mesh_its_skin_and_shape_keys(baked_body, tmp_path):
    _check_fbx_body(baked_body, export_fbx(baked_body, tmp_path / "body.fbx", preset="UNITY"), 1.0)


def test_unreal_fbx_holds_the_mesh_its_skin_and_shape_keys(baked_body, tmp_path):
    _check_fbx_body(baked_body, export_fbx(baked_body, tmp_path / "body.fbx", preset="UNREAL"), 0.01)


def test_amass_export_and_import_round_trip_through_the_operators(baked_body, tmp_path):
    obj = baked_body
    path = tmp_path / "walk.npz"
    assert bpy.ops.sparse_mocap.export_amass(filepath=str(path)) == {"FINISHED"}
    motion = read_action_motion(obj).motion
    with np.load(path) as data:
        assert data["poses"].shape == (motion.num_frames, 72) and data["trans"].shape == (motion.num_frames, 3)
        assert np.allclose(data["betas"], stored_body(obj)["betas"])
        assert str(data["gender"]) == "female" and float(data["mocap_framerate"]) == pytest.approx(motion.fps)

    assert bpy.ops.sparse_mocap.import_amass(filepath=str(path)) == {"FINISHED"}
    back = bpy.context.active_object
    assert back != obj and back.name.startswith("walk")
    assert np.allclose(stored_body(back)["betas"], stored_body(obj)["betas"], atol=1e-9)
    keys = mesh_of(back).data.shape_keys.key_blocks
    assert np.allclose([k.value for k in keys[1:]], stored_body(obj)["betas"][:10], atol=1e-6)
    heads = [np.array([o.data.bones[n].head_local for n in JOINT_NAMES]) for o in (obj, back)]
    assert np.abs(heads[0] - heads[1]).max() < 1e-6
    again = read_action_motion(back).motion
    assert again.num_frames == motion.num_frames
    dots = np.abs(np.sum(again.rotations * motion.rotations, axis=-1))
    assert np.all(dots > 1.0 - 1e-9)
    assert np.abs(again.translation - motion.translation).max() < 1e-5


def test_amass_needs_an_smpl_body_and_the_model_file(addon, model_files, tmp_path):
    obj = create_subject()                                  # no model file: the default body
    assert bpy.ops.sparse_mocap.bake_demo(seconds=0.5) == {"FINISHED"}
    assert not bpy.ops.sparse_mocap.export_amass.poll()
    with pytest.raises(BodyModelError, match=f"armature '{obj.name}' has no SMPL body"):
        export_amass(obj, tmp_path / "a.npz")
    before = counts()
    with pytest.raises(RuntimeError, match="importing AMASS needs the SMPL model file"):
        bpy.ops.sparse_mocap.import_amass(filepath=str(tmp_path / "a.npz"))
    assert counts() == before and list(tmp_path.iterdir()) == []
    use_model(model_files["smpl"])                          # a file that is no AMASS motion
    (tmp_path / "other.npz").write_bytes(b"PK not a zip")
    with pytest.raises(RuntimeError, match="other.npz: not a readable .npz file"):
        bpy.ops.sparse_mocap.import_amass(filepath=str(tmp_path / "other.npz"))
    assert counts() == before
    assert os.listdir(tmp_path) == ["other.npz"]


def test_a_motion_read_back_from_the_smpl_body_carries_its_betas(baked_body):
    from sparse_mocap_addon.blender.action_motion import read_action_motion

    motion = read_action_motion(baked_body).motion
    assert motion.metadata["body_model"]["betas"] == stored_body(baked_body)["betas"]
    assert motion.metadata["body_model"]["kind"] == "smpl"
