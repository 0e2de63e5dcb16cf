"""The gap filler's training holes: the hole-type mix (``--interior-share``) and its default."""

import numpy as np
import pytest

pytest.importorskip("torch")

from training.train_gap_fill import sample_known  # noqa: E402


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
