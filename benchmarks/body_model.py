"""The SMPL family's maths on model files the tests make (issue 20): shape inverse and skinning.

No licensed model file exists here: the figures use ``tests/smpl_files.py``'s model in the SMPL layout
(the project's body mesh on a 1.75 m skeleton, affine shape blend shapes, pose correctives), padded
to 6,890 vertices like SMPL's.

- ``shape_inverse_joint_error_mm``: rest joints rebuilt from the solved betas against the target
  skeleton (pelvis on pelvis), on 200 skeletons the model expresses exactly (random betas); mean and
  worst. Also the fit of table bodies (1.40-2.10 m) the model cannot express exactly (height, arm and
  leg errors).
- ``shape_inverse_per_second``: one skeleton at a time (targets gathered from the Skeleton, the solve,
  the betas), and batched (1,000 skeletons in one product); one thread.
- ``skinning_parity_mm``: our numpy skinning against ``smplx``'s forward pass (float64), worst vertex.
- ``skinning_frames_per_second``: posed meshes per second (6,890 vertices, 24 joints, pose
  correctives), one thread, best of three over 600 frames.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/body_model.py

Prints a table and, as the last line, JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")          # one core, before numpy starts its thread pool

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements  # noqa: E402
from sparse_mocap_addon.core.body.shape_inverse import ShapeInverse  # noqa: E402
from sparse_mocap_addon.core.body.smpl_model import (  # noqa: E402
    BodyModelError, load_body_model, pose_vertices, skeleton_from_betas,
)
from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat  # noqa: E402
from tests.smpl_files import make_model_arrays, write_model  # noqa: E402


def _best(run, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def shape_inverse_figures(model) -> dict:
    inverse = ShapeInverse(model, num_betas=10)
    rng = np.random.default_rng(0)
    truths = rng.normal(0.0, 1.5, (200, 10))
    skeletons = [skeleton_from_betas(model, b) for b in truths]
    errors = np.array([inverse.fit(s).joint_error_mm for s in skeletons])
    one_by_one = _best(lambda: [inverse.betas([s]) for s in skeletons])
    many = skeletons * 5
    batched = _best(lambda: inverse.betas(many))
    tables = {}
    for height in (1.40, 1.75, 2.10):
        fit = inverse.fit(skeleton_from_measurements(default_measurements(height=height)))
        tables[f"{height:.2f}"] = {"mean_joint_error_mm": fit.mean_joint_error_mm,
                                   "lengths_error_cm": {k: round(v, 3) for k, v in fit.lengths_error_cm.items()}}
    return {"shape_inverse_joint_error_mm": float(errors.mean()), "shape_inverse_joint_error_max_mm": float(errors.max()),
            "shape_inverse_per_second": len(skeletons) / one_by_one,
            "shape_inverse_batched_per_second": len(many) / batched, "table_bodies": tables}


def skinning_figures(model, model_file) -> dict:
    rng = np.random.default_rng(1)
    betas = rng.normal(0.0, 1.0, 10)
    frames = 600
    rotations = axis_angle_to_quat(rng.normal(0.0, 0.4, (frames, 24, 3)))
    translation = rng.normal(0.0, 0.3, (frames, 3))
    speed = frames / _best(lambda: pose_vertices(model, betas, rotations, translation))
    parity = None
    try:
        import torch

        from training.smplx_model import load_smplx_model
        from sparse_mocap_addon.core.kinematics.rotations import quat_to_axis_angle

        body = load_smplx_model(model_file, num_betas=10)
        aa = quat_to_axis_angle(rotations[:50])
        out = body(betas=torch.tensor(betas)[None].repeat(50, 1), global_orient=torch.tensor(aa[:, 0]),
                   body_pose=torch.tensor(aa[:, 1:].reshape(50, -1)), transl=torch.tensor(translation[:50]))
        ours = pose_vertices(model, betas, rotations[:50], translation[:50], floor_at_zero=False)
        parity = float(np.abs(out.vertices.detach().numpy() - ours).max() * 1000.0)
    except (ImportError, BodyModelError) as exc:
        print(f"no parity figure: {exc}")
    return {"skinning_parity_mm": parity, "skinning_frames_per_second": speed, "vertices": int(len(model.v_template))}


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        model_file = write_model(make_model_arrays("smpl", vertices=6890), Path(folder) / "SMPL_NEUTRAL.pkl")
        model = load_body_model(model_file)
        figures = {**shape_inverse_figures(model), **skinning_figures(model, model_file)}
    print(f"shape inverse: joints rebuilt within {figures['shape_inverse_joint_error_mm']:.5f} mm mean, "
          f"{figures['shape_inverse_joint_error_max_mm']:.5f} mm worst (target 0.5); "
          f"{figures['shape_inverse_per_second']:,.0f} solves/s one at a time, "
          f"{figures['shape_inverse_batched_per_second']:,.0f} batched (target 10,000)")
    for height, fit in figures["table_bodies"].items():
        print(f"  table body {height} m: joints {fit['mean_joint_error_mm']:.1f} mm mean, lengths (cm) {fit['lengths_error_cm']}")
    parity = figures["skinning_parity_mm"]
    print(f"skinning: {'%.6f mm' % parity if parity is not None else 'n/a'} from smplx (target 0.01), "
          f"{figures['skinning_frames_per_second']:,.0f} frames/s for {figures['vertices']:,} vertices, one thread")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
