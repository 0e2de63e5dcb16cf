"""TransPose / PIP / DIP-style tensors: ``acc.pt`` + ``ori.pt``, a ``.pt`` dict, or a ``.npz``."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import numpy as np

from ..recording import SIX_SENSORS, ImuRecording
from ...io.plausible import MAX_SAMPLE_RATE, damaged_array_file, frame_rate, infinite_values
from .common import _check_rotations, _fail, check_acceleration, sensor_label


DEFAULT_TENSOR_FPS = 60.0


def _load_pt(path: Path):
    try:
        torch = importlib.import_module("torch")     # optional: only .pt files need it
    except ImportError:
        raise _fail(path, "reading .pt files needs PyTorch, which is not installed; save the arrays as .npz "
                    "(acc, ori) instead.") from None
    if "weights_only" not in inspect.signature(torch.load).parameters:
        # Without it torch.load unpickles anything, which can run code from the file: refuse.
        raise _fail(path, f"reading .pt files safely needs PyTorch 1.13 or newer (this is {torch.__version__}); "
                    "save the arrays as .npz (acc, ori) instead.")
    try:
        value = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:                          # torch raises many kinds for damaged or unsafe files
        raise _fail(path, "not a readable PyTorch tensor file: it is damaged or truncated, or holds objects other "
                    "than tensors (those are never loaded, since loading them can run code).") from None

    def to_numpy(v):
        if hasattr(v, "detach"):
            return v.detach().cpu().double().numpy()
        return np.asarray(v)

    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    return to_numpy(value)


def _tensor_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, dict, Path]:
    """(acc, ori, extras, where) from a folder/file pair of .pt, a .pt dict or a .npz."""
    if path.is_dir() and not (path / "acc.pt").is_file() and not (path / "ori.pt").is_file():
        archives = sorted(path.glob("*.npz"))
        if len(archives) != 1:
            raise _fail(path, f"expected acc.pt and ori.pt or one .npz in the folder, found {len(archives)} .npz "
                        "files.")
        path = archives[0]
    if path.is_dir() or path.name.lower() in ("acc.pt", "ori.pt"):
        folder = path if path.is_dir() else path.parent
        acc_path, ori_path = folder / "acc.pt", folder / "ori.pt"
        for p in (acc_path, ori_path):
            if not p.is_file():
                raise _fail(p, "no such file; TransPose-style recordings are a pair acc.pt and ori.pt.")
        return _load_pt(acc_path), _load_pt(ori_path), {}, folder
    if path.suffix.lower() == ".pt":
        value = _load_pt(path)
        if not isinstance(value, dict) or "acc" not in value or "ori" not in value:
            raise _fail(path, "expected a dict with 'acc' and 'ori' tensors, or the pair acc.pt and ori.pt.")
        return value["acc"], value["ori"], value, path
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception:      # zipfile, zlib and numpy raise many kinds for a damaged archive
        raise _fail(path, damaged_array_file(".npz") + ".") from None
    missing = [k for k in ("acc", "ori") if k not in arrays]
    if missing:
        raise _fail(path, f"no {' or '.join(missing)} array; expected 'acc' (frames, sensors, 3) and 'ori' "
                    f"(frames, sensors, 3, 3); the file has {', '.join(sorted(arrays)) or 'nothing'}.")
    return arrays["acc"], arrays["ori"], arrays, path


def _read_tensors(path: Path, fps) -> ImuRecording:
    acc, ori, extras, where = _tensor_arrays(path)
    acc, ori = np.asarray(acc), np.asarray(ori)
    for name, array in (("acc", acc), ("ori", ori)):
        if array.dtype.kind not in "iuf":
            raise _fail(where, f"{name} holds {array.dtype} values; numbers are expected.")
    if ori.ndim == 3 and ori.shape[-1] == 9:
        ori = ori.reshape(ori.shape[:2] + (3, 3))
    if acc.ndim != 3 or acc.shape[-1] != 3:
        raise _fail(where, f"acc has shape {tuple(acc.shape)}; expected (frames, sensors, 3).")
    if ori.shape != acc.shape[:2] + (3, 3):
        raise _fail(where, f"ori has shape {tuple(ori.shape)}; expected {acc.shape[:2] + (3, 3)} to match acc "
                    f"{tuple(acc.shape)}.")
    if acc.shape[0] == 0:
        raise _fail(where, "the arrays have no frames.")
    if "sensors" in extras:
        sensors = tuple(str(s) for s in np.asarray(extras["sensors"]).ravel())
        if len(sensors) != acc.shape[1]:
            raise _fail(where, f"{len(sensors)} sensor names for {acc.shape[1]} sensors.")
    elif acc.shape[1] == len(SIX_SENSORS):
        sensors = SIX_SENSORS
    else:
        raise _fail(where, f"{acc.shape[1]} sensors without names; TransPose-style arrays have 6 "
                    f"({', '.join(SIX_SENSORS)}), or give a 'sensors' array in the .npz.")
    ori, acc = ori.astype(np.float64), acc.astype(np.float64)
    why = infinite_values(ori, sensor_label(sensors)) or infinite_values(acc, sensor_label(sensors))
    if why is not None:
        raise _fail(where, why + ".")
    _check_rotations(where, ori, lambda index: f"frame {index[0]}, sensor {sensors[index[1]]}")
    check_acceleration(where, acc, sensors)
    if fps is not None:
        rate = float(fps)
    elif "fps" in extras:
        rate, why = frame_rate(extras["fps"], MAX_SAMPLE_RATE)
        if why is not None:
            raise _fail(f"{where}, array \"fps\"", f"{why}; expected the recording's frames per second.")
    else:
        rate = DEFAULT_TENSOR_FPS
    meta = {"format": "tensors", "times": np.arange(acc.shape[0]) / rate, "native_fps": rate, "up_axis": "+Y",
            "fps_assumed": fps is None and "fps" not in extras}
    return ImuRecording(sensors=sensors, orientation=ori, acceleration=acc, fps=rate,
                        world="core", source=str(where), metadata=meta)
