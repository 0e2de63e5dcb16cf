"""The motion predictor's network, in torch (training only; the add-on runs ``inference/motion_predictor``).

A small all-MLP network over time, after siMLPe (Guo et al., WACV 2023, "Back to MLP"), which beats
the graph-convolution line (LTD, PGBIG, and the two-path TCN+GCN of KSOF) on its benchmarks with a
fraction of the parameters:

    x (B, T, F_in) --DCT over T--> fc_in over features --> [block] x N --> fc_out --> IDCT --> + residual
    block(y) = y + LayerNorm_features(Linear_time(y))     (mixing along time, normalising across features)

Every window is a fixed T frames. For prediction the observed frames are padded with the last one
(LTD's trick) and the residual is that padded input, so an untrained network predicts "stand still";
for gap filling the unknown frames are first interpolated and a per-frame "known" flag is appended to
the input features, so an untrained network returns the interpolation. The temporal layers and the
output layer start near zero (siMLPe's initialisation) for the same reason.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from sparse_mocap_addon.inference.motion_predictor import dct_matrix


class TemporalBlock(nn.Module):
    """``y + LayerNorm(Linear_time(y))``, then optionally ``+ Linear(GELU(Linear(LayerNorm(y))))`` over
    the features (``channel_hidden`` > 0): the only non-linearity siMLPe has is the LayerNorm, so
    without the channel MLP the network is nearly linear in its input; the gap filler needs the
    non-linearity to let where the hole is (the known flags) shape what it does."""

    def __init__(self, frames: int, features: int, channel_hidden: int = 0):
        super().__init__()
        self.time = nn.Linear(frames, frames)
        self.norm = nn.LayerNorm(features)
        nn.init.xavier_uniform_(self.time.weight, gain=1e-8)
        nn.init.zeros_(self.time.bias)
        if channel_hidden:
            self.channel_norm = nn.LayerNorm(features)
            self.channel_in = nn.Linear(features, channel_hidden)
            self.channel_out = nn.Linear(channel_hidden, features)
            nn.init.zeros_(self.channel_out.weight)
            nn.init.zeros_(self.channel_out.bias)
        self.channel_hidden = channel_hidden

    def forward(self, y):                           # y (B, F, T)
        z = self.time(y)
        y = y + self.norm(z.transpose(1, 2)).transpose(1, 2)
        if self.channel_hidden:
            c = self.channel_in(self.channel_norm(y.transpose(1, 2)))
            y = y + self.channel_out(nn.functional.gelu(c)).transpose(1, 2)
        return y


class MotionMLP(nn.Module):
    def __init__(self, frames: int, features: int, in_features: int | None = None, blocks: int = 24,
                 channel_hidden: int = 0):
        super().__init__()
        self.frames, self.features, self.in_features = frames, features, in_features or features
        dct = torch.from_numpy(dct_matrix(frames)).float()
        self.register_buffer("dct", dct)
        self.register_buffer("idct", dct.T.contiguous())
        self.fc_in = nn.Linear(self.in_features, features)
        self.blocks = nn.ModuleList(TemporalBlock(frames, features, channel_hidden) for _ in range(blocks))
        self.fc_out = nn.Linear(features, features)
        nn.init.xavier_uniform_(self.fc_out.weight, gain=1e-8)
        nn.init.zeros_(self.fc_out.bias)

    def forward(self, x, residual):                # x (B, T, F_in), residual (B, T, F)
        y = self.fc_in(torch.matmul(self.dct, x)).transpose(1, 2)
        for block in self.blocks:
            y = block(y)
        y = torch.matmul(self.idct, self.fc_out(y.transpose(1, 2)))
        return y + residual


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def cosine(step: int, total: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
