"""A small numpy neural-network runtime: the layers the learned models need, matching torch.

Inside Blender only numpy exists, so every network of the add-on runs on these layers; each one is
checked against its torch counterpart in ``tests/test_nn_parity.py`` (max abs difference <= 1e-5 in
float32, <= 1e-10 in float64). Nothing here imports torch; ``training/export_weights.py`` turns a
torch module into the arrays these classes read.

Layers are built from a *state dict*: a mapping from torch's parameter names (``weight``,
``bias``, ``weight_ih_l0``, ...) to numpy arrays, with an optional ``prefix`` so that one loaded
file feeds every layer of a model::

    arrays, meta = load_state_dict("assets/model.npz", architecture="imu_poser")
    lstm = LSTM(arrays, "rnn.", batch_first=True)
    head = Sequential.from_state_dict(arrays, [Linear, "relu", Linear], prefix="head.")
    y, state = lstm(x)                    # whole sequence, x (T, F) or (B, T, F)
    y, state = lstm(x, lanes=8)           # one long (T, F) sequence as 8 batched segments (same result)
    y_t, state = lstm.step(x_t, state)    # streaming, one frame (F,) or (B, F)
    live = RNNBlock(arrays, "net.", 2).stream()   # a block's live loop: state in preallocated buffers
    y_t = live.step(x_t)

Conventions:

- ``dtype`` is float32 by default, float64 allowed; inputs are cast to the layer's dtype.
- Weights are copied at construction into the layout the runtime wants (transposed, contiguous,
  gates reordered), so the arrays passed in are never modified or referenced.
- Shapes follow torch: ``Linear``/``LayerNorm`` act on the last axis of any array; ``Conv1d``
  takes torch's ``(C, L)`` / ``(B, C, L)`` (or ``(L, C)`` / ``(B, L, C)`` with
  ``channels_last=True``); recurrent states are torch's ``(num_layers * num_directions, [B,] H)``.
- The recurrent layers default to ``batch_first=True`` (inputs ``(B, T, F)``), unlike torch's
  default: pass ``batch_first=False`` for ``(T, B, F)``. Unbatched ``(T, F)`` always works.
- Missing weights and wrong shapes raise :class:`WeightError` (a ``ValueError``) with one sentence
  naming the file (when the state dict came from :func:`load_state_dict`), the key and the shapes.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.io.atomic import atomic_open

__all__ = [
    "WeightError", "MissingWeightError", "WeightFileNotFoundError", "StateDict",
    "save_state_dict", "load_state_dict", "sub_state_dict",
    "erf", "erfc", "relu", "gelu", "tanh", "sigmoid", "leaky_relu",
    "Module", "Identity", "ReLU", "GELU", "Tanh", "Sigmoid", "LeakyReLU", "Linear", "LayerNorm",
    "Sequential", "Conv1d", "LSTM", "GRU", "RNNBlock", "RNNStream",
]

FORMAT_NAME = "sparse_mocap-weights"
FORMAT_VERSION = 1
_METADATA_KEY = "__metadata__"
_FORMAT_KEY = "__format__"
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------------------------
# Errors and state dicts
# --------------------------------------------------------------------------------------------

class WeightError(ValueError):
    """A weight file or state dict does not fit what a layer expects (one-sentence message)."""

    __str__ = BaseException.__str__


class MissingWeightError(WeightError, KeyError):
    """A weight the layer needs is not in the state dict (also a ``KeyError``)."""

    __str__ = BaseException.__str__


class WeightFileNotFoundError(WeightError, FileNotFoundError):
    """The weight path does not name a file (also a ``FileNotFoundError``)."""

    __str__ = BaseException.__str__


class StateDict(dict):
    """A ``dict`` of arrays that remembers where it was loaded from, for error messages."""

    def __init__(self, arrays: Mapping[str, np.ndarray] = (), source: str = "state dict"):
        super().__init__(arrays)
        self.source = source

    def __missing__(self, key):
        raise MissingWeightError(f"{self.source}: missing weight '{key}'{_near(self, key)}.")


def _source(state_dict: Mapping) -> str:
    return getattr(state_dict, "source", "state dict")


def _near(state_dict: Mapping, key: str) -> str:
    """' (weights under 'rnn.': a, b, ...)' or '' — a hint for a missing-key message."""
    head = key.rsplit(".", 1)[0] + "." if "." in key else ""
    names = sorted(k for k in state_dict if k.startswith(head))
    if not names:
        return f" (the state dict holds {len(state_dict)} weights, none under '{head}')" if head else ""
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    return f" (weights under '{head}': {shown})" if head else f" (weights: {shown})"


def _shape_str(shape) -> str:
    parts = ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def _take(state_dict: Mapping, key: str, shape: Sequence[int | None] | None = None) -> np.ndarray:
    """``state_dict[key]`` as an array, checked against ``shape`` (``None`` = any size)."""
    if key not in state_dict:
        raise MissingWeightError(f"{_source(state_dict)}: missing weight '{key}'{_near(state_dict, key)}.")
    array = np.asarray(state_dict[key])
    if shape is not None and (array.ndim != len(shape) or any(
            want is not None and got != want for got, want in zip(array.shape, shape))):
        raise WeightError(f"{_source(state_dict)}: weight '{key}' has shape {tuple(array.shape)}, "
                          f"expected {_shape_str(shape)}.")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise WeightError(f"{_source(state_dict)}: weight '{key}' has dtype {array.dtype}, expected numbers.")
    return array


def sub_state_dict(state_dict: Mapping, prefix: str) -> StateDict:
    """The entries under ``prefix`` with the prefix removed (keeps the source for messages)."""
    return StateDict({k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)},
                     f"{_source(state_dict)} [{prefix}]" if prefix else _source(state_dict))


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in _DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dt}.")
    return dt


# --------------------------------------------------------------------------------------------
# Weight files
# --------------------------------------------------------------------------------------------

def save_state_dict(path: str | os.PathLike, state_dict: Mapping[str, Any], metadata: Mapping[str, Any],
                    *, compress: bool = False) -> Path:
    """Write ``state_dict`` and ``metadata`` to one ``.npz`` file, atomically (temp file + rename).

    ``metadata`` must be JSON-serialisable and name the ``architecture`` (a string); by convention
    it also holds ``hyperparameters`` (what the loader needs to rebuild the network), ``training``
    (the config and seed that produced the weights) and ``version``. It is stored as a JSON string
    under ``__metadata__`` next to ``__format__`` (``sparse_mocap-weights/1``); keys of the state dict
    may not start with ``__``. The file is written exactly at ``path`` (no suffix is added).
    """
    path = Path(path)
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("architecture"), str):
        raise WeightError(f"{path}: metadata must be a dict with an 'architecture' name (a string).")
    try:
        meta_json = json.dumps(dict(metadata), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise WeightError(f"{path}: metadata is not JSON-serialisable ({exc}).") from None
    arrays: dict[str, np.ndarray] = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not key or key.startswith("__"):
            raise WeightError(f"{path}: state dict key {key!r} is not allowed (empty or starts with '__').")
        array = np.asarray(value)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise WeightError(f"{path}: weight '{key}' has dtype {array.dtype}, expected numbers.")
        arrays[key] = array
    arrays[_METADATA_KEY] = np.array(meta_json)
    arrays[_FORMAT_KEY] = np.array(f"{FORMAT_NAME}/{FORMAT_VERSION}")

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, fsync=True) as handle:
        (np.savez_compressed if compress else np.savez)(handle, **arrays)
    return path


def load_state_dict(path: str | os.PathLike, *, expected: Mapping[str, Sequence[int | None]] | None = None,
                    architecture: str | None = None) -> tuple[StateDict, dict]:
    """Read a file written by :func:`save_state_dict`: ``(arrays, metadata)``.

    ``arrays`` is a :class:`StateDict` (a dict that names the file in its error messages).
    ``expected`` maps keys to shapes (``None`` for any size) that must be present;
    ``architecture``, when given, must equal the file's. Every problem raises :class:`WeightError`
    with one sentence naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightFileNotFoundError(
            f"{path}: is not a file (expected a .npz weight file written by save_state_dict).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {key: npz[key] for key in npz.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError (pickled data), OSError, ...
        raise WeightError(f"{path}: is not a readable .npz weight file ({type(exc).__name__}: {exc}).") from None
    fmt = raw.pop(_FORMAT_KEY, None)
    meta = raw.pop(_METADATA_KEY, None)
    if meta is None or fmt is None:
        raise WeightError(f"{path}: has no '{_METADATA_KEY}' entry, so it was not written by save_state_dict.")
    fmt = str(fmt)
    name, _, version = fmt.partition("/")
    if name != FORMAT_NAME or not version.isdigit() or int(version) > FORMAT_VERSION:
        raise WeightError(f"{path}: has format '{fmt}', this runtime reads {FORMAT_NAME}/{FORMAT_VERSION}.")
    try:
        metadata = json.loads(str(meta))
    except ValueError as exc:
        raise WeightError(f"{path}: its metadata is not valid JSON ({exc}).") from None
    if architecture is not None and metadata.get("architecture") != architecture:
        raise WeightError(f"{path}: holds weights for architecture '{metadata.get('architecture')}', "
                          f"expected '{architecture}'.")
    arrays = StateDict(raw, str(path))
    for key, shape in (expected or {}).items():
        _take(arrays, key, shape)
    return arrays, metadata


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------

# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969),
# 631-637, as in netlib specfun CALERF: maximal relative error about 1e-16 (double precision) on
# every interval. Evaluated in float64 whatever the input dtype.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_ERF_SMALL = 0.46875
_ERF_BIG = 26.55  # erfc(x) underflows to 0 in float64 beyond this
_INV_SQRT_PI = 0.56418958354775628695


def _erf_small(x: np.ndarray) -> np.ndarray:
    """erf(x) for |x| <= 0.46875 (float64)."""
    y = x * x
    num = _ERF_A[4] * y
    den = y
    for i in range(3):
        num = (num + _ERF_A[i]) * y
        den = (den + _ERF_B[i]) * y
    return x * (num + _ERF_A[3]) / (den + _ERF_B[3])


def _erfc_large(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 0.46875 (float64)."""
    out = np.zeros_like(y)
    mid = y <= 4.0
    ym = y[mid]
    num = _ERF_C[8] * ym
    den = ym
    for i in range(7):
        num = (num + _ERF_C[i]) * ym
        den = (den + _ERF_D[i]) * ym
    out[mid] = _scaled_exp(ym) * ((num + _ERF_C[7]) / (den + _ERF_D[7]))
    tail = ~mid & (y < _ERF_BIG)
    yt = y[tail]
    z = 1.0 / (yt * yt)
    num = _ERF_P[5] * z
    den = z
    for i in range(4):
        num = (num + _ERF_P[i]) * z
        den = (den + _ERF_Q[i]) * z
    out[tail] = _scaled_exp(yt) * ((_INV_SQRT_PI - z * (num + _ERF_P[4]) / (den + _ERF_Q[4])) / yt)
    return out


def _scaled_exp(y: np.ndarray) -> np.ndarray:
    """exp(-y*y) without the rounding error of forming y*y (Cody's split at multiples of 1/16)."""
    y16 = np.trunc(y * 16.0) / 16.0
    return np.exp(-y16 * y16) * np.exp(-(y - y16) * (y + y16))


def erf(x) -> np.ndarray:
    """The error function, vectorised (Cody's rational approximations, relative error ~1e-16).

    Returns the input's float dtype (float64 for integer input); computed in float64.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype in _DTYPES else np.dtype(np.float64)
    xd = x.astype(np.float64)
    ax = np.abs(xd)
    out = np.empty_like(xd)
    small = ax <= _ERF_SMALL
    out[small] = _erf_small(xd[small])
    large = ~small
    out[large] = np.copysign(1.0 - _erfc_large(ax[large]), xd[large])
    nan = np.isnan(xd)
    if nan.any():
        out[nan] = np.nan
    return out.astype(dtype, copy=False)


def erfc(x) -> np.ndarray:
    """The complementary error function ``1 - erf(x)``, without cancellation for large ``x``."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype in _DTYPES else np.dtype(np.float64)
    xd = x.astype(np.float64)
    ax = np.abs(xd)
    out = np.empty_like(xd)
    small = ax <= _ERF_SMALL
    out[small] = 1.0 - _erf_small(xd[small])
    large = ~small
    tail = _erfc_large(ax[large])
    out[large] = np.where(xd[large] > 0, tail, 2.0 - tail)
    nan = np.isnan(xd)
    if nan.any():
        out[nan] = np.nan
    return out.astype(dtype, copy=False)


def relu(x):
    return np.maximum(x, 0)


# Numerical Recipes' erfcc (Press et al., Chebyshev fit): erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z / 2),
# z >= 0, relative error < 1.2e-7 everywhere: one branch-free formula, 5x faster than Cody's three
# masked regions, and below float32's own rounding of a float32 result.
_ERFCC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
          1.48851587, -0.82215223, 0.17087277)


def _erfc_float32(z: np.ndarray) -> np.ndarray:
    """erfc of float64 values to float32 accuracy (``_ERFCC``; the reflection 2 - erfc(-z) below 0)."""
    az = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * az)
    poly = np.full_like(t, _ERFCC[-1])
    for c in _ERFCC[-2::-1]:
        poly *= t
        poly += c
    poly -= az * az
    tail = t * np.exp(poly)
    return np.where(z >= 0.0, tail, 2.0 - tail)


def gelu(x, approximate: str = "none"):
    """torch.nn.functional.gelu: ``x * Phi(x)`` (exact, erf) or torch's ``approximate='tanh'`` form.

    Exact form: ``0.5 x erfc(-x / sqrt 2)`` (erfc keeps the negative tail accurate), evaluated in
    float64, with Cody's erfc for float64 inputs and the cheaper float32-accurate one for float32."""
    x = np.asarray(x)
    if approximate == "none":
        xd = x.astype(np.float64)
        tail = (_erfc_float32 if x.dtype == np.float32 else erfc)(xd * -math.sqrt(0.5))
        return (0.5 * xd * tail).astype(x.dtype if x.dtype in _DTYPES else np.float64, copy=False)
    if approximate == "tanh":
        c = x.dtype.type(math.sqrt(2.0 / math.pi)) if x.dtype in _DTYPES else math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x * x * x)))
    raise ValueError(f"gelu approximate must be 'none' or 'tanh', got {approximate!r}.")


def tanh(x):
    return np.tanh(x)


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow and with full relative accuracy in both tails."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def leaky_relu(x, negative_slope: float = 0.01):
    x = np.asarray(x)
    return np.where(x > 0, x, x * x.dtype.type(negative_slope) if x.dtype in _DTYPES else x * negative_slope)


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------

class Module:
    """Base class: ``layer(x)`` calls ``layer.forward(x)``."""

    dtype: np.dtype = np.dtype(np.float32)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _input(self, x) -> np.ndarray:
        return np.asarray(x, dtype=self.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _Activation(Module):
    def __init__(self, dtype=np.float32):
        self.dtype = _dtype(dtype)


class Identity(_Activation):
    def forward(self, x):
        return self._input(x)


class ReLU(_Activation):
    def forward(self, x):
        return relu(self._input(x))


class Tanh(_Activation):
    def forward(self, x):
        return np.tanh(self._input(x))


class Sigmoid(_Activation):
    def forward(self, x):
        return sigmoid(self._input(x))


class GELU(_Activation):
    def __init__(self, approximate: str = "none", dtype=np.float32):
        super().__init__(dtype)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU approximate must be 'none' or 'tanh', got {approximate!r}.")
        self.approximate = approximate

    def forward(self, x):
        return gelu(self._input(x), self.approximate)

    def __repr__(self) -> str:
        return f"GELU(approximate={self.approximate!r})"


class LeakyReLU(_Activation):
    def __init__(self, negative_slope: float = 0.01, dtype=np.float32):
        super().__init__(dtype)
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return leaky_relu(self._input(x), self.negative_slope)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


_ACTIVATIONS: dict[str, Callable[..., Module]] = {
    "identity": Identity, "dropout": Identity, "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid,
    "gelu": GELU, "gelu_tanh": lambda dtype: GELU("tanh", dtype), "leaky_relu": LeakyReLU,
}


class Linear(Module):
    """torch.nn.Linear: ``y = x @ weight.T + bias`` over the last axis of any array."""

    def __init__(self, state_dict: Mapping, prefix: str = "", *, dtype=np.float32):
        self.dtype = _dtype(dtype)
        weight = _take(state_dict, prefix + "weight", (None, None))
        self.out_features, self.in_features = weight.shape
        self.weight_t = np.ascontiguousarray(weight.T, dtype=self.dtype)  # (in, out)
        key = prefix + "bias"
        self.bias = (np.array(_take(state_dict, key, (self.out_features,)), dtype=self.dtype)
                     if key in state_dict else None)

    def forward(self, x):
        x = self._input(x)
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear expects inputs (..., {self.in_features}), got {x.shape}.")
        y = np.dot(x.reshape(-1, self.in_features), self.weight_t)
        if self.bias is not None:
            y += self.bias
        return y.reshape(x.shape[:-1] + (self.out_features,))

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias is not None})"


class LayerNorm(Module):
    """torch.nn.LayerNorm over the last ``len(normalized_shape)`` axes (biased variance)."""

    def __init__(self, state_dict: Mapping, prefix: str = "", *, eps: float = 1e-5,
                 normalized_shape: Sequence[int] | int | None = None, dtype=np.float32):
        self.dtype = _dtype(dtype)
        self.eps = float(eps)
        wkey, bkey = prefix + "weight", prefix + "bias"
        if wkey in state_dict:
            weight = _take(state_dict, wkey)
            shape = tuple(weight.shape)
            if normalized_shape is not None and tuple(np.atleast_1d(normalized_shape)) != shape:
                raise WeightError(f"{_source(state_dict)}: weight '{wkey}' has shape {shape}, expected "
                                  f"{tuple(np.atleast_1d(normalized_shape))}.")
            self.weight = np.array(weight, dtype=self.dtype)
        elif normalized_shape is None:
            raise MissingWeightError(f"{_source(state_dict)}: missing weight '{wkey}' (pass normalized_shape "
                                     f"for a LayerNorm without elementwise affine).")
        else:
            shape = tuple(int(s) for s in np.atleast_1d(normalized_shape))
            self.weight = None
        self.normalized_shape = shape
        self.bias = np.array(_take(state_dict, bkey, shape), dtype=self.dtype) if bkey in state_dict else None
        self._axes = tuple(range(-len(shape), 0))

    def forward(self, x):
        x = self._input(x)
        if x.shape[x.ndim - len(self.normalized_shape):] != self.normalized_shape:
            raise ValueError(f"LayerNorm expects inputs (..., {', '.join(map(str, self.normalized_shape))}), "
                             f"got {x.shape}.")
        count = math.prod(self.normalized_shape)
        # np.mean's arithmetic (a sum, then a division) without its per-call overhead.
        mean = np.add.reduce(x, axis=self._axes, keepdims=True) / count
        centred = x - mean
        var = np.add.reduce(centred * centred, axis=self._axes, keepdims=True) / count
        y = centred / np.sqrt(var + self.eps)
        if self.weight is not None:
            y *= self.weight
        if self.bias is not None:
            y += self.bias
        return y

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"


class Sequential(Module):
    """Layers applied in order (``forward`` only; the recurrent layers are not sequential steps)."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)
        self.dtype = self.layers[0].dtype if self.layers else np.dtype(np.float32)

    @classmethod
    def from_state_dict(cls, state_dict: Mapping, spec: Sequence, prefix: str = "", *, dtype=np.float32):
        """Rebuild a ``torch.nn.Sequential`` from its state dict (entry ``i`` reads ``{prefix}{i}.``).

        ``spec`` lists the entries: an activation name (``"relu"``, ``"gelu"``, ``"gelu_tanh"``,
        ``"tanh"``, ``"sigmoid"``, ``"leaky_relu"``, ``"identity"``, ``"dropout"``), a built module
        (e.g. ``LeakyReLU(0.2)``), a layer class (``Linear``, ``LayerNorm``, ``Conv1d``) or a
        ``(class, kwargs)`` pair.
        """
        layers = []
        for i, entry in enumerate(spec):
            if isinstance(entry, str):
                if entry not in _ACTIVATIONS:
                    raise ValueError(f"unknown activation {entry!r}; known: {', '.join(sorted(_ACTIVATIONS))}.")
                layers.append(_ACTIVATIONS[entry](dtype=dtype))
            elif isinstance(entry, Module):
                layers.append(entry)
            else:
                klass, kwargs = entry if isinstance(entry, tuple) else (entry, {})
                layers.append(klass(state_dict, f"{prefix}{i}.", dtype=dtype, **kwargs))
        return cls(*layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class Conv1d(Module):
    """torch.nn.Conv1d (stride, padding incl. ``'same'``/``'valid'``, dilation, groups, padding modes).

    Inputs are torch's ``(C, L)`` or ``(B, C, L)``; with ``channels_last=True`` they are
    time-major ``(L, C)`` / ``(B, L, C)`` and so are the outputs. One matmul per call (im2col over
    the kernel taps; a batched matmul over groups when ``groups > 1``).
    """

    def __init__(self, state_dict: Mapping, prefix: str = "", *, stride: int = 1, padding: int | str = 0,
                 dilation: int = 1, groups: int = 1, padding_mode: str = "zeros", channels_last: bool = False,
                 dtype=np.float32):
        self.dtype = _dtype(dtype)
        weight = _take(state_dict, prefix + "weight", (None, None, None))
        cout, cin_g, k = weight.shape
        if groups < 1 or cout % groups:
            raise WeightError(f"{_source(state_dict)}: weight '{prefix}weight' has {cout} output channels, "
                              f"not a multiple of groups={groups}.")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"padding_mode must be one of {', '.join(_PAD_MODES)}, got {padding_mode!r}.")
        self.out_channels, self.in_channels, self.kernel_size = cout, cin_g * groups, k
        self.stride, self.dilation, self.groups = int(stride), int(dilation), int(groups)
        self.padding_mode, self.channels_last = padding_mode, bool(channels_last)
        if padding == "valid":
            padding = 0
        if padding == "same":
            if self.stride != 1:
                raise ValueError("Conv1d padding='same' needs stride 1 (as in torch).")
            total = self.dilation * (k - 1)
            self.pad = (total // 2, total - total // 2)
        elif isinstance(padding, str):
            raise ValueError(f"Conv1d padding must be an int, 'same' or 'valid', got {padding!r}.")
        else:
            self.pad = (int(padding), int(padding))
        g, cout_g = self.groups, cout // self.groups
        # (G, K * Cin_g, Cout_g): row index k * Cin_g + c matches the im2col column layout.
        w = weight.reshape(g, cout_g, cin_g, k).transpose(0, 3, 2, 1).reshape(g, k * cin_g, cout_g)
        self.weight_cols = np.ascontiguousarray(w[0] if g == 1 else w, dtype=self.dtype)
        key = prefix + "bias"
        self.bias = np.array(_take(state_dict, key, (cout,)), dtype=self.dtype) if key in state_dict else None

    def output_length(self, length: int) -> int:
        return (length + sum(self.pad) - self.dilation * (self.kernel_size - 1) - 1) // self.stride + 1

    def forward(self, x):
        x = self._input(x)
        if x.ndim not in (2, 3):
            raise ValueError(f"Conv1d expects (C, L) or (B, C, L) inputs, got {x.shape}.")
        unbatched = x.ndim == 2
        if unbatched:
            x = x[None]
        x = x if self.channels_last else x.transpose(0, 2, 1)  # (B, L, C)
        b, length, c = x.shape
        if c != self.in_channels:
            layout = "(B, L, C)" if self.channels_last else "(B, C, L)"
            raise ValueError(f"Conv1d expects {self.in_channels} channels in {layout}, got {x.shape}.")
        lout = self.output_length(length)
        if lout < 1:
            raise ValueError(f"Conv1d input of length {length} is too short for kernel {self.kernel_size} "
                             f"with dilation {self.dilation} and padding {self.pad}.")
        if any(self.pad):
            x = np.pad(x, ((0, 0), self.pad, (0, 0)), mode=_PAD_MODES[self.padding_mode])
        k, s, d, g = self.kernel_size, self.stride, self.dilation, self.groups
        cols = np.empty((b, lout, k, c), dtype=self.dtype)
        for tap in range(k):
            start = tap * d
            cols[:, :, tap, :] = x[:, start:start + s * (lout - 1) + 1:s, :]
        if g == 1:
            y = np.dot(cols.reshape(b * lout, k * c), self.weight_cols)
        else:
            cg = c // g
            grouped = cols.reshape(b * lout, k, g, cg).transpose(2, 0, 1, 3).reshape(g, b * lout, k * cg)
            y = np.matmul(grouped, self.weight_cols).transpose(1, 0, 2).reshape(b * lout, self.out_channels)
        if self.bias is not None:
            y += self.bias
        y = y.reshape(b, lout, self.out_channels)
        if not self.channels_last:
            y = np.ascontiguousarray(y.transpose(0, 2, 1))
        return y[0] if unbatched else y

    def __repr__(self) -> str:
        return (f"Conv1d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.pad}, dilation={self.dilation}, groups={self.groups})")


# --------------------------------------------------------------------------------------------
# Recurrent layers
# --------------------------------------------------------------------------------------------

def _gate_major(xp: np.ndarray, gates: int) -> np.ndarray:
    """(steps, batch, G*H) input projections viewed as (steps, G, batch, H): a step's slice adds to
    the gate-major gates without a copy (its rows are strided, each gate's H values contiguous)."""
    steps, batch, width = xp.shape
    return xp.reshape(steps, batch, gates, width // gates).transpose(0, 2, 1, 3)


class _Recurrent(Module):
    """Shared machinery of LSTM and GRU: weight loading, shapes, states, the layer/direction loop.

    Per (layer, direction) the input and hidden weights are stored stacked and transposed,
    ``W = [W_ih.T; W_hh.T]`` of shape ``(in + H, G * H)`` (contiguous, so both row blocks are
    contiguous views). Gates whose activation is a sigmoid are pre-scaled by 0.5 (exact in floating
    point) so that one ``tanh`` over all gates gives them: ``sigmoid(a) = 0.5 + 0.5 * tanh(a / 2)``.
    A whole sequence's input projection is one matmul before the time loop; each time step is one
    matmul for all gates plus a handful of in-place ufuncs on preallocated buffers.

    Inside a scan the gates are gate-major, ``(G, B, H)``, so that every in-place ufunc of a step
    runs on contiguous memory (on a strided ``(B, G*H)`` slice numpy is 2-3x slower); one row is
    the same memory either way. With a batch (several sequences, or the lanes below) the recurrent
    matmul of a step is one broadcast ``matmul`` of ``_ROW_BLOCK``-row blocks by each gate's
    ``(H, H)`` weight: products that small go to OpenBLAS's small-matrix kernel, which multiplies
    without packing the weight, 2-3x faster per row than one product of 8-32 rows (which packs the
    whole weight every step).

    **Lanes** (``forward(x, lanes=L)``, one long sequence): each layer and direction runs the
    sequence as ``L`` consecutive segments batched together (one matrix product of L rows per step
    instead of a vector product), every segment from a zero state, in pieces of ``LANE_PIECE``
    frames with the state kept after each piece. Segment k's true start is segment k-1's end, so
    segments 1.. run again from there, piece by piece, until their state (h and c) is within
    ``LANE_TOL`` (max abs) of the first run's at the same frame: from then on the two runs are the
    same (the network forgets its start), so the first run's later outputs stand. A segment that
    never meets its first run changes its end, and the next one runs again from the new end. The
    result is the sequential one up to that tolerance, whatever the weights; segments are at least
    ``MIN_LANE`` frames (fewer lanes for shorter inputs, down to 1: the sequential run itself).
    """

    GATES = 0
    KIND = ""
    _ROW_BLOCK = 4          # rows * H * H <= 100**3: OpenBLAS's small-matrix kernel, for H up to 500
    LANE_PIECE = 60
    LANE_TOL = 1e-5
    MIN_LANE = 600

    def __init__(self, state_dict: Mapping, prefix: str = "", *, batch_first: bool = True,
                 num_layers: int | None = None, bidirectional: bool | None = None, dtype=np.float32):
        self.dtype = _dtype(dtype)
        self.batch_first = bool(batch_first)
        src = _source(state_dict)
        if prefix + "weight_hr_l0" in state_dict:
            raise WeightError(f"{src}: '{prefix}weight_hr_l0' means an LSTM with proj_size, "
                              f"which this runtime does not implement.")
        w0 = _take(state_dict, prefix + "weight_ih_l0", (None, None))
        if w0.shape[0] % self.GATES:
            raise WeightError(f"{src}: weight '{prefix}weight_ih_l0' has {w0.shape[0]} rows, "
                              f"not a multiple of the {self.GATES} {self.KIND} gates.")
        hidden = w0.shape[0] // self.GATES
        layers = 0
        while prefix + f"weight_ih_l{layers}" in state_dict:
            layers += 1
        if num_layers is not None and num_layers != layers:
            if num_layers > layers:  # report the first missing layer's weight
                _take(state_dict, prefix + f"weight_ih_l{layers}")
            raise WeightError(f"{src}: '{prefix}weight_ih_l*' holds {layers} {self.KIND} layers, "
                              f"expected {num_layers}.")
        found_reverse = prefix + "weight_ih_l0_reverse" in state_dict
        if bidirectional is False and found_reverse:
            raise WeightError(f"{src}: '{prefix}weight_ih_l0_reverse' means a bidirectional {self.KIND}, "
                              f"expected a unidirectional one.")
        directions = 2 if (found_reverse or bidirectional) else 1
        self.hidden_size, self.num_layers, self.num_directions = hidden, layers, directions
        self.input_size = w0.shape[1]
        self.bidirectional = directions == 2
        self.bias = prefix + "bias_ih_l0" in state_dict
        self._w: list[np.ndarray] = []   # (in + H, G*H) per layer * D + direction
        self._b: list[np.ndarray] = []   # (G*H,) bias folded into the input projection
        self._bh: list[np.ndarray | None] = []  # bias that must stay on the hidden side (GRU's b_hn)
        g, h = self.GATES, hidden
        for layer in range(layers):
            in_size = self.input_size if layer == 0 else hidden * directions
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_ih = _take(state_dict, f"{prefix}weight_ih{sfx}", (g * h, in_size))
                w_hh = _take(state_dict, f"{prefix}weight_hh{sfx}", (g * h, h))
                if self.bias:
                    b_ih = _take(state_dict, f"{prefix}bias_ih{sfx}", (g * h,))
                    b_hh = _take(state_dict, f"{prefix}bias_hh{sfx}", (g * h,))
                else:
                    b_ih = b_hh = np.zeros(g * h)
                w, b, bh = self._pack(np.asarray(w_ih, np.float64), np.asarray(w_hh, np.float64),
                                      np.asarray(b_ih, np.float64), np.asarray(b_hh, np.float64))
                self._w.append(np.ascontiguousarray(w, dtype=self.dtype))
                self._b.append(np.ascontiguousarray(b, dtype=self.dtype))
                self._bh.append(None if bh is None else np.ascontiguousarray(bh, dtype=self.dtype))
        # The recurrent weights again per gate, (G, H, H), for batched steps (class docstring).
        self._w_hh_gates = [np.ascontiguousarray(w[-h:].reshape(h, g, h).transpose(1, 0, 2)) for w in self._w]

    # -- state ---------------------------------------------------------------------------------
    def initial_state(self, batch_size: int | None = None):
        """Zeros in torch's layout: ``(L*D, H)`` unbatched, ``(L*D, B, H)`` batched."""
        shape = (self.num_layers * self.num_directions,) + (() if batch_size is None else (batch_size,)) + (
            self.hidden_size,)
        return self._wrap_state([np.zeros(shape, self.dtype) for _ in range(self._n_state)])

    def _state_arrays(self, state, batch: int, unbatched: bool) -> list[np.ndarray]:
        """Copies of the state as (L*D, B, H) arrays (zeros when ``state`` is None)."""
        n = self.num_layers * self.num_directions
        if state is None:
            return [np.zeros((n, batch, self.hidden_size), self.dtype) for _ in range(self._n_state)]
        parts = self._unwrap_state(state)
        want = (n, self.hidden_size) if unbatched else (n, batch, self.hidden_size)
        out = []
        for part in parts:
            arr = np.asarray(part, dtype=self.dtype)
            if arr.shape != want:
                raise ValueError(f"{self.KIND} state must have shape {want} for this input, got {arr.shape}.")
            out.append(np.array(arr[:, None] if unbatched else arr))  # always a private copy
        return out

    def _finish_state(self, arrays: list[np.ndarray], unbatched: bool):
        return self._wrap_state([a[:, 0] if unbatched else a for a in arrays])

    def _recurrent_product(self, k: int, batch: int):
        """``f(h (batch, H), gates (G, batch, H))``: ``gates[g] = h @ W_hh[g]`` of layer/direction
        ``k`` (class docstring): one vector product for one row, else products of row blocks."""
        if batch == 1:
            w_hh, flat = self._w[k][-self.hidden_size:], (1, self.GATES * self.hidden_size)
            return lambda hp, out: np.dot(hp, w_hh, out=out.reshape(flat))
        w, rows, h = self._w_hh_gates[k][:, None], self._ROW_BLOCK, self.hidden_size
        full = batch - batch % rows
        blocks, shape_out = (full // rows, rows, h), (self.GATES, full // rows, rows, h)

        def product(hp, out):
            if full:
                np.matmul(hp[:full].reshape(blocks), w, out=out[:, :full].reshape(shape_out))
            if full < batch:
                np.matmul(hp[full:], w[:, 0], out=out[:, full:])
        return product

    def _projection(self, k: int, inp: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The input projection ``inp @ W_ih + b`` of (steps, batch, in) into ``out`` (steps, batch,
        G*H) (one product); returns it as the gate-major view (steps, G, batch, H) the scans read."""
        steps, batch, in_size = inp.shape
        width = self.GATES * self.hidden_size
        if out is None:
            out = np.empty((steps, batch, width), self.dtype)
        flat = out.reshape(steps * batch, width)
        np.dot(inp.reshape(steps * batch, in_size), self._w[k][:in_size], out=flat)
        flat += self._b[k]
        return _gate_major(out, self.GATES)

    # -- whole sequences -------------------------------------------------------------------------
    def forward(self, x, state=None, lanes: int = 1):
        """Run a whole sequence: ``x`` (T, F), or (B, T, F) (``(T, B, F)`` if not batch_first).

        Returns ``(y, state)``: ``y`` (T, D*H) / (B, T, D*H) (the top layer, both directions
        concatenated as in torch) and the final state in torch's layout. ``lanes`` > 1 runs one
        long (T, F) sequence in that many batched segments (class docstring), the same result up
        to ``LANE_TOL`` on the state.
        """
        x = self._input(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(B, T, F)" if self.batch_first else "(T, B, F)"
            raise ValueError(f"{self.KIND} expects inputs (T, {self.input_size}) or {layout} with "
                             f"F = {self.input_size}, got {x.shape}.")
        unbatched = x.ndim == 2
        seq = x[:, None, :] if unbatched else (x.transpose(1, 0, 2) if self.batch_first else x)
        steps, batch, _ = seq.shape
        lanes = min(int(lanes), steps // self.MIN_LANE) if batch == 1 else 1
        states = self._state_arrays(state, batch, unbatched)
        final = [np.empty_like(s) for s in states]
        h_size, dirs = self.hidden_size, self.num_directions
        inp = seq
        for layer in range(self.num_layers):
            out = np.empty((steps, batch, dirs * h_size), self.dtype)
            for d in range(dirs):
                k = layer * dirs + d
                target = out[:, :, d * h_size:(d + 1) * h_size]
                initial = [s[k] for s in states]
                if lanes > 1:                   # the reverse direction: the same scan on reversed views
                    last = self._scan_lanes(k, inp[::-1, 0] if d else inp[:, 0], initial, lanes,
                                            target[::-1, 0] if d else target[:, 0])
                else:
                    xp = self._projection(k, inp)
                    if d == 1:
                        xp, target = xp[::-1], target[::-1]
                    last = self._scan(xp, self._recurrent_product(k, batch), self._bh[k], initial, target)
                for f, value in zip(final, last):
                    f[k] = value
            inp = out
        if unbatched:
            y = inp[:, 0]
        elif self.batch_first:
            y = np.ascontiguousarray(inp.transpose(1, 0, 2))
        else:
            y = inp
        return y, self._finish_state(final, unbatched)

    def _scan_lanes(self, k, inp, initial, lanes, out):
        """One layer/direction of one sequence in ``lanes`` segments (class docstring): ``inp``
        (T, in) its input in time order, ``out`` (T, H) filled; returns the final state."""
        frames, h, tol = len(inp), self.hidden_size, self.LANE_TOL
        n = -(-frames // lanes)
        lanes = -(-frames // n)                                # so that only the last lane is padded
        pad = lanes * n - frames
        seq = np.empty((n, lanes, inp.shape[1]), self.dtype)   # time-major: a step's lanes together
        for lane in range(lanes):
            part = inp[lane * n:(lane + 1) * n]
            seq[:len(part), lane] = part
            seq[len(part):, lane] = inp[-1]                    # the last lane padded (its outputs dropped)
        # The input projection piece by piece, each just before its scan (while it is in cache).
        tm = np.empty((n, lanes, self.GATES * h), self.dtype)
        y = np.empty((n, lanes, h), self.dtype)
        states = [np.zeros((lanes, h), self.dtype) for _ in initial]
        for s, value in zip(states, initial):
            s[0] = value[0]
        bounds = sorted(set(range(0, n, self.LANE_PIECE)) | {n - pad, n})
        pieces = list(zip(bounds[:-1], bounds[1:]))
        product = self._recurrent_product(k, lanes)
        checkpoints = []                                       # the state after each piece, per lane
        for a, b in pieces:
            xp = self._projection(k, seq[a:b], tm[a:b])
            states = [np.array(s) for s in self._scan(xp, product, self._bh[k], states, y[a:b])]
            checkpoints.append(states)
        pending = list(range(1, lanes))
        while pending:
            active = np.array(pending)
            states = [s[active - 1] for s in checkpoints[-1]]  # the previous lane's end
            for j, (a, b) in enumerate(pieces):
                part = np.empty((b - a, len(active), h), self.dtype)
                xp = _gate_major(tm[a:b, active], self.GATES)
                states = self._scan(xp, self._recurrent_product(k, len(active)), self._bh[k], states, part)
                y[a:b, active] = part
                moving = np.zeros(len(active), bool)
                for new, old in zip(states, checkpoints[j]):
                    moving |= np.abs(new - old[active]).max(axis=1) > tol
                    old[active] = new
                if not moving.any():
                    active = active[:0]
                    break
                active = active[moving]
                states = [s[moving] for s in states]
            pending = [lane + 1 for lane in active if lane + 1 < lanes]
        out[:] = y.transpose(1, 0, 2).reshape(lanes * n, h)[:frames]
        end = checkpoints[bounds.index(n - pad) - 1]
        return [s[lanes - 1:] for s in end]

    # -- streaming ---------------------------------------------------------------------------------
    def step(self, x, state=None):
        """One frame: ``x`` (F,) or (B, F) and the previous state -> ``(y, new_state)``.

        Unidirectional only. ``y`` is (H,) / (B, H); the state is in torch's layout and never
        modified in place, so keeping old states around is safe. ``step`` frame by frame gives
        ``forward``'s outputs.
        """
        if self.bidirectional:
            raise ValueError(f"a bidirectional {self.KIND} cannot stream: step() needs the whole future; "
                             f"use forward().")
        x = self._input(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{self.KIND}.step expects ({self.input_size},) or (B, {self.input_size}), "
                             f"got {x.shape}.")
        unbatched = x.ndim == 1
        inp = x[None] if unbatched else x
        states = self._state_arrays(state, inp.shape[0], unbatched)
        new = [np.empty_like(s) for s in states]
        for layer in range(self.num_layers):
            self._step_layer(inp, layer, [s[layer] for s in states], [s[layer] for s in new])
            inp = new[0][layer]
        y = inp[0] if unbatched else inp
        return y.copy(), self._finish_state(new, unbatched)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bias={self.bias}, batch_first={self.batch_first}, bidirectional={self.bidirectional}, "
                f"dtype={self.dtype})")


class LSTM(_Recurrent):
    """torch.nn.LSTM (gates i, f, g, o; both biases; layers; bidirectional; batch_first).

    State is ``(h, c)``, each ``(num_layers * num_directions, [B,] H)`` as in torch. Built from a
    torch LSTM's state dict; the number of layers, hidden size, bias and bidirectionality are read
    from the weights (``num_layers``/``bidirectional`` may be given to check them).
    """

    GATES = 4
    KIND = "LSTM"
    _n_state = 2

    @staticmethod
    def _wrap_state(arrays):
        return tuple(arrays)

    @staticmethod
    def _unwrap_state(state):
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError("LSTM state must be a pair (h, c).")
        return state

    def _pack(self, w_ih, w_hh, b_ih, b_hh):
        h = self.hidden_size
        # torch order i, f, g, o -> i, f, o, g (the three sigmoid gates first), sigmoid gates * 0.5
        order = np.r_[0:2 * h, 3 * h:4 * h, 2 * h:3 * h]
        scale = np.r_[np.full(3 * h, 0.5), np.ones(h)]
        w = np.concatenate([w_ih, w_hh], axis=1)[order] * scale[:, None]
        return w.T, (b_ih + b_hh)[order] * scale, None

    def _scan(self, xp, product, _bh, initial, out):
        steps, _, batch, h = xp.shape
        gates = np.empty((4, batch, h), self.dtype)
        sig, gi, gf, go, gg = gates[:3], gates[0], gates[1], gates[2], gates[3]
        h_prev, c = initial[0], initial[1].copy()
        for t in range(steps):
            product(h_prev, gates)
            gates += xp[t]
            np.tanh(gates, out=gates)
            sig *= 0.5
            sig += 0.5
            c *= gf
            gi *= gg
            c += gi
            h_t = out[t]
            np.tanh(c, out=h_t)
            h_t *= go
            h_prev = h_t
        return h_prev, c

    def _step_layer(self, inp, layer, old, new):
        xh = np.concatenate((inp, old[0]), axis=1)
        new[1][...] = old[1]
        self._step_in_place(layer, xh, new[1], np.empty((len(xh), 4 * self.hidden_size), self.dtype))
        new[0][...] = xh[:, -self.hidden_size:]

    def _step_in_place(self, layer, xh, c, gates):
        """One step of one layer in place: ``xh`` (B, in + H) holds the input and the previous h,
        whose place takes the new h; ``c`` (B, H) is updated; ``gates`` (B, 4H) is scratch."""
        h = self.hidden_size
        np.dot(xh, self._w[layer], out=gates)
        gates += self._b[layer]
        np.tanh(gates, out=gates)
        sig = gates[:, :3 * h]
        sig *= 0.5
        sig += 0.5
        c *= gates[:, h:2 * h]
        gi = gates[:, :h]
        gi *= gates[:, 3 * h:]
        c += gi
        h_new = xh[:, -h:]
        np.tanh(c, out=h_new)
        h_new *= gates[:, 2 * h:3 * h]


class GRU(_Recurrent):
    """torch.nn.GRU (gates r, z, n with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

    State is ``h`` of shape ``(num_layers * num_directions, [B,] H)`` as in torch.
    """

    GATES = 3
    KIND = "GRU"
    _n_state = 1

    @staticmethod
    def _wrap_state(arrays):
        return arrays[0]

    @staticmethod
    def _unwrap_state(state):
        return (state,)

    def _pack(self, w_ih, w_hh, b_ih, b_hh):
        h = self.hidden_size
        scale = np.r_[np.full(2 * h, 0.5), np.ones(h)]
        w = np.concatenate([w_ih, w_hh], axis=1) * scale[:, None]
        b = b_ih * scale
        b[:2 * h] += 0.5 * b_hh[:2 * h]  # r and z biases of both sides add up outside the gate product
        return w.T, b, b_hh[2 * h:]

    def _scan(self, xp, product, b_hn, initial, out):
        steps, _, batch, h = xp.shape
        gh = np.empty((3, batch, h), self.dtype)
        rz = np.empty((2, batch, h), self.dtype)
        gh_rz, gh_n, r, z = gh[:2], gh[2], rz[0], rz[1]
        h_prev = initial[0]
        for t in range(steps):
            xt = xp[t]
            product(h_prev, gh)
            np.add(gh_rz, xt[:2], out=rz)
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            gh_n += b_hn
            gh_n *= r
            gh_n += xt[2]
            np.tanh(gh_n, out=gh_n)
            h_t = out[t]
            np.subtract(h_prev, gh_n, out=h_t)
            h_t *= z
            h_t += gh_n
            h_prev = h_t
        return (h_prev,)

    def _step_layer(self, inp, layer, old, new):
        h = self.hidden_size
        w = self._w[layer]
        in_size = inp.shape[1]
        xt = np.dot(inp, w[:in_size])
        xt += self._b[layer]
        gh = np.dot(old[0], w[in_size:])
        rz = gh[:, :2 * h]
        rz += xt[:, :2 * h]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        n = gh[:, 2 * h:]
        n += self._bh[layer]
        n *= rz[:, :h]
        n += xt[:, 2 * h:]
        np.tanh(n, out=n)
        out = new[0]
        np.subtract(old[0], n, out=out)
        out *= rz[:, h:]
        out += n


class RNNBlock:
    """Linear -> ReLU -> LSTM -> Linear: TransPose's ``RNN`` (torch twin ``training/imu_model.RNNBlock``,
    whose dropout is training only). ``forward`` takes a sequence, ``step`` one frame."""

    def __init__(self, arrays, prefix: str, layers: int):
        self.linear1 = Linear(arrays, prefix + "linear1.")
        self.rnn = LSTM(arrays, prefix + "rnn.", num_layers=layers, batch_first=True)
        self.linear2 = Linear(arrays, prefix + "linear2.")

    def forward(self, x, state=None, lanes: int = 1):
        y, state = self.rnn(relu(self.linear1(x)), state, lanes=lanes)
        return self.linear2(y), state

    def step(self, x, state=None):
        y, state = self.rnn.step(relu(self.linear1(x)), state)
        return self.linear2(y), state

    def stream(self) -> "RNNStream":
        """A one-frame-at-a-time session with its state in preallocated buffers (:class:`RNNStream`)."""
        return RNNStream(self)


class RNNStream:
    """An :class:`RNNBlock` fed one unbatched frame at a time, its LSTM state kept in preallocated
    buffers that the step updates in place: the live loops' network step, with no allocation and
    no state copy per frame (``RNNBlock.step``'s numbers). ``step(x)`` returns the block's output
    in a buffer that the next step overwrites."""

    def __init__(self, block: RNNBlock):
        rnn = block.rnn
        if not isinstance(rnn, LSTM) or rnn.bidirectional:
            raise ValueError("RNNStream runs a unidirectional LSTM block.")
        self.block, h = block, rnn.hidden_size
        sizes = [block.linear1.out_features] + [h] * (rnn.num_layers - 1)
        self._xh = [np.zeros((1, size + h), rnn.dtype) for size in sizes]      # [layer input | h]
        self._c = [np.zeros((1, h), rnn.dtype) for _ in sizes]
        self._gates = np.empty((1, 4 * h), rnn.dtype)
        self._first = self._xh[0][0, :sizes[0]]
        self._h = [xh[:, -h:] for xh in self._xh]
        self._inputs = [xh[:, :h] for xh in self._xh[1:]]
        self.output = np.empty(block.linear2.out_features, rnn.dtype)

    def reset(self) -> None:
        for hidden, cell in zip(self._h, self._c):
            hidden[...] = 0.0
            cell[...] = 0.0

    def step(self, x) -> np.ndarray:
        """``x`` (F,) in the block's dtype -> its output (out_features,)."""
        block, first = self.block, self._first
        np.dot(x, block.linear1.weight_t, out=first)
        if block.linear1.bias is not None:
            first += block.linear1.bias
        np.maximum(first, 0.0, out=first)
        for layer, xh in enumerate(self._xh):
            block.rnn._step_in_place(layer, xh, self._c[layer], self._gates)
            if layer < len(self._inputs):
                self._inputs[layer][...] = self._h[layer]
        np.dot(self._h[-1][0], block.linear2.weight_t, out=self.output)
        if block.linear2.bias is not None:
            self.output += block.linear2.bias
        return self.output
