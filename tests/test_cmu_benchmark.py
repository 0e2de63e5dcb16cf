"""The CMU-Mocap prediction protocol (training/cmu_benchmark.py) and the predictor's training script."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sparse_mocap_addon.core.mocap.formats.cmu_expmap import OFFSETS, PARENTS
from training import cmu_benchmark as cb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu_expmap"


def _reference_fk(line: np.ndarray) -> np.ndarray:
    """The reference code's FK for one frame, written out as it is (row vectors, per joint)."""
    def rodrigues(r):
        theta = np.linalg.norm(r)
        r0 = r / (theta + 1e-7)
        k = np.array([[0, -r0[2], r0[1]], [r0[2], 0, -r0[0]], [-r0[1], r0[0], 0]])
        return np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * k @ k

    offsets = 70.0 * OFFSETS
    rotations = [rodrigues(line[3 + 3 * j: 6 + 3 * j]) for j in range(38)]
    positions = [offsets[j].copy() for j in range(38)]
    for j in range(1, 38):
        p = PARENTS[j]
        if p > 0:
            rotations[j] = rotations[j] @ rotations[p]
            positions[j] = offsets[j] @ rotations[p] + positions[p]
    return np.array(positions)


def _fake_take(rng, frames: int) -> np.ndarray:
    values = np.zeros((frames, 117))
    values[:, :3] = rng.normal(size=3) * 10                     # ignored by the benchmark
    phase = np.linspace(0, 4 * np.pi, frames)[:, None]
    values[:, 3:] = 0.3 * np.sin(phase + rng.uniform(0, 6, 114)) * rng.uniform(0, 1, 114)
    return values


def test_fk_matches_the_reference_code():
    values = _fake_take(np.random.default_rng(0), 5)
    ours = cb.benchmark_positions(values)
    # The reference divides the axis by (angle + 1e-7): a relative 1e-7 shortfall in each rotation,
    # under a thousandth of a benchmark millimetre here. Anything structural would show as tens.
    for t in range(5):
        assert np.abs(ours[t] - _reference_fk(values[t])).max() < 1e-3


def test_windows_and_error_convention():
    seq = np.arange(50)[:, None, None] * np.ones((1, 38, 3))
    assert cb.all_windows(seq).shape == (16, 35, 38, 3)
    eight = cb.eight_windows(np.arange(200))
    assert eight.shape == (8, 35) and np.array_equal(eight, cb.eight_windows(np.arange(200)))
    truth = np.random.default_rng(1).normal(size=(4, 25, 38, 3))
    perfect = cb.used(truth)
    mm38, mm25 = cb.benchmark_errors(perfect, truth)
    # Exact used joints: only the 7 copied joints can differ from the truth.
    copies = np.mean([np.linalg.norm(truth[:, :, c] - truth[:, :, s], axis=-1).mean(axis=0)
                      for c, s in cb.COPIED_JOINTS], axis=0) * 7 / 38
    assert np.allclose(mm25, 0) and np.allclose(mm38, copies)
    shifted = perfect + np.tile([1.0, 0, 0], 25)
    mm38, mm25 = cb.benchmark_errors(shifted, truth)
    assert np.allclose(mm25, 1.0)
    assert cb.HORIZON_FRAMES == (1, 3, 7, 9, 13, 24)


def test_mirror_is_an_involution_that_swaps_sides():
    from training.train_prediction import mirror, mirror_permutation

    perm = mirror_permutation()
    assert np.array_equal(perm[perm], np.arange(25)) and (perm != np.arange(25)).sum() == 20
    x = np.random.default_rng(2).normal(size=(3, 75))
    assert np.allclose(mirror(mirror(x)), x)


def _fake_dataset(root: Path):
    rng = np.random.default_rng(3)
    for split, actions in (("train", ("walking", "running")), ("test", ("walking",))):
        for action in actions:
            folder = root / split / action
            folder.mkdir(parents=True)
            for take in (1, 2):
                values = _fake_take(rng, 160)
                (folder / f"{action}_{take}.txt").write_text(
                    "\n".join(",".join(f"{v:.6f}" for v in row) for row in values) + "\n")


def test_training_smoke_exports_weights_the_benchmark_reads(tmp_path):
    """Also with the channel MLP and two networks averaged, as the benchmark runs them."""
    pytest.importorskip("torch")
    from sparse_mocap_addon.inference.motion_predictor import load_motion_mlp
    from training.train_prediction import ARCHITECTURE, main, numpy_predictor

    _fake_dataset(tmp_path / "data")
    out = tmp_path / "cmu.npz"
    assert main(["--data", str(tmp_path / "data"), "--out", str(out), "--smoke", "--holdout"]) == 0
    out2 = tmp_path / "cmu2.npz"
    assert main(["--data", str(tmp_path / "data"), "--out", str(out2), "--smoke", "--channel-hidden", "8"]) == 0
    model, meta = load_motion_mlp(out, ARCHITECTURE)
    model2, meta2 = load_motion_mlp(out2, ARCHITECTURE)
    assert meta["hyperparameters"]["input_frames"] == 10 and meta2["hyperparameters"]["channel_hidden"] == 8
    report = cb.evaluate(numpy_predictor([model, model2]), cb.test_windows(tmp_path / "data", actions=("walking",)))
    assert report["actions"]["walking"]["windows"] == 2 * (80 - 35 + 1)
    assert len(report["mean_mm"]) == 6 and all(np.isfinite(report["mean_mm"]))


@pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} is absent (the shared CMU benchmark data)")
def test_real_test_split_has_the_six_actions():
    windows = cb.test_windows(DATA)
    assert tuple(windows) == cb.TEST_ACTIONS
    assert all(w.shape[1:] == (35, 38, 3) for w in windows.values())


WEIGHTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "weights").glob("cmu_prediction*.npz"))


@pytest.mark.skipif(not WEIGHTS or not DATA.is_dir(), reason="the committed CMU weights or the shared data are absent")
def test_committed_predictor_beats_standing_still():
    from sparse_mocap_addon.inference.motion_predictor import load_motion_mlp
    from training.train_prediction import ARCHITECTURE, numpy_predictor

    models = [load_motion_mlp(path, ARCHITECTURE)[0] for path in WEIGHTS]
    windows = {"walking": cb.test_windows(DATA)["walking"]}
    ours = cb.evaluate(numpy_predictor(models), windows)["mean_mm"]
    still = cb.evaluate(lambda x: np.repeat(x[:, -1:], 25, axis=1), windows)["mean_mm"]
    assert all(a < 0.7 * b for a, b in zip(ours, still)), json.dumps([ours, still])


@pytest.mark.skipif(not WEIGHTS, reason="no committed CMU predictor weights")
@pytest.mark.parametrize("path", WEIGHTS, ids=lambda p: p.name)
def test_committed_weights_match_torch(path):
    torch = pytest.importorskip("torch")
    from sparse_mocap_addon.inference.motion_predictor import load_motion_mlp
    from sparse_mocap_addon.inference.nn import load_state_dict
    from training.motion_mlp import MotionMLP
    from training.train_prediction import ARCHITECTURE

    arrays, meta = load_state_dict(path, architecture=ARCHITECTURE)
    hyper = meta["hyperparameters"]
    model = MotionMLP(hyper["frames"], hyper["features"], blocks=hyper["blocks"],
                      channel_hidden=hyper.get("channel_hidden", 0))
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in arrays.items()})
    x = np.random.default_rng(4).normal(size=(5, hyper["frames"], hyper["features"])).astype(np.float32) * 0.3
    with torch.no_grad():
        expected = model(torch.from_numpy(x), torch.from_numpy(x)).numpy()
    assert np.abs(load_motion_mlp(path, ARCHITECTURE)[0](x, x) - expected).max() < 1e-4
