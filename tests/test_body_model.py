"""SMPL-family model files (issue 20) with model files the tests make themselves (``tests/smpl_files.py``):
the numpy reader and its refusals, skinning parity with ``smplx``, betas -> Skeleton, the shape
inverse, and AMASS-style npz out and back."""

import pickle

import numpy as np
import pytest

from sparse_mocap_addon.core.body.amass import Y_UP_TO_Z_UP, body_model_metadata, load_amass, save_amass
from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.shape_inverse import ShapeInverse, shape_from_skeleton
from training.smplx_model import load_smplx_model
from sparse_mocap_addon.core.body.smpl_model import BodyModelError, load_body_model, pose_vertices, skeleton_from_betas
from sparse_mocap_addon.core.kinematics.motion import Motion
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat, quat_angle_between
from sparse_mocap_addon.core.kinematics.skeleton import forward_kinematics
from tests.smpl_files import make_model_arrays, write_model


@pytest.fixture(scope="module")
def smpl_arrays():
    return make_model_arrays("smpl")


@pytest.fixture(scope="module")
def model_file(smpl_arrays, tmp_path_factory):
    return write_model(smpl_arrays, tmp_path_factory.mktemp("model") / "SMPL_NEUTRAL.pkl")


@pytest.fixture(scope="module")
def model(model_file):
    return load_body_model(model_file)


def _random_pose(frames, seed=0, spread=0.4):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, spread, (frames, 24, 3)), rng.normal(0.0, 0.3, (frames, 3)), rng.normal(0.0, 1.0, 10)


# -- reading ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, sparse", [("SMPL_FEMALE.npz", False), ("basicModel_m_lbs.pkl", False),
                                          ("model.pkl", True)])
def test_npz_pkl_and_sparse_regressor_files_read_the_same(smpl_arrays, tmp_path, name, sparse):
    model = load_body_model(write_model(smpl_arrays, tmp_path / name, sparse_regressor=sparse))
    assert model.kind == "smpl" and model.num_joints == 24 and model.num_betas == 10
    assert model.gender == {"SMPL_FEMALE.npz": "female", "basicModel_m_lbs.pkl": "male"}.get(name, "neutral")
    for key, value in (("v_template", model.v_template), ("J_regressor", model.j_regressor),
                       ("weights", model.weights), ("posedirs", model.posedirs)):
        assert np.array_equal(value, smpl_arrays[key]), key


@pytest.mark.parametrize("kind, joints", [("smplh", 52), ("smplx", 55)])
def test_smplh_and_smplx_layouts_are_recognised(tmp_path, kind, joints):
    model = load_body_model(write_model(make_model_arrays(kind, posedirs=False), tmp_path / f"{kind}.npz"))
    assert (model.kind, model.num_joints, model.posedirs) == (kind, joints, None)
    rest = skeleton_from_betas(model).rest_positions()
    assert np.allclose(rest[:22] - rest[0], model.rest_joints()[:22] - model.rest_joints()[0])


def test_files_that_are_no_smpl_model_are_refused_in_one_sentence(smpl_arrays, tmp_path):
    broken = dict(smpl_arrays)
    del broken["weights"]
    with pytest.raises(BodyModelError, match=r"broken.npz: not an SMPL model file \(it lacks weights\)"):
        load_body_model(write_model(broken, tmp_path / "broken.npz"))
    wrong_tree = dict(smpl_arrays, kintree_table=smpl_arrays["kintree_table"][:, ::-1].copy())
    with pytest.raises(BodyModelError, match="kinematic tree is not SMPL's"):
        load_body_model(write_model(wrong_tree, tmp_path / "tree.npz"))
    few = {k: (v[:20] if k in ("J_regressor",) else v[:, :20] if k == "weights" else v)
           for k, v in smpl_arrays.items() if k != "posedirs"}
    few["kintree_table"] = smpl_arrays["kintree_table"][:, :20]
    with pytest.raises(BodyModelError, match="20 joints; an SMPL model has 24, SMPL\\+H 52 and SMPL-X 55"):
        load_body_model(write_model(few, tmp_path / "few.npz"))
    (tmp_path / "text.pkl").write_text("not a model")
    with pytest.raises(BodyModelError, match="text.pkl: not an SMPL model file"):
        load_body_model(tmp_path / "text.pkl")
    with pytest.raises(BodyModelError, match="no such file"):
        load_body_model(tmp_path / "absent.npz")


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    class Payload:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Payload()}))
    with pytest.raises(BodyModelError, match="not part of a model file"):
        load_body_model(path)
    assert not (tmp_path / "ran").exists()


# -- skinning ------------------------------------------------------------------------------------------------

def test_numpy_skinning_matches_smplx_forward_pass(model, model_file):
    torch = pytest.importorskip("torch")
    pytest.importorskip("smplx")

    aa, transl, betas = _random_pose(6)
    body = load_smplx_model(model_file, num_betas=10)
    out = body(betas=torch.tensor(betas)[None].repeat(6, 1), global_orient=torch.tensor(aa[:, 0]),
               body_pose=torch.tensor(aa[:, 1:].reshape(6, -1)), transl=torch.tensor(transl))
    ours = pose_vertices(model, betas, axis_angle_to_quat(aa), transl, floor_at_zero=False)
    assert np.abs(out.vertices.detach().numpy() - ours).max() < 1e-5          # metres: 0.01 mm
    resting = pose_vertices(model, betas, np.tile([1.0, 0.0, 0.0, 0.0], (6, 24, 1)), transl, floor_at_zero=False)
    assert np.abs(ours - resting).max() > 0.05                                # the pose matters


def test_the_skeleton_of_betas_poses_like_the_mesh_and_stands_on_the_floor(model):
    aa, _, betas = _random_pose(4, seed=3)
    skeleton = skeleton_from_betas(model, betas)
    rest = np.repeat(skeleton.offsets[:1], 4, axis=0)
    standing = pose_vertices(model, betas, np.tile([1.0, 0, 0, 0], (4, 24, 1)), rest)
    assert abs(standing[..., 1].min()) < 1e-9
    assert standing[..., 1].max() == pytest.approx(skeleton.stature())
    rotations = axis_angle_to_quat(aa)
    positions, _ = forward_kinematics(rotations, rest, skeleton)
    # Posing the mesh moves the joint regressor's joints where our FK puts them, for rigidly skinned joints.
    mesh = pose_vertices(model, betas, rotations, rest)
    regressed = np.einsum("jv,tvc->tjc", model.j_regressor, mesh)
    assert np.abs(regressed[:, [0, 3, 6, 9, 12, 15]] - positions[:, [0, 3, 6, 9, 12, 15]]).max() < 0.02


# -- shape inverse ---------------------------------------------------------------------------------------------

def test_the_shape_inverse_rebuilds_skeletons_the_model_can_express_exactly(model):
    inverse = ShapeInverse(model, num_betas=10)
    rng = np.random.default_rng(5)
    for _ in range(10):
        betas = rng.normal(0.0, 1.5, 10)
        fit = inverse.fit(skeleton_from_betas(model, betas))
        assert fit.joint_error_mm.max() < 0.5
        assert np.allclose(fit.betas, betas, atol=1e-3)
        assert max(abs(v) for v in fit.lengths_error_cm.values()) < 0.01


def test_the_shape_inverse_of_a_measured_body_keeps_height_arms_and_legs_within_a_centimetre(model):
    fit = shape_from_skeleton(model, skeleton_from_measurements(default_measurements(height=1.62)), num_betas=10)
    assert max(abs(v) for v in fit.lengths_error_cm.values()) < 1.0
    assert fit.bone_residual_mm.shape == (24,) and fit.bone_residual_mm[0] == 0.0
    fewer = shape_from_skeleton(model, skeleton_from_measurements(default_measurements(height=1.62)), num_betas=3)
    assert len(fewer.betas) == 3 and fewer.mean_joint_error_mm >= fit.mean_joint_error_mm - 1e-9
    with pytest.raises(ValueError, match="num_betas must be 1 to 10"):
        ShapeInverse(model, num_betas=11)


def test_many_skeletons_solve_in_one_product(model):
    inverse = ShapeInverse(model, num_betas=10)
    rng = np.random.default_rng(2)
    betas = rng.normal(0.0, 1.0, (50, 10))
    solved = inverse.betas([skeleton_from_betas(model, b) for b in betas])
    assert np.allclose(solved, betas, atol=1e-3)


# -- AMASS npz ------------------------------------------------------------------------------------------------

def _motion_on(model, betas, frames=30, seed=7):
    aa, _, _ = _random_pose(frames, seed=seed, spread=0.3)
    skeleton = skeleton_from_betas(model, betas)
    translation = skeleton.offsets[0] + np.linspace(0.0, 1.0, frames)[:, None] * (0.5, 0.0, 1.0)
    return Motion(60.0, axis_angle_to_quat(aa), translation, skeleton,
                  {"source": "test", "body_model": body_model_metadata(model, betas)})


def test_amass_npz_round_trips_and_opens_in_smplx_as_the_same_mesh(model, model_file, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("smplx")

    betas = np.random.default_rng(8).normal(0.0, 1.0, 10)
    motion = _motion_on(model, betas)
    path = save_amass(motion, tmp_path / "take.npz", model)
    with np.load(path) as data:
        assert data["poses"].shape == (30, 72) and str(data["gender"]) == "neutral"
        assert float(data["mocap_framerate"]) == 60.0
        poses, trans = data["poses"], data["trans"]
    body = load_smplx_model(model_file, num_betas=10)
    out = body(betas=torch.tensor(betas)[None].repeat(30, 1), global_orient=torch.tensor(poses[:, :3]),
               body_pose=torch.tensor(poses[:, 3:]), transl=torch.tensor(trans)).vertices.detach().numpy()
    ours = pose_vertices(model, betas, motion.rotations, motion.translation) @ Y_UP_TO_Z_UP.T
    assert np.abs(out - ours).max() < 1e-5
    back = load_amass(path, model)
    assert np.degrees(quat_angle_between(back.rotations, motion.rotations)).max() < 1e-4
    assert np.allclose(back.translation, motion.translation) and back.fps == 60.0
    assert np.allclose(back.metadata["body_model"]["betas"], betas)
    assert np.allclose(back.skeleton.offsets, motion.skeleton.offsets)


def test_a_file_that_is_no_amass_motion_is_refused(model, tmp_path):
    np.savez(tmp_path / "other.npz", data=np.zeros(3))
    with pytest.raises(BodyModelError, match="other.npz: not an AMASS-style motion \\(it lacks 'poses'\\)"):
        load_amass(tmp_path / "other.npz", model)
    motion = _motion_on(model, np.zeros(10))
    motion.metadata.pop("body_model")
    with pytest.raises(BodyModelError, match="the motion has no betas"):
        save_amass(motion, tmp_path / "x.npz", model)
    assert not (tmp_path / "x.npz").exists()


def test_a_motion_keeps_its_betas_through_its_own_file(model, tmp_path):
    motion = _motion_on(model, np.arange(10) * 0.1)
    back = Motion.load(motion.save(tmp_path / "m.npz"))
    assert back.metadata["body_model"] == motion.metadata["body_model"]
