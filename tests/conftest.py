"""Shared fixtures. Blender tests use the real bpy module (installed by scripts/setup.sh)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def registered_addon():
    """The add-on registered in this process for the whole session (unregistered at the end)."""
    import bpy

    import sparse_mocap_addon

    sparse_mocap_addon.register()
    yield bpy
    sparse_mocap_addon.unregister()


@pytest.fixture
def blank_scene():
    """A fresh, empty Blender scene for each test."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


@pytest.fixture
def addon(registered_addon, blank_scene):
    """The registered add-on, over a fresh empty scene."""
    return registered_addon


@pytest.fixture
def skeleton():
    from sparse_mocap_addon.core.body.measurements import BodyMeasurements, skeleton_from_measurements

    return skeleton_from_measurements(BodyMeasurements(height=1.72, sex="female", arm_length=0.55, leg_length=0.84))


@pytest.fixture
def random_motion(skeleton):
    """A short motion with large random rotations and translations (hard cases for baking)."""
    from sparse_mocap_addon.core.kinematics.motion import Motion
    from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_quat

    rng = np.random.default_rng(7)
    frames = 40
    rotations = axis_angle_to_quat(rng.normal(scale=0.8, size=(frames, 24, 3)))
    translation = skeleton.offsets[0] + rng.normal(scale=0.5, size=(frames, 3))
    return Motion(60.0, rotations, translation, skeleton, {"source": "random test motion"})
