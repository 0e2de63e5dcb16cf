"""benchmarks/feet_paths.py: the feet figures per path (issue 15), on one short real take."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT, SHARED_DATA

sys.path.insert(0, str(ROOT / "benchmarks"))

import feet_paths  # noqa: E402


def test_without_the_data_it_says_so_and_exits_cleanly(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "feet_paths.py"), "--data", str(tmp_path / "none")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("skipped: the shared data is not at")
    assert "skipped" in json.loads(lines[-1])


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"the shared mocap data is absent ({SHARED_DATA})")
def test_every_path_is_measured_before_and_after():
    result = feet_paths.measure_paths(SHARED_DATA, max_clips=1, log=lambda text: None, max_seconds=4.0)
    paths = result["paths"]
    expected = {"import_mocap", "imu", "trackers_six", "trackers_three", "landmarks", "fill_gaps"}
    expected |= {f"bake_{h:.2f}" for h in feet_paths.BODIES_M}
    assert expected <= set(paths) and "bake_worst_body" in paths
    for name in expected:
        assert set(paths[name]["before"]) == set(feet_paths.METRICS), name
    # Moving a take onto other bodies: raw, its feet float or sink by centimetres; planted, they do not.
    for h in feet_paths.BODIES_M:
        after = paths[f"bake_{h:.2f}"]["after"]
        assert after["foot_below_floor_max_cm"] <= 1.0 and after["foot_float_in_contact_max_cm"] <= 1.0, h
    raw = paths["bake_worst_body"]["before"]
    assert max(raw["foot_below_floor_max_cm"], raw["foot_float_in_contact_max_cm"]) > 5.0
    assert paths["import_mocap"]["after"]["foot_skate_cm_per_s"] < paths["import_mocap"]["before"]["foot_skate_cm_per_s"]
    assert "after_own_contacts" in paths["imu"] and set(result["targets_met"]) == set(feet_paths.METRICS)
    json.dumps({k: v for k, v in result.items() if k != "rows"})          # JSON-safe
    assert "bake, worst body" in feet_paths.format_table(result)
