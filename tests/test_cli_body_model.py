"""The CLI with the user's SMPL model file (issue 20): --smpl-model (+ --smpl-gender, --betas) gives the new
armature the model's body fitted to the input's skeleton, --amass writes the result as AMASS-style npz;
the refusals name the flag, exit with 2 and write nothing. Model files made by the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")

from sparse_mocap_addon.core.body.amass import load_amass  # noqa: E402
from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.shape_inverse import ShapeInverse  # noqa: E402
from sparse_mocap_addon.core.body.smpl_model import load_body_model  # noqa: E402
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics  # noqa: E402
from sparse_mocap_addon.core.mocap.formats.bvh import write_bvh  # noqa: E402
from sparse_mocap_addon.core.mocap.source import SourceMotion  # noqa: E402

from .cli_support import check_fbx, only_paths  # noqa: E402
from .smpl_files import make_model_arrays, write_model  # noqa: E402


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sparse_mocap_addon", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return write_model(make_model_arrays("smplh", seed=3), tmp_path_factory.mktemp("model") / "SMPLH_MALE.npz")


def test_demo_onto_the_smpl_body_to_fbx_blend_and_amass(tmp_path, model_file, registered_addon):
    import bpy

    from sparse_mocap_addon.blender.smpl_body import stored_body

    fbx, blend, amass = tmp_path / "walk.fbx", tmp_path / "walk.blend", tmp_path / "walk.npz"
    result = run_cli("--demo", "--demo-seconds", "1", "--height", "1.85", "--smpl-model", model_file, "--betas", "8",
                     "--fbx", fbx, "--blend", blend, "--amass", amass)
    assert result.returncode == 0, result.stderr
    only_paths(result, blend, fbx, amass)
    assert "with SMPLH_MALE.npz's body: SMPLH male body, 8 betas; fit: joints" in result.stderr
    check_fbx(fbx, "demo_walk", frames=60)

    model = load_body_model(model_file)
    motion = load_amass(amass, model)
    assert motion.num_frames == 60 and motion.fps == pytest.approx(60.0)
    assert motion.metadata["body_model"]["gender"] == "male"
    betas = np.array(motion.metadata["body_model"]["betas"])
    assert np.all(betas[8:] == 0.0) and np.any(betas[:8] != 0.0)
    # The body is the core shape inverse's fit to the 1.85 m skeleton, and it stands as tall.
    fit = ShapeInverse(model, 8).fit(skeleton_from_measurements(BodyMeasurements(height=1.85)))
    assert np.allclose(betas[:8], fit.betas, atol=1e-9)
    assert motion.skeleton.stature() == pytest.approx(1.85, abs=0.01)
    # The file's motion is the one baked (the .blend's armature's action read back).
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    from sparse_mocap_addon.blender.action_motion import read_action_motion

    obj = bpy.data.objects["Subject"]
    assert np.allclose(stored_body(obj)["betas"], betas)
    baked = read_action_motion(obj).motion
    assert np.abs(np.abs(np.sum(baked.rotations * motion.rotations, axis=-1)) - 1.0).max() < 1e-6
    assert np.abs(baked.translation - motion.translation).max() < 1e-5
    assert len([o for o in bpy.data.objects if o.type == "MESH"][0].data.vertices) == len(model.v_template)


def test_mocap_take_onto_the_smpl_body(tmp_path, model_file):
    """A --mocap take: the performer's body measured from the file, then the SMPL body fitted to it."""
    take = tmp_path / "walk.bvh"
    write_bvh(take, SourceMotion.from_motion(demo_motion(seconds=0.5, fps=30.0)))
    amass = tmp_path / "walk.npz"
    result = run_cli("--mocap", take, "--smpl-model", model_file, "--smpl-gender", "neutral", "--amass", amass)
    assert result.returncode == 0, result.stderr
    only_paths(result, amass)
    model = load_body_model(model_file, "neutral")
    motion = load_amass(amass, model)
    assert motion.num_frames == 15 and motion.metadata["body_model"]["gender"] == "neutral"
    # The feet stay near the floor through the take (the body's own skeleton under the motion).
    positions, _ = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    assert -0.03 < positions[:, [7, 8], 1].min() < 0.15


@pytest.mark.parametrize("args, message", [
    (["--amass", "{tmp}/a.npz"], "--amass needs --smpl-model FILE"),
    (["--betas", "5", "--fbx", "{tmp}/a.fbx"], "--betas needs --smpl-model FILE"),
    (["--smpl-gender", "male", "--fbx", "{tmp}/a.fbx"], "--smpl-gender needs --smpl-model FILE"),
    (["--smpl-model", "{tmp}/absent.pkl", "--fbx", "{tmp}/a.fbx"], "--smpl-model: {tmp}/absent.pkl: no such file"),
    (["--smpl-model", "{tmp}/text.pkl", "--fbx", "{tmp}/a.fbx"], "--smpl-model: {tmp}/text.pkl: not an SMPL model file"),
    (["--smpl-model", "{model}", "--betas", "11", "--fbx", "{tmp}/a.fbx"], "--betas 11 is out of range"),
    (["--smpl-model", "{model}", "--amass", "{tmp}/a.amass"], "--amass needs a file name ending in .npz"),
    (["--smpl-model", "{model}", "--character", "{tmp}/rig.blend", "--fbx", "{tmp}/a.fbx"],
     "--smpl-model gives a new SMPL armature your model's body; it cannot go with --character"),
])
def test_refusals_name_the_flag_and_write_nothing(tmp_path, model_file, args, message):
    (tmp_path / "text.pkl").write_text("not a model")
    (tmp_path / "rig.blend").write_bytes(b"")
    before = sorted(tmp_path.iterdir())
    result = run_cli(*[a.format(tmp=tmp_path, model=model_file) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message.format(tmp=tmp_path) in lines[0], \
        result.stderr
    assert sorted(tmp_path.iterdir()) == before and result.stdout == ""

