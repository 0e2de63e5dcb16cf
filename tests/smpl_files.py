"""SMPL-family model files the tests make themselves (no licensed file exists here or may be used).

:func:`make_model_arrays` lays out a body in the SMPL file layout: the project's default body mesh
(an ellipsoid per bone, skinned to its bone, the neighbours' weights blended in at the joints) on a
chosen skeleton, four vertices around every joint that the joint regressor averages (so the
template's joints are exactly the skeleton's), affine shape blend shapes (each beta stretches the
body by a small random linear map plus a smooth bump, so skeletons the betas make are expressible
exactly), small random pose correctives and the real kinematic tree (SMPL 24, SMPL+H 52, SMPL-X 55
joints). :func:`write_model` saves it as ``.npz`` or ``.pkl`` (optionally with the joint regressor
as a pickled SciPy-style sparse matrix, as the original SMPL files have it).
"""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np

from sparse_mocap_addon.core.body.measurements import default_measurements, skeleton_from_measurements
from sparse_mocap_addon.core.body.mesh import body_mesh
from sparse_mocap_addon.core.kinematics.skeleton import PARENTS



def _hand_parents(wrist: int, first: int) -> list:
    """Five three-joint fingers under ``wrist``, numbered from ``first``."""
    parents = []
    for finger in range(5):
        base = first + 3 * finger
        parents += [wrist, base, base + 1]
    return parents


def model_parents(kind: str) -> np.ndarray:
    body = list(PARENTS[:22])
    if kind == "smpl":
        return PARENTS.copy()
    if kind == "smplh":
        return np.array(body + _hand_parents(20, 22) + _hand_parents(21, 37))
    if kind == "smplx":
        return np.array(body + [15, 15, 15] + _hand_parents(20, 25) + _hand_parents(21, 40))
    raise ValueError(kind)


def _joint_positions(kind: str, rest: np.ndarray) -> np.ndarray:
    """Rest joints of every model joint: SMPL's 24 as the skeleton has them, extra hand joints
    stepping out from the wrists, jaw and eyes near the head."""
    if kind == "smpl":
        return rest
    parents = model_parents(kind)
    joints = np.zeros((len(parents), 3))
    joints[:22] = rest[:22]
    for j in range(22, len(parents)):
        p = parents[j]
        if p in (20, 21):                                   # a finger's base: beyond the wrist, spread
            side = 1.0 if p == 20 else -1.0
            finger = (j - (22 if kind == "smplh" else 25)) % 15 // 3
            joints[j] = joints[p] + (side * 0.08, 0.0, 0.02 * (finger - 2))
        elif p == 15:                                       # jaw and eyes
            joints[j] = joints[p] + (0.03 * (j - 23), 0.05, 0.08)
        else:
            side = 1.0 if joints[p][0] > 0 else -1.0
            joints[j] = joints[p] + (side * 0.03, 0.0, 0.0)
    return joints


def make_model_arrays(kind: str = "smpl", betas: int = 10, height: float = 1.75, seed: int = 0,
                      vertices: int | None = None, posedirs: bool = True) -> dict:
    """A model in the SMPL file layout (see the module docstring). ``vertices``: pad the mesh with
    extra skinned vertices up to this count (e.g. 6890, SMPL's); default the body mesh's own."""
    rng = np.random.default_rng(seed)
    skeleton = skeleton_from_measurements(default_measurements(height=height))
    rest = skeleton.rest_positions() - (0.0, 1.1, 0.0)          # SMPL's template floats about the origin
    mesh, faces, bone = body_mesh(skeleton)
    mesh = mesh - (0.0, 1.1, 0.0)
    parents = model_parents(kind)
    joints = _joint_positions(kind, rest)
    J = len(parents)
    # Four vertices around each joint (a small tetrahedron) that the regressor averages.
    tetra = 0.01 * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64)
    joint_vertices = (joints[:, None] + tetra[None]).reshape(-1, 3)
    owner = np.repeat(np.arange(J), 4)
    template = np.vstack([mesh, joint_vertices])
    owners = np.concatenate([bone, owner])
    if vertices is not None and vertices > len(template):
        extra = rng.integers(0, len(mesh), vertices - len(template))
        template = np.vstack([template, mesh[extra] + rng.normal(0.0, 0.002, (len(extra), 3))])
        owners = np.concatenate([owners, bone[extra]])
    V = len(template)
    weights = np.zeros((V, J))
    weights[np.arange(V), owners] = 1.0
    blended = (np.arange(V) < len(mesh)) & (owners > 0) & (rng.random(V) < 0.3)
    weights[blended] *= 0.7
    weights[np.flatnonzero(blended), parents[owners[blended]]] += 0.3
    regressor = np.zeros((J, V))
    regressor[owner, len(mesh) + np.arange(4 * J)] = 0.25
    centre = template.mean(axis=0)
    linear = rng.normal(0.0, 0.03, (betas, 3, 3))                          # each beta: a small stretch
    bump = rng.normal(0.0, 0.005, (betas, 3))
    shapedirs = np.einsum("bij,vj->vib", linear, template - centre) + np.einsum(
        "v,bi->vib", np.sin(3.0 * template[:, 1]), bump)
    arrays = {
        "v_template": template, "shapedirs": shapedirs, "J_regressor": regressor, "weights": weights,
        "kintree_table": np.stack([np.where(parents < 0, 2**32 - 1, parents), np.arange(J)]).astype(np.int64),
        "f": np.array([tri for face in faces for tri in ([face] if len(face) == 3 else
                                                          [face[:3], (face[0], face[2], face[3])])],
                      dtype=np.int64),
    }
    if posedirs:
        arrays["posedirs"] = rng.normal(0.0, 1e-3, (V, 3, 9 * (J - 1)))
    return arrays


class _SparseStandIn:
    """Pickles as SciPy's ``csc_matrix`` does (its class path and state), without SciPy."""

    def __init__(self, dense: np.ndarray):
        cols = [np.flatnonzero(dense[:, c]) for c in range(dense.shape[1])]
        self.indices = np.concatenate(cols).astype(np.int32)
        self.indptr = np.concatenate([[0], np.cumsum([len(c) for c in cols])]).astype(np.int32)
        self.data = np.concatenate([dense[c_rows, c] for c, c_rows in enumerate(cols)])
        self._shape = dense.shape
        self.maxprint = 50


def write_model(arrays: dict, path, sparse_regressor: bool = False):
    """Save ``arrays`` as ``path`` (.npz or .pkl); ``sparse_regressor`` pickles the joint regressor as
    a SciPy ``csc_matrix`` (.pkl only)."""
    from pathlib import Path

    path = Path(path)
    if path.suffix == ".npz":
        np.savez(path, **arrays)
        return path
    data = dict(arrays)
    module = types.ModuleType("scipy.sparse._csc")
    if sparse_regressor:
        _SparseStandIn.__module__, _SparseStandIn.__qualname__ = module.__name__, "csc_matrix"
        module.csc_matrix = _SparseStandIn
        data["J_regressor"] = _SparseStandIn(arrays["J_regressor"])
    saved = {name: sys.modules.get(name) for name in ("scipy", "scipy.sparse", "scipy.sparse._csc")}
    sys.modules.setdefault("scipy", types.ModuleType("scipy"))
    sys.modules.setdefault("scipy.sparse", types.ModuleType("scipy.sparse"))
    sys.modules["scipy.sparse._csc"] = module
    try:
        with open(path, "wb") as handle:
            pickle.dump(data, handle, protocol=2)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        _SparseStandIn.__module__, _SparseStandIn.__qualname__ = __name__, "_SparseStandIn"
    return path
