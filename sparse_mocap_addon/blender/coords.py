"""The one place where the core frame meets Blender's.

Core: right-handed, Y up, +Z the subject's forward, +X the subject's left.
Blender: Z up, the character faces -Y, so the subject's left is +X.
``CORE_TO_BLENDER @ v_core = v_blender``; it is a proper rotation (+90 degrees about X).
"""

import numpy as np

CORE_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
BLENDER_TO_CORE = CORE_TO_BLENDER.T


def core_to_blender_vectors(v: np.ndarray) -> np.ndarray:
    """Points or directions (..., 3) from the core frame to Blender's."""
    return np.asarray(v, dtype=np.float64) @ CORE_TO_BLENDER.T


def blender_to_core_vectors(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float64) @ BLENDER_TO_CORE.T

