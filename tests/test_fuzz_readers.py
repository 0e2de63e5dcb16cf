"""Property-based fuzzing of every reader (issue 17): small valid files (tests/malformed/make_cases.py's
seeds, and cut-down real recordings from ../shared/data when present) are damaged at random (bytes
flipped, truncated, a number replaced by NaN, inf, 1e308, a string, every number scaled as by a
wrong unit, array entries replaced, frame rates of -60, 0, "sixty", 1e9) and read back. Each read
must end in the reader's documented error with one line naming the file, or in a plausible result
(finite, body-sized, a sane frame rate), and never print a numpy warning
(``tests/malformed/outcomes.py`` judges). Deterministic: ``derandomize=True``, a bounded number of
examples per reader, so CI runs the same cases every time.
"""

from __future__ import annotations

import collections
import gzip
import inspect
import math
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED_DATA
from tests.malformed.make_cases import SEEDS, flip_bytes, replace_number, text_file, write_seeds
from tests.malformed.outcomes import IMU, judge

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis (requirements.txt) is needed for the fuzz tests")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = 150
FUZZ = settings(derandomize=True, database=None, max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BINARY = ("landmark_npy", "landmark_npz", "imu_npz", "imu_pt", "tracker_npz", "motion")
TALLY: dict = collections.defaultdict(collections.Counter)     # kind -> {"clean error": n, "plausible": n}

# --- seeds ---------------------------------------------------------------------------------------

REAL = {
    "real_trc": ("trc", SHARED_DATA / "landmarks_real" / "pose2sim" / "trc" / "S00_P00_T01_BalancingTrial_0-100.trc"),
    "real_bvh": ("bvh", SHARED_DATA / "cmu_misc_bvh" / "131_01.bvh.gz"),
    "real_transpose": ("imu_pt", SHARED_DATA / "imu_real" / "transpose_example"),
    "real_xsens": ("xsens", SHARED_DATA / "imu_real" / "opensense_xsens"),
    "real_dot": ("dot", SHARED_DATA / "imu_real" / "movella_dot"),
    "real_xio": ("xio", SHARED_DATA / "imu_real" / "xio_lower_body"),
}


def _cut_text(source: Path, target: Path, keep_lines: int, fix=None) -> Path:
    """The first ``keep_lines`` lines of a (possibly gzipped) text file, written plain."""
    raw = source.read_bytes()
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8", "replace")
    lines = text.splitlines()[:keep_lines]
    target.write_text("\n".join(fix(lines) if fix else lines) + "\n")
    return target


def _real_seed(name: str, folder: Path) -> tuple[str, Path]:
    """(reader kind, path) of a real recording cut to a few frames (written in ``folder``)."""
    kind, source = REAL[name]
    folder.mkdir(parents=True)
    if name == "real_trc":
        def fix(lines):
            cells = lines[2].split("\t")
            cells[2] = "20"
            return lines[:2] + ["\t".join(cells)] + lines[3:]
        return kind, _cut_text(source, folder / "balancing.trc", 5 + 20, fix)
    if name == "real_bvh":
        text = gzip.decompress(source.read_bytes()).decode()
        head, _, rest = text.partition("MOTION")
        frames = rest.strip().splitlines()[2:22]
        (folder / "131_01.bvh").write_text(f"{head}MOTION\nFrames: 20\nFrame Time: 0.008333\n" + "\n".join(frames) + "\n")
        return kind, folder / "131_01.bvh"
    if name == "real_transpose":
        torch = pytest.importorskip("torch", reason="PyTorch reads the real TransPose tensors")
        acc = torch.load(source / "acc.pt", weights_only=True)[:30]
        ori = torch.load(source / "ori.pt", weights_only=True)[:30]
        torch.save({"acc": acc.clone(), "ori": ori.clone()}, folder / "transpose.pt")
        return kind, folder / "transpose.pt"
    if name == "real_xsens":
        first = sorted(source.glob("MT_*.txt.gz"))[0]
        return kind, _cut_text(first, folder / first.name[:-3], 6 + 40)
    if name == "real_dot":
        first = sorted(source.glob("*.csv"))[0]
        return kind, _cut_text(first, folder / first.name, 12 + 40)
    sensor = sorted(p for p in source.iterdir() if p.is_dir())[0]
    target = folder / "xio" / sensor.name
    target.mkdir(parents=True)
    for part in ("Inertial.csv", "Quaternion.csv"):
        _cut_text(sensor / part, target / part, 1 + 40)
    return kind, folder / "xio"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """kind -> (reader kind, seed path): the written seeds, plus the real ones that exist."""
    folder = tmp_path_factory.mktemp("seeds")
    out = {kind: (kind, path) for kind, path in write_seeds(folder).items()}
    for name, (_, source) in REAL.items():
        if source.exists():
            out[name] = _real_seed(name, folder / name)
    return out


# --- damage --------------------------------------------------------------------------------------

VALUES = ["nan", "inf", "-inf", "1e308", "-1e308", "9e30", "1e12", "-1e12", "0", "-0", "1e-320", "abc", "", "-60",
          "1e9", "1,2"]
ARRAY_VALUES = [math.nan, math.inf, -math.inf, 1e308, 9e30, -1e12, 0.0, 1e-320, 1e6]
RATES = [-60, 0, "sixty", 1e9, math.nan, math.inf, "", [60.0, 30.0], 1e-9]

text_damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=3), st.integers(1, 255)),
    st.tuples(st.just("value"), st.integers(0, 10 ** 4), st.sampled_from(VALUES), st.booleans()),
    st.tuples(st.just("drop_line"), st.integers(0, 10 ** 4)),
    st.tuples(st.just("scale"), st.sampled_from([1000.0, 0.001, 100.0, 1e6, -1.0, 0.0])),
)
binary_damage = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), st.lists(st.integers(0, 160), min_size=1, max_size=3), st.integers(1, 255)),
    st.tuples(st.just("flip"), st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=3), st.integers(1, 255)),
    st.tuples(st.just("entry"), st.integers(0, 20), st.integers(0, 10 ** 6), st.sampled_from(ARRAY_VALUES)),
    st.tuples(st.just("scale_array"), st.integers(0, 20), st.sampled_from([1000.0, 1e-3, 1e12, 0.0])),
    st.tuples(st.just("fps"), st.sampled_from(RATES)),
    st.tuples(st.just("text_array"), st.integers(0, 20)),
)


def _header_lines(text: str) -> int:
    """Lines before the first line that is mostly numbers (the damage then lands in the data)."""
    for k, line in enumerate(text.splitlines()):
        cells = re.split(r"[,\t ]+", line.strip())
        if len(cells) > 2 and sum(bool(re.fullmatch(r"-?[\d.eE+-]+", c)) for c in cells) > len(cells) / 2:
            return k
    return 0


def _scale_numbers(text: str, factor: float, skip: int) -> str:
    lines = text.split("\n")

    def scaled(match):
        return repr(float(match.group()) * factor)
    body = [re.sub(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.])", scaled, line) for line in lines[skip:]]
    return "\n".join(lines[:skip] + body)


def damage_text(path: Path, damage) -> None:
    target = text_file(path)
    raw = target.read_bytes()
    op = damage[0]
    if op == "truncate":
        target.write_bytes(raw[: int(len(raw) * damage[1])])
    elif op == "flip":
        target.write_bytes(flip_bytes(raw, damage[1], damage[2]))
    else:
        text = raw.decode("utf-8")
        skip = _header_lines(text)
        if op == "value":
            text = replace_number(text, damage[1], damage[2], skip if damage[3] else 0)
        elif op == "drop_line":
            lines = text.split("\n")
            del lines[damage[1] % len(lines)]
            text = "\n".join(lines)
        else:
            text = _scale_numbers(text, damage[1], skip)
        target.write_text(text)


def _arrays(path: Path) -> dict:
    if path.suffix == ".npy":
        return {None: np.load(path)}
    if path.suffix == ".pt":
        import torch
        return {k: v.numpy() for k, v in torch.load(path, weights_only=True).items()}
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _save(path: Path, arrays: dict) -> None:
    if path.suffix == ".npy":
        np.save(path, arrays[None])
    elif path.suffix == ".pt":
        import torch
        torch.save({k: torch.from_numpy(np.asarray(v)) if np.asarray(v).dtype.kind in "iufb" else v
                    for k, v in arrays.items()}, path)
    else:
        with path.open("wb") as stream:
            np.savez(stream, **arrays)


def damage_binary(path: Path, damage) -> None:
    op = damage[0]
    raw = path.read_bytes()
    if op == "truncate":
        path.write_bytes(raw[: int(len(raw) * damage[1])])
        return
    if op == "flip":
        path.write_bytes(flip_bytes(raw, damage[1], damage[2]))
        return
    arrays = _arrays(path)
    keys = sorted(arrays, key=str)
    if op == "fps":
        if None in arrays:                    # a bare .npy has no frame rate: damage its values instead
            arrays[None] = arrays[None] * 1000.0
        else:
            arrays["fps"] = np.array(damage[1])
    else:
        key = keys[damage[1] % len(keys)]
        array = np.array(arrays[key])
        if op == "text_array":
            array = np.full(array.shape, "x")
        elif array.dtype.kind in "iuf" and array.size:
            array = array.astype(np.float64)
            if op == "entry":
                array.reshape(-1)[damage[2] % array.size] = damage[3]
            else:
                array = array * damage[2]
        arrays[key] = array
    _save(path, arrays)


def fuzz_once(kind: str, seed: Path, damage) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / seed.parent.name
        shutil.copytree(seed.parent, copy)
        path = copy / seed.name
        (damage_binary if kind in BINARY else damage_text)(path, damage)
        outcome = judge(kind, path)
    TALLY[kind]["clean error" if outcome.error else "plausible result"] += 1
    if outcome.problem:
        TALLY[kind]["failure"] += 1
    assert outcome.problem is None, f"{kind} {damage}: {outcome.problem}"


# --- the tests -----------------------------------------------------------------------------------

def test_every_seed_reads(seeds):
    """The undamaged seeds are plausible (else the fuzzing would test nothing but errors)."""
    for name, (kind, path) in seeds.items():
        outcome = judge(kind, path)
        assert outcome.error is None and outcome.problem is None, f"{name}: {outcome.error or outcome.problem}"


@pytest.mark.parametrize("name", [k for k in SEEDS if k not in BINARY])
@FUZZ
@given(damage=text_damage)
def test_fuzzed_text_files(seeds, name, damage):
    kind, path = seeds[name]
    fuzz_once(kind, path, damage)


@pytest.mark.parametrize("name", BINARY)
@FUZZ
@given(damage=binary_damage)
def test_fuzzed_binary_files(seeds, name, damage):
    kind, path = seeds[name]
    fuzz_once(kind, path, damage)


@pytest.mark.parametrize("name", list(REAL))
@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_fuzzed_real_recordings(seeds, name, data):
    if name not in seeds:
        pytest.skip(f"shared data not found: {REAL[name][1]}")
    kind, path = seeds[name]
    fuzz_once(kind, path, data.draw(binary_damage if kind in BINARY else text_damage))


def test_tally_is_reported(seeds, capsys):
    """Prints the counts per reader (run with -s); runs last in this file."""
    with capsys.disabled():
        for kind, counts in sorted(TALLY.items()):
            print(f"fuzz {kind}: {sum(counts[k] for k in ('clean error', 'plausible result'))} cases, "
                  f"{counts['clean error']} clean errors, {counts['plausible result']} plausible results, "
                  f"{counts['failure']} failures")
    assert all(counts["failure"] == 0 for counts in TALLY.values())


# --- never run code from a data file -------------------------------------------------------------

def test_pt_pickle_is_never_run(tmp_path):
    """A .pt whose pickle would run code is refused in one sentence, and the code does not run."""
    torch = pytest.importorskip("torch", reason="PyTorch is optional")
    from sparse_mocap_addon.core.imu.formats import read_imu
    from sparse_mocap_addon.core.imu.recording import ImuError

    marker = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (marker, "code from a data file ran"))

    torch.save({"acc": Payload(), "ori": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ImuError, match=r"evil\.pt: not a readable PyTorch tensor file") as info:
        read_imu(tmp_path / "evil.pt")
    assert "\n" not in str(info.value) and not marker.exists()


def test_pt_without_weights_only_is_refused(tmp_path, monkeypatch):
    """A torch whose load cannot refuse code (no weights_only) is not used: no full unpickle."""
    torch = pytest.importorskip("torch", reason="PyTorch is optional")
    from sparse_mocap_addon.core.imu.formats import read_imu
    from sparse_mocap_addon.core.imu.recording import ImuError

    torch.save({"acc": torch.zeros(4, 6, 3), "ori": torch.eye(3).repeat(4, 6, 1, 1)}, tmp_path / "rec.pt")
    calls = []

    def old_load(f, map_location=None):            # the signature of torch before 1.13
        calls.append(f)
        raise AssertionError("a full unpickle was attempted")

    assert "weights_only" not in inspect.signature(old_load).parameters
    monkeypatch.setattr(torch, "load", old_load)
    with pytest.raises(ImuError, match=r"rec\.pt: reading \.pt files safely needs PyTorch 1\.13 or newer"):
        read_imu(tmp_path / "rec.pt")
    assert not calls


def test_imu_rates_allow_fast_sensors():
    """IMUs may sample faster than video: their limit is the higher one."""
    from sparse_mocap_addon.core.io import plausible

    assert plausible.frame_rate(1500.0, plausible.MAX_SAMPLE_RATE) == (1500.0, None)
    assert plausible.frame_rate(1500.0)[0] is None and "beyond 1000" in plausible.frame_rate(1500.0)[1]
    assert set(IMU) >= {"imu_pt", "xsens"}
