"""Seed files for every reader, and the committed corpus of malformed variants made from them.

    .venv/bin/python tests/malformed/make_cases.py          # rewrite tests/malformed/cases/

Seeds are small, valid files written by the library's own writers (BVH, IMU CSV, trackers, Motion)
or from a known body (landmarks, Xsens / DOT / x-io text, ASF/AMC, exp-map): nothing here is copied
from the shared real data. :func:`write_seeds` is also what the fuzz tests mutate.

Every case is one seed with one damage (a truncation, flipped bytes, a value replaced by NaN, inf,
1e308, a string, a frame rate of -60 / 0 / "sixty" / 1e9, a unit mistake, a damaged binary header).
``cases/MANIFEST.json`` lists them: the reader kind, the path, the CLI flag that reads it, and
``expect``: "error" when the case must be refused, "either" when a clean error and a plausible
result are both right (a single NaN cell is a missing point, for example).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = Path(__file__).resolve().parent / "cases"
FRAMES = 12

# reader kind -> (file name, CLI flag reading it or None)
SEEDS = {
    "bvh": ("walk.bvh", "--mocap"),
    "amc": ("chain_01.amc", "--mocap"),
    "expmap": ("walking_1.txt", "--mocap"),
    "trc": ("walk.trc", "--landmarks"),
    "landmark_json": ("mediapipe.json", "--landmarks"),
    "landmark_csv": ("mediapipe.csv", "--landmarks"),
    "landmark_npy": ("smpl24.npy", "--landmarks"),
    "landmark_npz": ("smpl24.npz", "--landmarks"),
    "imu_npz": ("transpose.npz", "--imu"),
    "imu_pt": ("transpose.pt", "--imu"),
    "imu_csv": ("imu.csv", "--imu"),
    "xsens": ("MT_012005D6_009-001_00B421E6.txt", "--imu"),
    "dot": ("Pelvis_20210820_202113_836.csv", "--imu"),
    "xio": ("xio", "--imu"),
    "tracker_csv": ("trackers.csv", "--trackers"),
    "tracker_json": ("trackers.json", "--trackers"),
    "tracker_npz": ("trackers.npz", "--trackers"),
    "motion": ("motion.npz", "--motion"),
}


# --- seeds ---------------------------------------------------------------------------------------

def _demo(frames=FRAMES, fps=60.0):
    from sparse_mocap_addon.core.body.demo import demo_motion

    return demo_motion(seconds=frames / fps, fps=fps)


def _joint_positions(frames=FRAMES):
    motion = _demo(frames)
    return motion.joint_positions()                                   # (T, 24, 3) metres, Y up


def _write_bvh(path):
    from sparse_mocap_addon.core.mocap.formats.bvh import write_bvh
    from sparse_mocap_addon.core.mocap.source import SourceMotion

    motion = _demo()
    write_bvh(path, SourceMotion.from_motion(motion), precision=4)


def _write_amc(path):
    from tests.test_acclaim import CHAIN_ASF

    path.with_name("chain.asf").write_text(CHAIN_ASF)
    lines = ["#!OML:ASF chain.asf", ":FULLY-SPECIFIED", ":DEGREES"]
    for t in range(FRAMES):
        lines += [str(t + 1), f"root {0.05 * t:.3f} 0 0 0 {2 * t} 0", f"upper {t} {-t} {0.5 * t}", f"lower {3 * t}"]
    path.write_text("\n".join(lines) + "\n")


def _write_expmap(path):
    from sparse_mocap_addon.core.mocap.formats.cmu_expmap import NUM_JOINTS

    rng = np.random.default_rng(0)
    rows = np.zeros((FRAMES, 3 + 3 * NUM_JOINTS))
    rows[:, 0] = np.linspace(0, 10, FRAMES)                           # CMU units (56 mm)
    rows[:, 3:] = rng.normal(scale=0.1, size=(FRAMES, 3 * NUM_JOINTS))
    path.write_text("\n".join(",".join(f"{v:.5f}" for v in row) for row in rows) + "\n")


def _write_trc(path):
    from tests.test_landmark_formats import _trc_points, _trc_text

    path.write_text(_trc_text(_trc_points(FRAMES)))


def _mediapipe(frames):
    from tests.test_landmark_formats import _mediapipe_frames

    return _mediapipe_frames(frames)


def _write_landmark_json(path, frames=5):
    points, visibility = _mediapipe(frames)
    doc = {"fps": 30, "frames": [{"frame": t, "pose_world_landmarks": [
        {"x": round(float(x), 4), "y": round(float(y), 4), "z": round(float(z), 4), "visibility": round(float(v), 3)}
        for (x, y, z), v in zip(points[t], visibility[t])]} for t in range(frames)]}
    path.write_text(json.dumps(doc, separators=(",", ":")))


def _write_landmark_csv(path, frames=8):
    from sparse_mocap_addon.core.landmarks.sequence import LAYOUTS

    points, visibility = _mediapipe(frames)
    names = LAYOUTS["mediapipe33"]
    header = ["time"] + [f"{n}_{a}" for n in names for a in ("x", "y", "z", "visibility")]
    rows = [",".join(header)]
    for t in range(frames):
        cells = [f"{t / 30:.4f}"]
        for k in range(len(names)):
            cells += [f"{v:.4f}" for v in points[t, k]] + [f"{visibility[t, k]:.3f}"]
        rows.append(",".join(cells))
    path.write_text("\n".join(rows) + "\n")


def _write_landmark_npy(path):
    np.save(path, _joint_positions().astype(np.float32))


def _write_landmark_npz(path):
    np.savez(path, joints=_joint_positions().astype(np.float32), fps=np.float64(60.0))


def _imu_arrays(frames=FRAMES):
    from tests.test_imu_formats import tensor_arrays

    acc, ori = tensor_arrays(frames)
    return acc.astype(np.float32), ori.astype(np.float32)


def _write_imu_npz(path):
    acc, ori = _imu_arrays()
    np.savez(path, acc=acc, ori=ori, fps=np.float64(60.0))


def _write_imu_pt(path):
    import torch

    acc, ori = _imu_arrays()
    torch.save({"acc": torch.from_numpy(acc), "ori": torch.from_numpy(ori)}, path)


def _write_imu_csv(path):
    from sparse_mocap_addon.core.imu.formats import write_imu_csv
    from sparse_mocap_addon.core.imu.recording import SIX_SENSORS
    from tests.test_imu_formats import slow_recording

    write_imu_csv(slow_recording(frames=FRAMES, sensors=SIX_SENSORS), path)


def _still_rotations(frames=FRAMES):
    from sparse_mocap_addon.core.kinematics.rotations import axis_angle_to_matrix

    angles = np.linspace(0, 0.3, frames)[:, None] * np.array([0.2, 1.0, 0.1])
    return axis_angle_to_matrix(angles)


def _write_xsens(path):
    from tests.test_imu_formats import xsens_text

    rotations = _still_rotations()
    path.write_text(xsens_text(np.arange(FRAMES), rotations, np.zeros((FRAMES, 3))))


def _write_dot(path):
    from sparse_mocap_addon.core.kinematics.rotations import matrix_to_quat
    from tests.test_imu_formats import dot_text

    path.write_text(dot_text(np.arange(FRAMES) * 16667, matrix_to_quat(_still_rotations()), np.zeros((FRAMES, 3))))


def _write_xio(folder):
    from sparse_mocap_addon.core.kinematics.rotations import matrix_to_quat
    from tests.test_imu_formats import EZ, write_xio_sensor

    rotations = _still_rotations()
    still_g = np.einsum("nji,j->ni", rotations, EZ)
    write_xio_sensor(folder / "Pelvis 64F0EDBF (UDP)", np.arange(FRAMES) * 20_000, matrix_to_quat(rotations), still_g)


def _write_trackers(path):
    from sparse_mocap_addon.core.trackers.formats import write_trackers
    from sparse_mocap_addon.core.trackers.recording import THREE_POINT
    from tests.test_tracker_formats import walk_recording

    # walk_recording drops a sample at frame 20: 21 frames at least.
    write_trackers(walk_recording(THREE_POINT, seconds=21 / 60.0), path, convention="unity")


def _write_motion(path):
    _demo().save(path)


_WRITERS = {
    "bvh": _write_bvh, "amc": _write_amc, "expmap": _write_expmap, "trc": _write_trc,
    "landmark_json": _write_landmark_json, "landmark_csv": _write_landmark_csv,
    "landmark_npy": _write_landmark_npy, "landmark_npz": _write_landmark_npz, "imu_npz": _write_imu_npz,
    "imu_pt": _write_imu_pt, "imu_csv": _write_imu_csv, "xsens": _write_xsens, "dot": _write_dot,
    "xio": _write_xio, "tracker_csv": _write_trackers, "tracker_json": _write_trackers,
    "tracker_npz": _write_trackers, "motion": _write_motion,
}


def write_seed(kind: str, folder: Path) -> Path:
    """The valid seed file (or folder, for x-io) of ``kind`` in ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SEEDS[kind][0]
    _WRITERS[kind](path)
    return path


def write_seeds(folder: Path) -> dict:
    """Every seed, each in its own sub-folder of ``folder`` (the AMC needs its ASF beside it)."""
    return {kind: write_seed(kind, Path(folder) / kind) for kind in SEEDS}


# --- damage --------------------------------------------------------------------------------------

def text_file(path: Path) -> Path:
    """The text file of a seed that holds the data (x-io: the sensor's Quaternion.csv)."""
    if path.is_dir():
        return next(path.rglob("Quaternion.csv"))
    return path


def replace_number(text: str, index: int, new: str, skip_lines: int = 0) -> str:
    """``text`` with its ``index``-th number token (counted from the data lines after ``skip_lines``,
    modulo their count) replaced by ``new``."""
    import re

    lines = text.split("\n")
    head, body = "\n".join(lines[:skip_lines]), "\n".join(lines[skip_lines:])
    spans = [m.span() for m in re.finditer(r"(?<![\w.])-?\d+\.?\d*(?:[eE][-+]?\d+)?(?![\w.])", body)]
    if not spans:
        return text
    a, b = spans[index % len(spans)]
    body = body[:a] + new + body[b:]
    return head + ("\n" if skip_lines else "") + body


def flip_bytes(raw: bytes, positions, mask: int = 0xFF) -> bytes:
    data = bytearray(raw)
    for p in positions:
        if data:
            data[p % len(data)] ^= mask
    return bytes(data)


def rewrite_npz(path: Path, change) -> None:
    """Apply ``change(dict of arrays)`` to an .npz and save it again (uncompressed)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    with path.open("wb") as stream:
        np.savez_compressed(stream, **arrays)


def _data_skip(kind: str, text: str) -> int:
    """Header lines to leave alone when replacing numbers (so the damage lands in the data)."""
    lines = text.split("\n")
    markers = {"trc": 5, "xsens": 6, "dot": 12, "imu_csv": 6, "tracker_csv": 6, "bvh": None, "amc": 3,
               "landmark_csv": 1, "xio": 1, "expmap": 0}
    if kind == "bvh":
        return next(i for i, line in enumerate(lines) if line.startswith("Frame Time")) + 1
    return markers.get(kind, 0)


_VALUE_DAMAGE = {"nan": "nan", "inf": "inf", "1e308": "1e308", "9e30": "9e30", "minus1e12": "-1e12",
                 "word": "abc"}


def _cases():
    """(name, kind, damage function(path), expect) for the committed corpus."""
    cases = []
    text_kinds = ("bvh", "amc", "expmap", "trc", "landmark_json", "landmark_csv", "imu_csv", "xsens", "dot", "xio",
                  "tracker_csv", "tracker_json")
    binary_kinds = ("landmark_npy", "landmark_npz", "imu_npz", "imu_pt", "tracker_npz", "motion")

    def on_text(fn):
        def damage(path, kind):
            target = text_file(path)
            target.write_text(fn(target.read_text(), kind))
        return damage

    counted = ("bvh", "trc", "landmark_json", "tracker_json")      # a frame count or a closing bracket
    for kind in text_kinds:
        cases.append((f"{kind}_truncated", kind, on_text(lambda t, k: t[: len(t) // 3]),
                      "error" if kind in counted else "either"))
        cases.append((f"{kind}_empty", kind, on_text(lambda t, k: ""), "error"))
        for name, value in _VALUE_DAMAGE.items():
            expect = "either" if name == "nan" else "error"
            cases.append((f"{kind}_value_{name}", kind,
                          on_text(lambda t, k, v=value: replace_number(t, 7, v, _data_skip(k, t))), expect))
    for kind in binary_kinds:
        cases.append((f"{kind}_truncated", kind, lambda p, k: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
                      "error"))
        # .npy headers are text (always refused); in a zip (npz, pt) the flips may hit a name field only.
        cases.append((f"{kind}_header_flipped", kind, lambda p, k: p.write_bytes(flip_bytes(p.read_bytes(), (20, 30))),
                      "error" if kind == "landmark_npy" else "either"))
        cases.append((f"{kind}_garbage", kind, lambda p, k: p.write_bytes(b"\x93NUMPY\x01\x00garbage" * 3), "error"))
    # Values and units inside the arrays.
    big = {"landmark_npy": None, "landmark_npz": "joints", "imu_npz": "acc", "tracker_npz": "positions",
           "motion": "translation"}
    for kind, key in big.items():
        for name, value in (("nan", np.nan), ("inf", np.inf), ("1e308", 1e308), ("9e30", 9e30)):
            expect = "either" if name == "nan" and kind != "motion" else "error"       # NaN: a missing sample
            cases.append((f"{kind}_array_{name}", kind, _array_damage(key, lambda a, v=value: _set_one(a, v)), expect))
    cases.append(("landmark_npy_millimetres", "landmark_npy", _array_damage(None, lambda a: a * 1000.0), "error"))
    cases.append(("landmark_npy_all_zero", "landmark_npy", _array_damage(None, lambda a: a * 0.0), "error"))
    cases.append(("landmark_npy_all_nan", "landmark_npy", _array_damage(None, lambda a: a * np.nan), "error"))
    cases.append(("imu_npz_all_nan", "imu_npz", _array_damage("acc", lambda a: a * np.nan), "error"))
    cases.append(("tracker_npz_all_missing", "tracker_npz", _array_damage("valid", lambda a: a & False), "error"))
    cases.append(("tracker_npz_hand_always_missing", "tracker_npz",
                  _array_damage("valid", lambda a: a & (np.arange(a.shape[1]) != 1)), "either"))
    cases.append(("motion_no_frames", "motion", _no_frames, "error"))
    cases.append(("motion_translation_x1e12", "motion", _array_damage("translation", lambda a: a * 1e12), "error"))
    cases.append(("motion_skeleton_millimetres", "motion",
                  _array_damage("skeleton_offsets", lambda a: a * 1000.0), "error"))
    cases.append(("trc_millimetres_said_metres", "trc", on_text(lambda t, k: t.replace("\tmm\t", "\tm\t")), "error"))
    cases.append(("trc_all_zero", "trc", on_text(_zero_trc), "error"))
    # Frame rates.
    for name, value in (("minus60", -60), ("zero", 0), ("sixty", "sixty"), ("1e9", 1e9)):
        cases.append((f"landmark_json_fps_{name}", "landmark_json", _json_fps(value), "error"))
        cases.append((f"landmark_npz_fps_{name}", "landmark_npz", _npz_fps(value), "error"))
        cases.append((f"imu_npz_fps_{name}", "imu_npz", _npz_fps(value), "error"))
        cases.append((f"tracker_npz_fps_{name}", "tracker_npz", _npz_fps(value), "error"))
        cases.append((f"motion_fps_{name}", "motion", _npz_fps(value), "error"))
        text = value if isinstance(value, str) else f"{value:g}"
        cases.append((f"trc_fps_{name}", "trc", on_text(lambda t, k, v=text: _trc_rate(t, v)), "error"))
        cases.append((f"tracker_csv_fps_{name}", "tracker_csv",
                      on_text(lambda t, k, v=text: t.replace("# fps: 60.0", f"# fps: {v}")), "error"))
        cases.append((f"imu_csv_fps_{name}", "imu_csv",
                      on_text(lambda t, k, v=text: t.replace("# fps: 60", f"# fps: {v}")), "error"))
        cases.append((f"xsens_rate_{name}", "xsens",
                      on_text(lambda t, k, v=text: t.replace("Update Rate: 100.0Hz", f"Update Rate: {v}Hz")), "error"))
    cases.append(("bvh_frame_time_1e-9", "bvh", on_text(lambda t, k: _bvh_frame_time(t, "1e-09")), "error"))
    cases.append(("bvh_frame_time_zero", "bvh", on_text(lambda t, k: _bvh_frame_time(t, "0")), "error"))
    cases.append(("imu_pt_pickled_object", "imu_pt", _pickled_object, "error"))
    return cases


def _set_one(array, value):
    array = np.array(array, dtype=np.float64)
    array.reshape(-1)[array.size // 2] = value
    return array


def _array_damage(key, change):
    def damage(path, kind):
        if key is None:
            np.save(path, change(np.load(path)))
            return
        rewrite_npz(path, lambda arrays: arrays.__setitem__(key, change(arrays[key])))
    return damage


def _no_frames(path, kind):
    rewrite_npz(path, lambda arrays: [arrays.__setitem__(k, arrays[k][:0]) for k in ("rotations", "translation")])


def _npz_fps(value):
    def damage(path, kind):
        rewrite_npz(path, lambda arrays: arrays.__setitem__("fps", np.array(value)))
    return damage


def _json_fps(value):
    def damage(path, kind):
        doc = json.loads(path.read_text())
        doc["fps"] = value
        path.write_text(json.dumps(doc, separators=(",", ":")))
    return damage


def _trc_rate(text, value):
    lines = text.split("\n")
    cells = lines[2].split("\t")
    cells[0] = cells[1] = value
    lines[2] = "\t".join(cells)
    return "\n".join(lines)


def _zero_trc(text, kind):
    lines = text.split("\n")
    out = lines[:5]
    for line in lines[5:]:
        cells = line.split("\t")
        out.append("\t".join(cells[:2] + ["0" for _ in cells[2:]]) if len(cells) > 2 else line)
    return "\n".join(out)


def _bvh_frame_time(text, value):
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("Frame Time"))
    lines[k] = f"Frame Time: {value}"
    return "\n".join(lines)


def _pickled_object(path, kind):
    """A .pt whose pickle would call a function when fully unpickled (it must never be)."""
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("code from a data file ran",))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"acc": Evil(), "ori": Evil()}, protocol=2))
        archive.writestr("archive/version", "3\n")
    path.write_bytes(buffer.getvalue())


def write_cases(folder: Path = CASES) -> list:
    """Write the corpus into ``folder`` (emptied first) and its MANIFEST.json; returns the manifest."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    manifest = []
    for name, kind, damage, expect in _cases():
        path = write_seed(kind, folder / name)
        damage(path, kind)
        manifest.append({"name": name, "kind": kind, "path": str(path.relative_to(folder)),
                         "flag": SEEDS[kind][1], "expect": expect})
    (folder / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


if __name__ == "__main__":
    cases = write_cases()
    size = sum(p.stat().st_size for p in CASES.rglob("*") if p.is_file())
    print(f"wrote {len(cases)} cases, {size / 1024:.0f} KB, to {CASES}")
