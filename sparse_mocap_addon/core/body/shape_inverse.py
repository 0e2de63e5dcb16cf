"""The shape inverse (SMPL-IKS's first step): a skeleton -> the body's shape coefficients (betas).

An SMPL family model's rest joints are linear in the betas (``J(b) = R (T + S b)``), so a skeleton's
bone offsets are too. The betas that best reproduce a target :class:`Skeleton` (from measurements,
landmarks or a rig) minimise

    || W (M b - (o - o_0)) ||^2 + lambda || b ||^2

over the 23 bone offsets ``o`` (child minus parent joint) and the stature, where the rows of the
bones the user cares most about (legs, arms) and of the stature are weighted up (``keep_weight``), so
height, arm and leg length stay within a centimetre whenever the model can get close. The stature
row is linear too: the top-of-head vertex minus the lowest vertex, both chosen on the mean shape.
Everything except the target is fixed per model and number of betas: :class:`ShapeInverse`
precomputes the solve matrix once, and each solve is one matrix-vector product (a batch of
skeletons, one matrix product). ``lambda`` is a tie-breaker (betas near the mean where the bones
do not decide them), small enough to leave an expressible skeleton exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinematics.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS, Skeleton
from .smpl_model import BodyModel

_LIMBS = tuple(JOINT_INDEX[f"{side}_{name}"] for side in ("left", "right")
               for name in ("knee", "ankle", "elbow", "wrist"))      # thigh, shin, upper arm, forearm ends


@dataclass(frozen=True)
class ShapeFit:
    """One solved shape: ``betas``, the rest joints it rebuilds against the target's (pelvis on
    pelvis; mm per joint and their mean), the residual per bone (mm) and the errors of the lengths
    users notice (cm: stature, each arm, each leg; positive when the model's is longer)."""

    betas: np.ndarray
    joint_error_mm: np.ndarray
    bone_residual_mm: np.ndarray
    lengths_error_cm: dict

    @property
    def mean_joint_error_mm(self) -> float:
        return float(self.joint_error_mm.mean())


def _limb_lengths(offsets: np.ndarray) -> dict:
    """Arm and leg lengths (m) from (..., 24, 3) offsets."""
    length = lambda *names: sum(np.linalg.norm(offsets[..., JOINT_INDEX[n], :], axis=-1) for n in names)  # noqa
    return {"left_arm": length("left_elbow", "left_wrist"), "right_arm": length("right_elbow", "right_wrist"),
            "left_leg": length("left_knee", "left_ankle"), "right_leg": length("right_knee", "right_ankle")}


class ShapeInverse:
    """The shape inverse of one model with ``num_betas`` coefficients (see the module docstring)."""

    def __init__(self, model: BodyModel, num_betas: int = 10, keep_weight: float = 10.0,
                 regularisation: float = 1e-8):
        if not 1 <= num_betas <= model.num_betas:
            raise ValueError(f"num_betas must be 1 to {model.num_betas} for {model.source or 'this model'}, "
                             f"got {num_betas}")
        self.model, self.num_betas = model, int(num_betas)
        joints = model.smpl24()
        regressor = model.j_regressor[joints]                                   # (24, V)
        shape = model.shapedirs[:, :, :num_betas]                               # (V, 3, B)
        rest = regressor @ model.v_template                                     # (24, 3)
        along = np.einsum("jv,vcb->jcb", regressor, shape)                      # (24, 3, B)
        self._offsets0 = rest[1:] - rest[PARENTS[1:]]                           # (23, 3)
        offset_rows = (along[1:] - along[PARENTS[1:]]).reshape(-1, num_betas)    # (69, B)
        # Stature: the top of the head over the lowest vertex, the two vertices picked on the mean shape.
        self._top, self._bottom = model.height_vertices()
        self._stature0 = float(model.v_template[self._top, 1] - model.v_template[self._bottom, 1])
        stature_row = shape[self._top, 1] - shape[self._bottom, 1]               # (B,)
        self._rows = np.vstack([offset_rows, stature_row[None]])                # (70, B)
        weights = np.ones(len(self._rows))
        for j in _LIMBS:
            weights[3 * (j - 1):3 * j] = keep_weight
        weights[-1] = keep_weight
        weighted = self._rows * weights[:, None] ** 2
        normal = self._rows.T @ weighted + regularisation * np.eye(num_betas)
        self._solve = np.linalg.solve(normal, weighted.T)                        # (B, 70)

    def _targets(self, skeletons) -> np.ndarray:
        offsets = np.array([s.offsets[1:].ravel() for s in skeletons]) - self._offsets0.ravel()
        stature = np.array([s.stature() for s in skeletons]) - self._stature0
        return np.hstack([offsets, stature[:, None]])                            # (N, 70)

    def betas(self, skeletons) -> np.ndarray:
        """(N, num_betas) for a list of skeletons (one product for them all)."""
        return self._targets(skeletons) @ self._solve.T

    def fit(self, skeleton: Skeleton) -> ShapeFit:
        """The betas of one skeleton and how well they rebuild it."""
        betas = self.betas([skeleton])[0]
        full = np.concatenate([betas, np.zeros(self.model.num_betas - self.num_betas)])
        rebuilt = self.model.rest_joints(full)[self.model.smpl24()]
        offsets = np.zeros((NUM_JOINTS, 3))
        offsets[1:] = rebuilt[1:] - rebuilt[PARENTS[1:]]
        wanted = skeleton.rest_positions() - skeleton.rest_positions()[0]
        joint_error = np.linalg.norm((rebuilt - rebuilt[0]) - wanted, axis=1) * 1000.0
        residual = np.linalg.norm(offsets[1:] - skeleton.offsets[1:], axis=1) * 1000.0
        model_limbs, target_limbs = _limb_lengths(offsets), _limb_lengths(skeleton.offsets)
        vertices = self.model.shaped(full)
        stature = vertices[self._top, 1] - vertices[self._bottom, 1]
        lengths = {"stature": float(stature - skeleton.stature()) * 100.0}
        lengths.update({k: float(model_limbs[k] - target_limbs[k]) * 100.0 for k in model_limbs})
        return ShapeFit(betas, joint_error, np.concatenate([[0.0], residual]), lengths)


def shape_from_skeleton(model: BodyModel, skeleton: Skeleton, num_betas: int = 10) -> ShapeFit:
    """The betas (``num_betas`` of them) that best reproduce ``skeleton`` on ``model``."""
    return ShapeInverse(model, num_betas).fit(skeleton)
