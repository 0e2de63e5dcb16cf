"""The optional smplx loader (issue 20): the user's file as smplx's own body module, torch imported only
when it is called, one sentence when smplx is absent or the file is no model. Model files made by the tests."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sparse_mocap_addon.core.body.smpl_model import BodyModelError, load_body_model, pose_vertices
from training.smplx_model import NOT_INSTALLED, load_smplx_model
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat
from tests.smpl_files import make_model_arrays, write_model


def test_importing_the_loader_imports_neither_smplx_nor_torch():
    code = ("import sys; import training.smplx_model; "
            "print(sorted(m for m in ('torch', 'smplx') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_an_smpl_file_poses_in_smplx_as_in_the_numpy_skinning(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("smplx")
    path = write_model(make_model_arrays("smpl", seed=4), tmp_path / "SMPL_MALE.pkl")
    body = load_smplx_model(path)
    rng = np.random.default_rng(4)
    aa, transl, betas = rng.normal(0.0, 0.4, (3, 24, 3)), rng.normal(0.0, 0.3, (3, 3)), rng.normal(0.0, 1.0, 10)
    out = body(betas=torch.tensor(betas)[None].repeat(3, 1), global_orient=torch.tensor(aa[:, 0]),
               body_pose=torch.tensor(aa[:, 1:].reshape(3, -1)), transl=torch.tensor(transl))
    ours = pose_vertices(load_body_model(path), betas, axis_angle_to_quat(aa), transl, floor_at_zero=False)
    assert body.gender == "male"
    assert np.abs(out.vertices.detach().numpy() - ours).max() < 1e-5


def test_refusals_are_one_sentence(tmp_path, monkeypatch):
    bad = tmp_path / "model.pkl"
    bad.write_text("not a model")
    pytest.importorskip("smplx")
    with pytest.raises(BodyModelError, match="model.pkl: not an SMPL model file"):
        load_smplx_model(bad)
    monkeypatch.setitem(sys.modules, "smplx", None)          # as if it were not installed
    with pytest.raises(BodyModelError, match=f"^{NOT_INSTALLED}$"):
        load_smplx_model(bad)
