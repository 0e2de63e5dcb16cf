"""The six-IMU poser networks in torch (issue 5): the full shape-aware model, its no-shape
ablation and the plain LSTM baseline. Training only; the shipped runtime is the numpy mirror in
``sparse_mocap_addon/inference/imu_poser.py``, which reads the same ``state_dict`` names.

Architecture (FIP's structure, with TransPose's joint-position stage in place of FIP's
tree-structured IK solver; every stage is causal, so the offline and the streaming outputs are
the same numbers; ``bidirectional=True`` builds the offline-only variant whose stages also see the
future):

- inputs per frame: the 72 normalised IMU features (``core/imu/synth.features``, accelerations clamped
  to +-``ACC_CLAMP`` to keep mocap glitches out), the six sensors' validity flags and, for the
  shape-aware model, the four body measurements standardised with the training set's mean and
  deviation (the **shape input**; FIP feeds height, arm, leg and sex);
- **leaf stage**: an ``RNNBlock`` to the five leaf joints (wrists, ankles, head) in the root frame
  (metres), FIP's leaf regressor;
- **joint stage**: inputs + leaves to all 23 non-root joints in the root frame and two foot-contact
  logits (TransPose's second stage; contacts drive the root translation);
- **pose stages**: separate upper- and lower-body blocks (FIP's split) from inputs + joints to the
  root-relative global rotations (6D) of ``UPPER_JOINTS`` and ``LOWER_JOINTS``.

``RNNBlock`` is TransPose's ``RNN``: Linear -> ReLU -> (dropout) -> LSTM -> Linear. The baseline
is one such block from the IMU features to the same rotations. Training losses live in
``training/train_imu.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from sparse_mocap_addon.core.kinematics.skeleton import PARENTS

# One definition of the layout, shared with the numpy runtime.
from sparse_mocap_addon.inference.imu_poser import (ACC_FEATURES, IMU_FEATURES, KINDS, LEAVES,  # noqa: E402
                                                    LOWER_JOINTS, MEASUREMENTS, POSE_JOINTS, SENSORS,
                                                    UPPER_JOINTS)

ACC_CLAMP = 6.0          # normalised acceleration units (x 30 m/s^2 = 180 m/s^2)


def clamp_imu(imu: torch.Tensor) -> torch.Tensor:
    """Accelerations (the first ACC_FEATURES features) clamped; orientations pass unchanged."""
    acc = imu[..., :ACC_FEATURES].clamp(-ACC_CLAMP, ACC_CLAMP)
    return torch.cat((acc, imu[..., ACC_FEATURES:]), dim=-1)


class RNNBlock(nn.Module):
    """Linear -> ReLU -> dropout -> LSTM -> Linear (TransPose's ``RNN``); unidirectional (causal)
    unless ``bidirectional`` (offline-only models that see the future)."""

    def __init__(self, n_in: int, n_out: int, hidden: int, layers: int = 2, dropout: float = 0.2,
                 bidirectional: bool = False):
        super().__init__()
        self.linear1 = nn.Linear(n_in, hidden)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.LSTM(hidden, hidden, layers, batch_first=True, bidirectional=bidirectional)
        self.linear2 = nn.Linear(hidden * (2 if bidirectional else 1), n_out)

    def forward(self, x, state=None):
        y, state = self.rnn(self.dropout(torch.relu(self.linear1(x))), state)
        return self.linear2(y), state


class ImuPoserNet(nn.Module):
    """``kind``: "full" (shape input), "no_shape" (the FIP ablation) or "baseline" (one LSTM).
    ``bidirectional``: every block sees the future too (an offline-only model); ``root_velocity``:
    the joint stage also estimates the root's velocity in the root frame (m/s; TransPose's second
    translation branch, fused with the contact velocity by the root filter)."""

    def __init__(self, kind: str = "full", hidden: int = 192, layers: int = 2, dropout: float = 0.2,
                 bidirectional: bool = False, root_velocity: bool = False):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if root_velocity and kind == "baseline":
            raise ValueError("the baseline has no joint stage to estimate the root velocity")
        self.kind, self.hidden, self.layers, self.bidirectional = kind, hidden, layers, bidirectional
        self.root_velocity = root_velocity
        # Standardisation of the measurements, set from the training set (buffers: saved with the weights).
        self.register_buffer("shape_mean", torch.zeros(MEASUREMENTS))
        self.register_buffer("shape_std", torch.ones(MEASUREMENTS))
        n_in = IMU_FEATURES + SENSORS + (MEASUREMENTS if kind == "full" else 0)
        n_pose = 6 * len(POSE_JOINTS)
        if kind == "baseline":
            self.pose = RNNBlock(n_in, n_pose, hidden, layers, dropout, bidirectional)
            return
        self.leaf = RNNBlock(n_in, 3 * LEAVES, hidden, layers, dropout, bidirectional)
        self.joints = RNNBlock(n_in + 3 * LEAVES, 3 * 23 + 2 + (3 if root_velocity else 0), hidden, layers, dropout,
                               bidirectional)
        self.upper = RNNBlock(n_in + 3 * 23, 6 * len(UPPER_JOINTS), hidden, layers, dropout, bidirectional)
        self.lower = RNNBlock(n_in + 3 * 23, 6 * len(LOWER_JOINTS), hidden, layers, dropout, bidirectional)
        # Where each upper/lower output lands in POSE_JOINTS order.
        order = [POSE_JOINTS.index(j) for j in UPPER_JOINTS + LOWER_JOINTS]
        self.register_buffer("pose_order", torch.tensor(sorted(range(len(order)), key=order.__getitem__)))

    def inputs(self, imu, valid, measurements):
        parts = [clamp_imu(imu), valid]
        if self.kind == "full":
            shape = (measurements - self.shape_mean) / self.shape_std
            parts.append(shape[:, None, :].expand(-1, imu.shape[1], -1))
        return torch.cat(parts, dim=-1)

    def forward(self, imu, valid, measurements):
        """(B, T, 72), (B, T, 6), (B, 4) -> dict of (B, T, ...) outputs: ``pose_6d`` (17, 6) in
        ``POSE_JOINTS`` order and, except for the baseline, ``leaf`` (5, 3), ``joints`` (23, 3) and
        ``contact_logit`` (2)."""
        x = self.inputs(imu, valid, measurements)
        B, T = x.shape[:2]
        if self.kind == "baseline":
            pose, _ = self.pose(x)
            return {"pose_6d": pose.reshape(B, T, len(POSE_JOINTS), 6)}
        leaf, _ = self.leaf(x)
        joints_out, _ = self.joints(torch.cat((x, leaf), dim=-1))
        joints, contact = joints_out[..., :69], joints_out[..., 69:71]
        upper, _ = self.upper(torch.cat((x, joints), dim=-1))
        lower, _ = self.lower(torch.cat((x, joints), dim=-1))
        pose = torch.cat((upper, lower), dim=-1).reshape(B, T, len(POSE_JOINTS), 6)[:, :, self.pose_order]
        out = {"pose_6d": pose, "leaf": leaf.reshape(B, T, LEAVES, 3),
               "joints": joints.reshape(B, T, 23, 3), "contact_logit": contact}
        if self.root_velocity:
            out["root_velocity"] = joints_out[..., 71:74]
        return out


# --- rotations and forward kinematics on the 17 posed joints (for the losses) ----------------------------

def sixd_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt, the same as ``core.kinematics.rotations.sixd_to_matrix`` (columns b1, b2, b3)."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    a2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = a2 / a2.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return torch.stack((b1, b2, torch.cross(b1, b2, dim=-1)), dim=-1)


def full_relative_globals(pose_matrices: torch.Tensor) -> torch.Tensor:
    """(..., 17, 3, 3) root-relative globals of ``POSE_JOINTS`` -> (..., 24, 3, 3): the root is the
    identity and every other joint (feet, hands) takes its parent's global (identity local)."""
    shape = pose_matrices.shape[:-3]
    eye = torch.eye(3, dtype=pose_matrices.dtype, device=pose_matrices.device).expand(*shape, 3, 3)
    out = [None] * 24
    out[0] = eye
    index = {j: i for i, j in enumerate(POSE_JOINTS)}
    for j in range(1, 24):
        out[j] = pose_matrices[..., index[j], :, :] if j in index else out[PARENTS[j]]
    return torch.stack(out, dim=-3)


def forward_kinematics(globals_: torch.Tensor, tpose_joints: torch.Tensor) -> torch.Tensor:
    """Root-frame joint positions (..., 24, 3) from root-relative globals (B, T, 24, 3, 3) and the
    rest joints (B, 24, 3), pelvis at the origin."""
    offsets = tpose_joints[:, 1:] - tpose_joints[:, list(PARENTS[1:])]        # (B, 23, 3)
    positions = [torch.zeros_like(globals_[..., 0, :, 0])]
    for j in range(1, 24):
        p = PARENTS[j]
        positions.append(positions[p] + (globals_[..., p, :, :] @ offsets[:, None, j - 1, :, None])[..., 0])
    return torch.stack(positions, dim=-2)
