"""Torch -> numpy weights: what the numpy runtime (``sparse_mocap_addon.inference.nn``) reads.

Training side only (torch is imported lazily, so importing this module needs no torch)::

    from training.export_weights import export
    export(model, "sparse_mocap_addon/assets/imu_poser.npz",
           {"architecture": "imu_poser", "hyperparameters": {...}, "training": {...}, "version": 1})

The keys are torch's ``state_dict`` names, so ``LSTM(arrays, "rnn.")`` etc. read them unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sparse_mocap_addon.inference.nn import save_state_dict


def torch_state_dict_to_numpy(module, *, dtype=None) -> dict[str, np.ndarray]:
    """``{name: array}`` from a ``torch.nn.Module`` (or a state dict of tensors), copied to CPU.

    Floating-point tensors are cast to ``dtype`` when given (e.g. ``np.float32`` for a model trained
    in float64); integer buffers (e.g. BatchNorm's ``num_batches_tracked``) are kept as they are.
    """
    state = module.state_dict() if hasattr(module, "state_dict") and not isinstance(module, Mapping) else module
    arrays = {}
    for name, value in state.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        array = np.array(value, copy=True)
        if dtype is not None and np.issubdtype(array.dtype, np.floating):
            array = array.astype(dtype)
        arrays[name] = array
    return arrays


def export(module, path: str | os.PathLike, metadata: Mapping[str, Any], *, dtype=np.float32) -> Path:
    """Save ``module``'s weights (float32 by default) with ``metadata`` to ``path`` atomically.

    ``metadata`` must name the ``architecture``; the torch version used is added under
    ``exported_with`` unless the metadata already has that key.
    """
    import torch

    meta = dict(metadata)
    meta.setdefault("exported_with", {"torch": torch.__version__, "numpy": np.__version__})
    return save_state_dict(path, torch_state_dict_to_numpy(module, dtype=dtype), meta)
