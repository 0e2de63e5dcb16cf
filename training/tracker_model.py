"""The tracker poser network in torch (issue 6). Training only; the shipped runtime is the numpy
mirror ``sparse_mocap_addon/inference/tracker_poser.py`` (inputs, outputs and the heading frame
are described there), which reads the same ``state_dict`` names.

One ``RNNBlock`` (Linear -> ReLU -> dropout -> 2-layer LSTM -> Linear; causal, or bidirectional
for the offline-only variant) from the
standardised tracker features to the heading-frame rotations of ``POSE_JOINTS`` (6D), the pelvis
position relative to the reference tracker and two foot-contact logits.
"""

from __future__ import annotations

import torch
from torch import nn

from sparse_mocap_addon.core.kinematics.skeleton import PARENTS
from sparse_mocap_addon.inference.tracker_poser import KINDS, OUTPUTS, POSE_JOINTS, input_size
from training.imu_model import RNNBlock, sixd_to_matrix

__all__ = ["KINDS", "TrackerPoserNet", "full_globals", "positions_from"]

# Where each of the 24 joints takes its global rotation from, in POSE_JOINTS order.
_SOURCES = [POSE_JOINTS.index({10: 7, 11: 8, 22: 20, 23: 21}.get(j, j)) for j in range(24)]


class TrackerPoserNet(nn.Module):
    def __init__(self, kind: str = "three_point", hidden: int = 256, layers: int = 2, dropout: float = 0.1,
                 bidirectional: bool = False):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
        self.kind, self.hidden, self.layers, self.bidirectional = kind, hidden, layers, bidirectional
        n_in = input_size(kind)
        self.register_buffer("input_mean", torch.zeros(n_in))
        self.register_buffer("input_std", torch.ones(n_in))
        self.net = RNNBlock(n_in, OUTPUTS, hidden, layers, dropout, bidirectional)

    def forward(self, features: torch.Tensor, state=None):
        """(B, T, F) raw features -> dict: ``pose_6d`` (B, T, P, 6), ``root`` (B, T, 3),
        ``contact_logit`` (B, T, 2); and the raw output (B, T, OUTPUTS) as ``raw``."""
        y, _ = self.net((features - self.input_mean) / self.input_std, state)
        B, T = y.shape[:2]
        n = 6 * len(POSE_JOINTS)
        return {"pose_6d": y[..., :n].reshape(B, T, len(POSE_JOINTS), 6), "root": y[..., n:n + 3],
                "contact_logit": y[..., n + 3:], "raw": y}


def full_globals(pose_6d: torch.Tensor) -> torch.Tensor:
    """(..., P, 6) -> (..., 24, 3, 3): toes and hands take their parents' rotations."""
    return sixd_to_matrix(pose_6d)[..., _SOURCES, :, :]


def positions_from(globals_: torch.Tensor, root: torch.Tensor, tpose_joints: torch.Tensor) -> torch.Tensor:
    """Joint positions (B, T, 24, 3) in the heading frame from globals (B, T, 24, 3, 3), the pelvis
    position (B, T, 3) and the rest joints (B, 24, 3)."""
    offsets = tpose_joints[:, 1:] - tpose_joints[:, list(PARENTS[1:])]        # (B, 23, 3)
    positions = [root]
    for j in range(1, 24):
        p = PARENTS[j]
        positions.append(positions[p] + (globals_[..., p, :, :] @ offsets[:, None, j - 1, :, None])[..., 0])
    return torch.stack(positions, dim=-2)
