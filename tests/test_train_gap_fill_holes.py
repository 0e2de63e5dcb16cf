"""The gap filler's training samples: the hole-type mix (``--interior-share``) and its default, and
the playback-speed windows (``--speeds``)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from sparse_mocap_addon.core.body.demo import demo_motion  # noqa: E402
from training.train_gap_fill import motion_windows, sample_known  # noqa: E402


def _first_hole_kind(known: np.ndarray) -> np.ndarray:
    """0 inside the window, 1 touching its end, 2 touching its start (per row; second holes aside)."""
    return np.where(~known[:, -1], 1, np.where(~known[:, 0], 2, 0))


def test_interior_share_one_cuts_every_hole_inside_the_window():
    known = sample_known(np.random.default_rng(0), 2000, max_gap=30, interior_share=1.0)
    # a second short hole can touch the start (never the end: it starts before window - 7)
    assert known[:, -1].all()
    assert (~known).any(axis=1).all()


def test_interior_share_sets_the_mix_and_the_default_is_unchanged():
    count = 20000
    default = sample_known(np.random.default_rng(1), count)
    explicit = sample_known(np.random.default_rng(1), count, interior_share=0.7)
    assert np.array_equal(default, explicit)
    ends = (_first_hole_kind(sample_known(np.random.default_rng(2), count, interior_share=0.9)) == 1).mean()
    assert abs(ends - 0.05) < 0.01
    ends = (_first_hole_kind(default) == 1).mean()
    assert abs(ends - 0.15) < 0.01


def test_speed_windows_are_the_take_played_faster_and_the_default_adds_none():
    """--speeds 2: the windows of the take played twice as fast come after the recorded ones, and a
    window of them covers twice the time (its path is the recorded one at every other 30-fps frame)."""
    motion = demo_motion(seconds=6.0)                        # 60 fps: both 30-fps phases, 180 frames each
    plain = motion_windows([motion], stride=8)
    fast = motion_windows([motion], stride=8, speeds=(2.0,))
    per_phase = (180 - 64) // 8 + 1
    assert len(plain["offsets"]) == 2 * per_phase
    assert len(fast["offsets"]) == 2 * per_phase + (90 - 64) // 8 + 1
    for key in plain:
        np.testing.assert_array_equal(fast[key][:len(plain[key])], plain[key])
    first_fast = fast["translation"][len(plain["offsets"])]
    np.testing.assert_allclose(first_fast, motion.translation[::4][:64].astype(np.float32), atol=1e-5)
