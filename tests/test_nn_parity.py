"""The numpy runtime (inference/nn.py) against torch, layer by layer, and its weight files.

Every layer gets seeded random torch weights, the same weights through
``training.export_weights.torch_state_dict_to_numpy``, and random inputs; the outputs must agree to
1e-5 (float32) / 1e-10 (float64) in max abs difference.

Torch runs on one intra-op thread here: with two threads, torch 2.13's float32 ``tanh`` on CPU now
and then returned a saturated +-1 for |x| >= ~5 on the second half of a tensor (an error of 8.7e-5,
about 1 run in 7 of this file), while its single-threaded result is within 1e-7 of float64.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sparse_mocap_addon.inference import nn
from sparse_mocap_addon.inference.nn import (
    GRU, LSTM, Conv1d, LayerNorm, Linear, MissingWeightError, Sequential, WeightError, WeightFileNotFoundError,
    load_state_dict, save_state_dict,
)

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the dev environment
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed: parity tests compare against torch")


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TOL = {np.float32: 1e-5, np.float64: 1e-10}
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])


def _torch_dtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def _to_numpy(module, dtype):
    from training.export_weights import torch_state_dict_to_numpy

    return torch_state_dict_to_numpy(module, dtype=dtype)


def _module(factory, dtype, seed=0):
    torch.manual_seed(seed)
    return factory().to(_torch_dtype(dtype)).eval()


def _randn(rng, *shape, dtype=np.float32, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _run(module, *args):
    with torch.no_grad():
        return module(*[torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
                        for a in args])


def _close(ours, theirs, dtype):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == np.dtype(dtype)
    diff = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    assert diff <= TOL[dtype], f"max abs difference {diff:.3g} > {TOL[dtype]:g}"
    return diff


# ------------------------------------------------------------------------------------------------
# erf / GELU (no torch needed for erf itself)
# ------------------------------------------------------------------------------------------------

def test_erf_and_erfc_match_math_to_double_precision():
    x = np.concatenate([np.linspace(-8, 8, 40001), np.random.default_rng(1).normal(scale=2, size=5000),
                        [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0, 26.0, -26.0, 40.0, np.inf, -np.inf]])
    ref = np.array([math.erf(v) for v in x])
    refc = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs(nn.erf(x) - ref)) < 1e-15
    assert np.max(np.abs(nn.erfc(x) - refc) / np.maximum(refc, 1e-300)) < 1e-14
    assert nn.erf(np.float32([0.3])).dtype == np.float32
    assert np.isnan(nn.erf(np.array([np.nan]))).all()


@needs_torch
@DTYPES
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(dtype, approximate):
    x = _randn(np.random.default_rng(0), 4096, dtype=dtype, scale=4.0)
    x[:4] = [-12.0, -6.0, 0.0, 9.0]
    ours = nn.GELU(approximate, dtype=dtype)(x)
    _close(ours, _run(torch.nn.GELU(approximate), x), dtype)


@needs_torch
@DTYPES
def test_activations(dtype):
    x = _randn(np.random.default_rng(2), 64, 33, dtype=dtype, scale=5.0)
    x[0, :3] = [-200.0, 0.0, 200.0]
    for ours, theirs in [(nn.ReLU(dtype=dtype), torch.nn.ReLU()), (nn.Tanh(dtype=dtype), torch.nn.Tanh()),
                         (nn.Sigmoid(dtype=dtype), torch.nn.Sigmoid()),
                         (nn.LeakyReLU(0.2, dtype=dtype), torch.nn.LeakyReLU(0.2)),
                         (nn.LeakyReLU(dtype=dtype), torch.nn.LeakyReLU())]:
        _close(ours(x), _run(theirs, x), dtype)
    # relative accuracy far in the sigmoid's tail
    assert nn.sigmoid(np.float64(-40.0)) == pytest.approx(1.0 / (1.0 + math.exp(40.0)), rel=1e-14)


# ------------------------------------------------------------------------------------------------
# Linear, LayerNorm, Sequential
# ------------------------------------------------------------------------------------------------

@needs_torch
@DTYPES
@pytest.mark.parametrize("bias", [True, False])
def test_linear(dtype, bias):
    module = _module(lambda: torch.nn.Linear(37, 19, bias=bias), dtype)
    layer = Linear(_to_numpy(module, dtype), dtype=dtype)
    rng = np.random.default_rng(3)
    for shape in [(37,), (11, 37), (3, 5, 37)]:
        x = _randn(rng, *shape, dtype=dtype)
        _close(layer(x), _run(module, x), dtype)


@needs_torch
@DTYPES
@pytest.mark.parametrize("shape, affine", [((24,), True), ((6, 4), True), ((24,), False)])
def test_layer_norm(dtype, shape, affine):
    def factory():
        m = torch.nn.LayerNorm(shape, eps=1e-5, elementwise_affine=affine)
        if affine:
            torch.nn.init.normal_(m.weight)
            torch.nn.init.normal_(m.bias)
        return m

    module = _module(factory, dtype)
    layer = LayerNorm(_to_numpy(module, dtype), normalized_shape=shape, dtype=dtype)
    x = _randn(np.random.default_rng(4), 7, 3, *shape, dtype=dtype, scale=3.0) + 2.0
    _close(layer(x), _run(module, x), dtype)


@needs_torch
@DTYPES
def test_sequential_mlp_with_a_prefix(dtype):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(30, 64), torch.nn.GELU(), torch.nn.LayerNorm(64), torch.nn.Dropout(0.1),
                torch.nn.Linear(64, 64), torch.nn.LeakyReLU(0.1), torch.nn.Linear(64, 16), torch.nn.Tanh())

        def forward(self, x):
            return self.mlp(x)

    module = _module(Net, dtype)
    arrays = _to_numpy(module, dtype)
    ours = Sequential.from_state_dict(
        arrays, [Linear, "gelu", (LayerNorm, {"eps": 1e-5}), "dropout", Linear, nn.LeakyReLU(0.1, dtype=dtype),
                 Linear, "tanh"], prefix="mlp.", dtype=dtype)
    x = _randn(np.random.default_rng(5), 9, 30, dtype=dtype)
    _close(ours(x), _run(module, x), dtype)
    assert len(ours) == 8 and isinstance(ours[4], Linear)


# ------------------------------------------------------------------------------------------------
# Conv1d
# ------------------------------------------------------------------------------------------------

CONV_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=3, padding=1),
    dict(kernel_size=3, padding=4, dilation=2),
    dict(kernel_size=5, padding="same", dilation=3),
    dict(kernel_size=4, padding="same"),
    dict(kernel_size=3, stride=2, padding=2, dilation=2),
    dict(kernel_size=3, padding=2, padding_mode="replicate"),
    dict(kernel_size=3, padding=2, padding_mode="reflect"),
    dict(kernel_size=3, padding=2, padding_mode="circular"),
    dict(kernel_size=3, padding=1, groups=4),
    dict(kernel_size=1, bias=False),
]


@needs_torch
@DTYPES
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_conv1d(dtype, case):
    module = _module(lambda: torch.nn.Conv1d(8, 12, **case), dtype)
    options = {k: v for k, v in case.items() if k not in ("kernel_size", "bias")}
    layer = Conv1d(_to_numpy(module, dtype), dtype=dtype, **options)
    last = Conv1d(_to_numpy(module, dtype), dtype=dtype, channels_last=True, **options)
    rng = np.random.default_rng(6)
    x = _randn(rng, 3, 8, 29, dtype=dtype)
    ref = _run(module, x)
    _close(layer(x), ref, dtype)
    _close(last(x.transpose(0, 2, 1)), ref.permute(0, 2, 1), dtype)
    _close(layer(x[1]), ref[1], dtype)  # unbatched (C, L)


@needs_torch
def test_conv1d_rejects_bad_inputs():
    module = _module(lambda: torch.nn.Conv1d(4, 2, 5), np.float32)
    layer = Conv1d(_to_numpy(module, np.float32))
    with pytest.raises(ValueError, match="4 channels"):
        layer(np.zeros((1, 3, 10), np.float32))
    with pytest.raises(ValueError, match="too short"):
        layer(np.zeros((4, 3), np.float32))


# ------------------------------------------------------------------------------------------------
# LSTM / GRU
# ------------------------------------------------------------------------------------------------

def _rnn(kind, dtype, **kwargs):
    return _module(lambda: getattr(torch.nn, kind)(**kwargs), dtype)


def _numpy_rnn(kind, module, dtype, **kwargs):
    return {"LSTM": LSTM, "GRU": GRU}[kind](_to_numpy(module, dtype), dtype=dtype, **kwargs)


def _state_to_torch(state):
    if isinstance(state, tuple):
        return tuple(torch.from_numpy(np.ascontiguousarray(s)) for s in state)
    return torch.from_numpy(np.ascontiguousarray(state))


def _close_state(ours, theirs, dtype):
    if isinstance(ours, tuple):
        return max(_close(o, t, dtype) for o, t in zip(ours, theirs))
    return _close(ours, theirs, dtype)


def _random_state(kind, rng, layers_dirs, batch, hidden, dtype):
    shape = (layers_dirs,) + (() if batch is None else (batch,)) + (hidden,)
    if kind == "LSTM":
        return _randn(rng, *shape, dtype=dtype, scale=0.5), _randn(rng, *shape, dtype=dtype, scale=0.5)
    return _randn(rng, *shape, dtype=dtype, scale=0.5)


@needs_torch
@DTYPES
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("batch", [None, 4], ids=["unbatched", "batched"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
def test_rnn_whole_sequence(dtype, kind, bidirectional, batch, with_state):
    hidden, layers = 24, 3
    module = _rnn(kind, dtype, input_size=13, hidden_size=hidden, num_layers=layers, batch_first=True,
                  bidirectional=bidirectional)
    rnn = _numpy_rnn(kind, module, dtype, batch_first=True)
    assert (rnn.num_layers, rnn.hidden_size, rnn.bidirectional) == (layers, hidden, bidirectional)
    rng = np.random.default_rng(7)
    x = _randn(rng, *(() if batch is None else (batch,)), 40, 13, dtype=dtype)
    dirs = 2 if bidirectional else 1
    state = _random_state(kind, rng, layers * dirs, batch, hidden, dtype) if with_state else None
    y, s = rnn(x, state)
    with torch.no_grad():
        ty, ts = module(torch.from_numpy(x), None if state is None else _state_to_torch(state))
    _close(y, ty, dtype)
    _close_state(s, ts, dtype)


@needs_torch
@DTYPES
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_rnn_time_major_and_no_bias(dtype, kind):
    module = _rnn(kind, dtype, input_size=9, hidden_size=16, num_layers=2, bias=False, bidirectional=True)
    rnn = _numpy_rnn(kind, module, dtype, batch_first=False)
    assert not rnn.bias
    x = _randn(np.random.default_rng(8), 25, 3, 9, dtype=dtype)  # (T, B, F)
    y, s = rnn(x)
    ty, ts = _run(module, x)
    _close(y, ty, dtype)
    _close_state(s, ts, dtype)


@needs_torch
@DTYPES
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch", [None, 3], ids=["unbatched", "batched"])
def test_rnn_streaming_equals_forward_and_torch(dtype, kind, batch):
    hidden, layers = 32, 2
    module = _rnn(kind, dtype, input_size=11, hidden_size=hidden, num_layers=layers, batch_first=True)
    rnn = _numpy_rnn(kind, module, dtype)
    rng = np.random.default_rng(9)
    x = _randn(rng, *(() if batch is None else (batch,)), 60, 11, dtype=dtype)
    state0 = _random_state(kind, rng, layers, batch, hidden, dtype)
    copy0 = np.copy(state0[0] if kind == "LSTM" else state0)
    y_all, s_all = rnn(x, state0)
    ty, ts = _run(module, x, _state_to_torch(state0))
    _close(y_all, ty, dtype)

    state, frames = state0, []
    for t in range(x.shape[-2]):
        y_t, state = rnn.step(x[..., t, :], state)
        frames.append(y_t)
    y_stream = np.stack(frames, axis=-2)
    assert np.max(np.abs(y_stream - y_all)) <= TOL[dtype]
    _close(y_stream, ty, dtype)
    _close_state(state, ts, dtype)
    # the caller's state was not modified
    np.testing.assert_array_equal(state0[0] if kind == "LSTM" else state0, copy0)


@needs_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_rnn_step_keeps_old_states_and_starts_from_zero(kind):
    module = _rnn(kind, np.float32, input_size=5, hidden_size=8, num_layers=2, batch_first=True)
    rnn = _numpy_rnn(kind, module, np.float32)
    rng = np.random.default_rng(10)
    x = _randn(rng, 6, 5)
    y0, s1 = rnn.step(x[0])  # None = zeros
    snapshot = [np.copy(a) for a in (s1 if kind == "LSTM" else (s1,))]
    rnn.step(x[1], s1)
    for before, after in zip(snapshot, s1 if kind == "LSTM" else (s1,)):
        np.testing.assert_array_equal(before, after)
    y_all, _ = rnn(x, rnn.initial_state())
    np.testing.assert_allclose(y0, y_all[0], atol=1e-6)


@needs_torch
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("min_lane,piece", [(40, 60), (10, 7)], ids=["long-lanes", "cascade"])
def test_rnn_lanes_equal_the_sequential_run(kind, bidirectional, min_lane, piece, monkeypatch):
    """A long sequence in batched segments (lanes) gives the sequential output and final state up to
    the state tolerance, also with segments shorter than the network needs to forget its start
    (each then runs again from the one before's corrected end) and lane counts that are not a
    multiple of the row block."""
    monkeypatch.setattr(nn._Recurrent, "MIN_LANE", min_lane)
    monkeypatch.setattr(nn._Recurrent, "LANE_PIECE", piece)
    hidden, layers, dirs = 24, 2, 2 if bidirectional else 1
    module = _rnn(kind, np.float32, input_size=13, hidden_size=hidden, num_layers=layers, batch_first=True,
                  bidirectional=bidirectional)
    rnn = _numpy_rnn(kind, module, np.float32)
    rng = np.random.default_rng(11)
    x = _randn(rng, 1003, 13)
    state = _random_state(kind, rng, layers * dirs, None, hidden, np.float32)
    y1, s1 = rnn(x, state)
    for lanes in (3, 8, 25, 200):
        y, s = rnn(x, state, lanes=lanes)
        assert y.shape == y1.shape and np.abs(y - y1).max() < 1e-4, lanes
        for a, b in zip(s if kind == "LSTM" else (s,), s1 if kind == "LSTM" else (s1,)):
            assert np.abs(a - b).max() < 1e-4, lanes


@needs_torch
def test_rnn_errors():
    module = _rnn("LSTM", np.float32, input_size=5, hidden_size=8, num_layers=2, bidirectional=True)
    rnn = _numpy_rnn("LSTM", module, np.float32)
    with pytest.raises(ValueError, match="cannot stream"):
        rnn.step(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="expects inputs"):
        rnn(np.zeros((10, 6), np.float32))
    with pytest.raises(ValueError, match="state must have shape"):
        rnn(np.zeros((10, 5), np.float32), (np.zeros((4, 8)), np.zeros((2, 8))))
    arrays = _to_numpy(module, np.float32)
    del arrays["weight_hh_l1_reverse"]
    with pytest.raises(MissingWeightError, match="weight_hh_l1_reverse"):
        LSTM(arrays)
    arrays = _to_numpy(module, np.float32)
    arrays["bias_ih_l1"] = arrays["bias_ih_l1"][:-1]
    with pytest.raises(WeightError, match=r"'bias_ih_l1' has shape \(31,\), expected \(32,\)"):
        LSTM(arrays)
    with pytest.raises(MissingWeightError, match="weight_ih_l2"):
        LSTM(_to_numpy(module, np.float32), num_layers=3)
    with pytest.raises(WeightError, match="holds 2 LSTM layers, expected 1"):
        LSTM(_to_numpy(module, np.float32), num_layers=1)
    with pytest.raises(WeightError, match="expected a unidirectional one"):
        LSTM(_to_numpy(module, np.float32), bidirectional=False)
    uni = _numpy_rnn("GRU", _rnn("GRU", np.float32, input_size=5, hidden_size=8), np.float32)
    with pytest.raises(MissingWeightError, match="weight_ih_l0_reverse"):
        GRU(_to_numpy(_rnn("GRU", np.float32, input_size=5, hidden_size=8), np.float32), bidirectional=True)
    y, h = uni(np.zeros((0, 5), np.float32))  # an empty sequence returns the initial state
    assert y.shape == (0, 8) and h.shape == (1, 8) and not h.any()


# ------------------------------------------------------------------------------------------------
# Weight files
# ------------------------------------------------------------------------------------------------

META = {"architecture": "test_net", "hyperparameters": {"hidden": 8}, "training": {"seed": 0}, "version": 1}


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(11)
    arrays = {"rnn.weight_ih_l0": rng.standard_normal((32, 5)).astype(np.float32),
              "head.0.bias": rng.standard_normal(3), "steps": np.arange(4)}
    path = save_state_dict(tmp_path / "w.npz", arrays, META)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]  # no temp file left behind
    loaded, meta = load_state_dict(path, expected={"rnn.weight_ih_l0": (None, 5)}, architecture="test_net")
    assert meta == META
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value)
    # overwriting is atomic too and replaces the content
    save_state_dict(path, {"a": np.ones(2)}, META)
    assert set(load_state_dict(path)[0]) == {"a"}


@needs_torch
def test_export_from_torch_and_build_layers(tmp_path):
    from training.export_weights import export

    module = _rnn("GRU", np.float32, input_size=6, hidden_size=10, num_layers=2, batch_first=True)
    path = export(module, tmp_path / "gru.npz", {**META, "architecture": "gru"})
    arrays, meta = load_state_dict(path, architecture="gru")
    assert meta["exported_with"]["torch"] == torch.__version__
    x = _randn(np.random.default_rng(12), 2, 15, 6)
    y, h = GRU(arrays)(x)
    ty, th = _run(module, x)
    _close(y, ty, np.float32)


def test_load_errors(tmp_path):
    with pytest.raises(WeightFileNotFoundError, match=r"missing\.npz: is not a file"):
        load_state_dict(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError):
        load_state_dict(tmp_path)  # a directory is not a file either
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(WeightError, match=r"bad\.npz: is not a readable \.npz weight file"):
        load_state_dict(bad)
    plain = tmp_path / "plain.npz"
    np.savez(plain, weight=np.zeros(3))
    with pytest.raises(WeightError, match="not written by save_state_dict"):
        load_state_dict(plain)

    path = save_state_dict(tmp_path / "w.npz", {"fc.weight": np.zeros((4, 3), np.float32)}, META)
    with pytest.raises(WeightError, match=r"w\.npz: holds weights for architecture 'test_net', expected 'other'"):
        load_state_dict(path, architecture="other")
    with pytest.raises(MissingWeightError, match=r"w\.npz: missing weight 'fc\.bias'"):
        load_state_dict(path, expected={"fc.bias": (4,)})
    with pytest.raises(WeightError, match=r"w\.npz: weight 'fc\.weight' has shape \(4, 3\), expected \(4, 5\)"):
        load_state_dict(path, expected={"fc.weight": (4, 5)})
    arrays, _ = load_state_dict(path)
    with pytest.raises(MissingWeightError, match=r"w\.npz: missing weight 'head\.weight' "
                                                 r"\(the state dict holds 1 weights, none under 'head\.'\)"):
        Linear(arrays, "head.")
    with pytest.raises(KeyError):  # a MissingWeightError is a KeyError for dict-style callers
        arrays["nothing"]
    with pytest.raises(WeightError, match=r"w\.npz: weight 'fc\.weight' has shape \(4, 3\), expected \(4\,\)"):
        LayerNorm(arrays, "fc.", normalized_shape=4)
    for error in (WeightFileNotFoundError, MissingWeightError):
        assert issubclass(error, WeightError) and issubclass(error, ValueError)


def test_save_errors(tmp_path):
    with pytest.raises(WeightError, match="'architecture'"):
        save_state_dict(tmp_path / "w.npz", {"a": np.zeros(1)}, {"version": 1})
    with pytest.raises(WeightError, match="not JSON-serialisable"):
        save_state_dict(tmp_path / "w.npz", {"a": np.zeros(1)}, {"architecture": "x", "bad": object()})
    with pytest.raises(WeightError, match="'__metadata__' is not allowed"):
        save_state_dict(tmp_path / "w.npz", {"__metadata__": np.zeros(1)}, META)
    with pytest.raises(WeightError, match="dtype object"):
        save_state_dict(tmp_path / "w.npz", {"a": np.array([None])}, META)
    assert list(tmp_path.iterdir()) == []


def test_metadata_is_plain_json_in_the_file(tmp_path):
    path = save_state_dict(tmp_path / "w.npz", {"a": np.zeros(1)}, META)
    with np.load(path, allow_pickle=False) as npz:
        assert json.loads(str(npz["__metadata__"])) == META
        assert str(npz["__format__"]) == "sparse_mocap-weights/1"
