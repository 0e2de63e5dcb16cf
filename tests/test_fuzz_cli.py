"""The committed corpus of malformed files (tests/malformed/cases, written by make_cases.py) through the
CLI (issue 17): every case ends in exit 0 with a plausible output, or exit 2 with exactly one
``error:`` line naming the file; never a traceback, a numpy warning, exit 1, a partial file, or an
existing output changed. Most cases run in-process through ``cli.main``; a few in a subprocess, to
see that nothing but that one line reaches stderr."""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.malformed.make_cases import CASES, write_cases

MANIFEST = json.loads((CASES / "MANIFEST.json").read_text())
BY_NAME = {case["name"]: case for case in MANIFEST}
OLD_OUTPUT = b"an existing output that a failed run must leave alone\n"
# The cases that, read right, are a plausible take: the CLI must carry them to the end.
TALLY: dict = collections.defaultdict(collections.Counter)     # CLI flag -> {"clean error": n, ...}
SUBPROCESS_CASES = ("landmark_npy_header_flipped", "trc_value_1e308", "motion_translation_x1e12",
                    "landmark_npy_millimetres", "landmark_json_fps_sixty")


def _cli_flags() -> set:
    from sparse_mocap_addon.cli import build_parser

    return {option for action in build_parser()._actions for option in action.option_strings}


def _prepare(case: dict, tmp_path: Path) -> tuple[Path, Path]:
    """(input path, output path) in a copy of the case; the output exists with OLD_OUTPUT."""
    folder = tmp_path / case["name"]
    shutil.copytree(CASES / case["name"], folder)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / "take.bvh"
    output.write_bytes(OLD_OUTPUT)
    return folder / Path(case["path"]).relative_to(case["name"]), output


def _names(path: Path) -> set:
    """Names a message may use for the case's input: the file, its folder, a file inside a folder."""
    names = {path.name, path.parent.name}
    if path.is_dir():
        names |= {p.name for p in path.rglob("*")}
    return names


def _check(case: dict, path: Path, output: Path, code: int, stderr: str) -> str:
    """Assert the outcome; returns "clean error" or "plausible result"."""
    assert "Traceback" not in stderr, stderr[-2000:]
    assert "RuntimeWarning" not in stderr, stderr[-2000:]
    leftovers = sorted(p.name for p in output.parent.iterdir() if p != output)
    assert not leftovers, f"partial files left: {leftovers}"
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    if code == 2:
        assert len(errors) == 1, stderr[-2000:]
        assert any(name in errors[0] for name in _names(path)), f"the error does not name the file: {errors[0]}"
        assert output.read_bytes() == OLD_OUTPUT, "a failed run changed the existing output"
        return "clean error"
    assert code == 0, f"exit {code}: {stderr[-2000:]}"
    assert case["expect"] == "either", f"{case['name']} must be refused but the CLI wrote {output.name}"
    assert not errors, stderr[-2000:]
    from sparse_mocap_addon.core.mocap.formats.bvh import read_bvh

    take = read_bvh(output)
    assert 0 < take.fps <= 1000 and take.num_frames > 0
    return "plausible result"


@pytest.mark.parametrize("name", [case["name"] for case in MANIFEST])
def test_malformed_case_through_the_cli(name, tmp_path, capfd):
    case = BY_NAME[name]
    if case["flag"] not in _cli_flags():
        pytest.skip(f"the CLI has no {case['flag']} yet")
    from sparse_mocap_addon.cli import main

    path, output = _prepare(case, tmp_path)
    capfd.readouterr()
    code = main([case["flag"], str(path), "--bvh", str(output), "--no-body"])
    stderr = capfd.readouterr().err
    TALLY[case["flag"]][_check(case, path, output, code, stderr)] += 1


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_malformed_case_in_a_subprocess(name, tmp_path):
    """Run as a user does: only the one error line on stderr, nothing on stdout, nothing written."""
    case = BY_NAME[name]
    path, output = _prepare(case, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run([sys.executable, "-m", "sparse_mocap_addon", case["flag"], str(path), "--bvh",
                             str(output), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert any(n in lines[0] for n in _names(path))
    _check(case, path, output, result.returncode, result.stderr)


def test_committed_corpus_matches_its_script(tmp_path):
    """The corpus is what make_cases.py writes (rerun it after changing the script)."""
    assert write_cases(tmp_path / "cases") == MANIFEST
    sizes = sum(p.stat().st_size for p in CASES.rglob("*") if p.is_file())
    assert sizes < 1024 * 1024, f"the corpus is {sizes / 1024:.0f} KB"


def test_imu_set_the_poser_cannot_use_names_the_file(tmp_path, capfd):
    """A readable IMU file whose sensors no solver can use: the error, the solver's, names the file too."""
    from sparse_mocap_addon.cli import main
    from sparse_mocap_addon.core.imu.formats import write_imu_csv
    from tests.test_imu_formats import slow_recording

    path = write_imu_csv(slow_recording(frames=12), tmp_path / "three_sensors.csv")
    output = tmp_path / "take.bvh"
    output.write_bytes(OLD_OUTPUT)
    capfd.readouterr()
    code = main(["--imu", str(path), "--bvh", str(output), "--no-body"])
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and output.read_bytes() == OLD_OUTPUT
    assert path.name in errors[0], errors[0]


def test_tally_is_reported(capsys):
    """Prints the counts per CLI flag (run with -s); runs after the corpus cases."""
    with capsys.disabled():
        for flag, counts in sorted(TALLY.items()):
            print(f"cli corpus {flag}: {sum(counts.values())} cases, {counts['clean error']} clean errors (exit 2), "
                  f"{counts['plausible result']} plausible results (exit 0)")
