"""The CLI takes every input the add-on takes, on the real shared recordings: mocap takes in each
format (--mocap), landmarks (--fps), the four real IMU sets (--imu-segment, --imu-heading, the
calibration and read windows), --batch; errors name CLI flags; stdout carries only the paths."""

from __future__ import annotations

import os
import re

import pytest

pytest.importorskip("bpy", reason="the bpy module is installed by scripts/setup.sh")
pytest.importorskip("ufbx", reason="the ufbx reader is installed by scripts/setup.sh")

from sparse_mocap_addon.cli import cli_wording  # noqa: E402

from .cli_support import check_fbx, only_paths  # noqa: E402
from .conftest import SHARED_DATA  # noqa: E402
from .fbx_reader import read_fbx  # noqa: E402
from .test_cli import run_cli  # noqa: E402

IMU_REAL = SHARED_DATA / "imu_real"
TRC = SHARED_DATA / "landmarks_real" / "pose2sim" / "trc" / "S00_P00_T00_StaticTrial_0-12.trc"
HDM05_ASF = SHARED_DATA / "hdm05" / "skeletons" / "HDM_mm.asf.gz"

# One real take per mocap format: (path under the shared data, extra flags).
MOCAP = {
    "bvh": ("cmu62/62_01.bvh.gz", []),
    "amc": ("hdm05/test/HDM_mm_depositFloorR_019_120.amc.gz", ["--asf", str(HDM05_ASF)]),
    "fbx": ("cmu_fbx/08_02_cmu.fbx", []),
    "expmap": ("cmu_expmap/test/walking/walking_1.txt.gz", ["--source-fps", "120"]),
}

# The Xsens MTw serials of the OpenSense example -> segments (as tests/test_imu_calibration.py).
OPENSENSE = ("00B42268=chest, 00B42279=pelvis, 00B4227D=right_lower_leg, 00B4227C=right_upper_leg, "
             "00B421ED=left_lower_leg, 00B421EE=left_upper_leg, 00B421EF=right_foot, 00B421E6=left_foot")
# The README's command for each real IMU set (its flags after --imu <folder>), 3 s of each.
IMU_COMMANDS = {
    "transpose_example": [],
    "opensense_xsens": ["--imu-segment", OPENSENSE],
    # The files labelled LFemur and LTibia hold each other's sensor (tests/test_imu_calibration.py).
    "movella_dot": ["--imu-segment", "left_upper_leg=left_lower_leg", "--imu-segment", "left_lower_leg=left_upper_leg",
                    "--calibration-seconds", "1"],
    "xio_lower_body": ["--calibration-seconds", "1"],
}


def shared(relative):
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (real recordings live in ../shared/data)")
    return path


def reconstructed_frames(stderr: str) -> int:
    return int(re.search(r"reconstructed (\d+) frames", stderr).group(1))


def one_error_line(result, *fragments):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- mocap -----------------------------------------------------------------------------------------

def source_frames(path) -> tuple[int, float]:
    """The take's frames and rate as read independently of the CLI: the core readers, ufbx for FBX."""
    if path.suffix.lower() == ".fbx":
        summary = read_fbx(path)
        return summary.frames, summary.fps
    from sparse_mocap_addon.core.mocap.formats.mocap import read_mocap

    source = read_mocap(path, HDM05_ASF if ".amc" in path.name else None, 120.0)
    return source.num_frames, source.fps


@pytest.mark.parametrize("fmt", sorted(MOCAP))
def test_each_mocap_format_to_fbx_at_its_own_rate(tmp_path, fmt):
    relative, flags = MOCAP[fmt]
    path = shared(relative)
    from sparse_mocap_addon.blender.mocap_import import take_name

    take = take_name(path)
    result = run_cli("--mocap", str(path), *flags, "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    fbx = tmp_path / f"{take}.fbx"
    only_paths(result, fbx)
    frames, fps = source_frames(path)
    check_fbx(fbx, take, frames=frames, fps=fps)
    assert f"as action '{take}'" in result.stderr
    assert "the performer's body measured from the take" in result.stderr
    assert "resampled" not in result.stderr
    assumed = "120 fps assumed (the rate of the CMU and HDM05 takes); --source-fps gives another"
    assert (assumed in result.stderr) == (fmt == "amc")   # (the exp-map take is given --source-fps 120)


def test_mocap_fps_resamples_and_says_so_and_body_flags_give_the_body(tmp_path):
    path = shared("cmu62/62_01.bvh.gz")
    fbx, bvh = tmp_path / "work.fbx", tmp_path / "work.bvh"
    result = run_cli("--mocap", str(path), "--fps", "30", "--height", "1.62", "--preset", "unreal",
                     "--fbx", str(fbx), "--bvh", str(bvh))
    assert result.returncode == 0, result.stderr
    only_paths(result, fbx, bvh)                     # Blender's "BVH Exported" line went to stderr
    frames, _ = source_frames(path)
    expected = int(round((frames - 1) * 30 / 120)) + 1
    assert f"resampled from 120 fps to 30 fps ({expected} frames) as --fps asks" in result.stderr
    assert "onto new armature 'Subject' (a 1.62 m neutral subject) as action '62_01'" in result.stderr
    summary = check_fbx(fbx, "62_01", frames=expected, fps=30.0)
    assert summary.unit_meters == pytest.approx(0.01)
    assert f"Frames: {expected}" in bvh.read_text()


def test_a_mocap_take_given_as_motion_points_to_mocap(tmp_path):
    path = shared("cmu62/62_01.bvh.gz")
    result = run_cli("--motion", str(path), "--fbx", str(tmp_path / "a.fbx"))
    assert result.returncode == 2 and result.stdout == ""
    one_error_line(result, "62_01.bvh.gz", "--mocap")


# --- landmarks ---------------------------------------------------------------------------------------

def test_landmarks_fps_is_the_files_rate(tmp_path):
    path = shared(TRC.relative_to(SHARED_DATA))
    result = run_cli("--landmarks", str(path), "--fps", "30", "--out-dir", str(tmp_path), "--format", "fbx",
                     "--format", "bvh")
    assert result.returncode == 0, result.stderr
    take = path.stem
    only_paths(result, tmp_path / f"{take}.fbx", tmp_path / f"{take}.bvh")
    assert "x 12 frames (30 fps, as --fps gives)" in result.stderr
    check_fbx(tmp_path / f"{take}.fbx", take, frames=12, fps=30.0)


@pytest.mark.parametrize("value", ["0", "-60", "nan", "inf", "1e9"])
def test_a_bad_fps_is_refused_naming_the_flag(tmp_path, value):
    result = run_cli("--landmarks", str(TRC), "--fps", value, "--fbx", str(tmp_path / "a.fbx"))
    assert result.returncode == 2 and result.stdout == ""
    one_error_line(result, "--fps", "expected a frame rate")
    assert list(tmp_path.iterdir()) == []


def test_a_non_numeric_fps_is_refused_by_the_parser(tmp_path):
    result = run_cli("--landmarks", str(TRC), "--fps", "sixty", "--fbx", str(tmp_path / "a.fbx"))
    assert result.returncode == 2 and "argument --fps: invalid float value: 'sixty'" in result.stderr
    assert list(tmp_path.iterdir()) == []


# --- the four real IMU sets --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(IMU_COMMANDS))
def test_each_real_imu_set_to_fbx(tmp_path, name):
    folder = shared(f"imu_real/{name}")
    if name == "transpose_example":
        pytest.importorskip("torch", reason="the TransPose example is torch .pt files")
    result = run_cli("--imu", str(folder), *IMU_COMMANDS[name], "--imu-start", "1", "--imu-duration", "3",
                     "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    fbx = tmp_path / f"{name}.fbx"
    only_paths(result, fbx)
    frames = reconstructed_frames(result.stderr)
    assert abs(frames - 180) <= 1                    # 3 s at the reconstruction's 60 fps
    check_fbx(fbx, name, frames=frames, fps=60.0)
    assert f"baked {frames} frames into action '{name}'" in result.stderr
    if name != "transpose_example":                  # device-world sets are calibrated first
        assert "calibrated on the t-pose held from 0 s" in result.stderr


def test_movella_with_one_knee_for_the_heading_resampled(tmp_path):
    folder = shared("imu_real/movella_dot")
    bvh = tmp_path / "dot.bvh"
    result = run_cli("--imu", str(folder), "--imu-heading", "right_knee", "--calibration-seconds", "1",
                     "--imu-duration", "2", "--fps", "30", "--bvh", str(bvh))
    assert result.returncode == 0, result.stderr
    only_paths(result, bvh)
    heading = float(re.search(r"\(heading ([\d.]+) deg, right_knee\)", result.stderr).group(1))
    assert abs(heading - 7.5) < 3.0                  # the right knee alone says about what both legs say
    frames = reconstructed_frames(result.stderr)
    said = re.search(rf"resampled from 60 fps \({frames} frames\) to 30 fps \((\d+) frames\) as --fps asks",
                     result.stderr)
    expected = int(said.group(1))
    assert abs(expected - frames / 2) <= 1
    text = bvh.read_text()
    assert f"Frames: {expected}" in text and "Frame Time: 0.033333" in text


@pytest.mark.parametrize("name, flags, fragments", [
    ("opensense_xsens", [], ["sensor '00B421E6' rides no known body segment", "give --imu-segment 00B421E6=<segment>"]),
    ("movella_dot", ["--calibration-seconds", "1"],
     ["the knees disagree on the heading", "give --imu-heading left_knee, right_knee or <degrees>"]),
    ("xio_lower_body", [], ["was not still during the calibration window 0.00-2.00 s",
                            "(--calibration-start, --calibration-seconds)"]),
    ("xio_lower_body", ["--imu-segment", "nosuch=pelvis"], ["there is no sensor 'nosuch' to rename"]),
    ("xio_lower_body", ["--imu-heading", "sideways"], ["--imu-heading 'sideways': expected auto, knees"]),
    ("xio_lower_body", ["--calibration-seconds", "1", "--imu-start", "30"], ["--imu-start 30 s leaves 0 frame(s)"]),
    ("xio_lower_body", ["--imu-duration", "0"], ["--imu-duration 0 is out of range"]),
])
def test_imu_errors_name_cli_flags(tmp_path, name, flags, fragments):
    folder = shared(f"imu_real/{name}")
    result = run_cli("--imu", str(folder), *flags, "--quiet", "--fbx", str(tmp_path / "a.fbx"))
    assert result.returncode == 2 and result.stdout == ""
    line = one_error_line(result, *fragments)
    assert not re.search(r"\b(segments=|heading=|start_s|duration_s|up=)", line), line
    assert list(tmp_path.iterdir()) == []


def test_imu_segments_from_a_json_file(tmp_path):
    import json

    folder = shared("imu_real/opensense_xsens")
    mapping = tmp_path / "segments.json"
    mapping.write_text(json.dumps(dict(pair.split("=") for pair in OPENSENSE.replace(" ", "").split(","))))
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("--imu", str(folder), "--imu-segment", str(mapping), "--imu-duration", "1", "--quiet",
                     "--out-dir", str(out), "--format", "bvh")
    assert result.returncode == 0, result.stderr
    only_paths(result, out / "opensense_xsens.bvh")


@pytest.mark.parametrize("message, kind, expected", [
    ("x: up axis unknown; give the up axis (the device axis that points up, e.g. +Z).", "imu",
     "x: up axis unknown; give --imu-up (the device axis that points up, e.g. +Z)."),
    ("x: the heading 'core' needs a recording in the core frame", "imu",
     "x: --imu-heading core needs a recording in the core frame"),
    ("x: the calibration window needs a start >= 0 s and a length > 0 s, got -1 s and 2.0 s.", "imu",
     "x: the calibration window needs --calibration-start >= 0 and --calibration-seconds > 0, got -1 and 2.0"),
    ("x: the calibration window's length must be a number of seconds, got nan.", "imu",
     "x: --calibration-seconds must be a number of seconds, got nan."),
    ("t.csv: the calibration window needs a start >= 0 s and a length > 0 s, got -1 s and 1.0 s.", "trackers",
     "t.csv: the calibration window needs --tracker-calibration-start >= 0 and --tracker-calibration-seconds > 0, "
     "got -1 and 1.0"),
    ("t.csv: the trackers are too close together to show which way the wearer faced; take the heading from the "
     "headset, give it in degrees, or give known mountings.", "trackers",
     "t.csv: the trackers are too close together to show which way the wearer faced; give --tracker-heading head "
     "or <degrees>."),
    ("t.csv: the wearer moved; hold the pose still or choose another calibration window.", "trackers",
     "t.csv: the wearer moved; hold the pose still or choose another window (--tracker-calibration-start, "
     "--tracker-calibration-seconds)."),
    ("x: cannot estimate the heading from the knees (why); record some walking or knee bends, or give the heading "
     "in degrees (the direction the wearer faced).", "imu",
     "x: cannot estimate the heading from the knees (why); record some walking or knee bends, or give --imu-heading "
     "<degrees> (the direction the wearer faced)."),
    ("x: the sensor-to-segment names give sensor(s) 'a' that the recording does not have (it has b).", "imu",
     "x: --imu-segment names sensor(s) 'a' that the recording does not have (it has b)."),
    ("f.csv, line 3: the file says its convention is 'unity' but 'openxr' was given; leave the convention unset to "
     "use the file's, or fix the file.", "trackers",
     "f.csv, line 3: the file says its convention is 'unity' but --tracker-convention 'openxr' was given; leave out "
     "--tracker-convention to use the file's, or fix the file."),
    ("f.csv: read as convention 'unity' in m, too tall; the convention 'blender' in cm passes these checks.",
     "trackers", "f.csv: read as convention 'unity' in m, too tall; --tracker-convention blender --tracker-units cm "
                 "passes these checks."),
    ("f.csv: read as convention 'unity' in m, too far apart; the units 'mm' passes these checks.", "trackers",
     "f.csv: read as convention 'unity' in m, too far apart; --tracker-units mm passes these checks."),
    ("f.csv, line 4: the file says its units are 'm' but 'cm' were given.", "trackers",
     "f.csv, line 4: the file says its units are 'm' but --tracker-units 'cm' was given"),
    ("f.csv: the file has no time stamps and states no frame rate; add a time column or give the frame rate.",
     "trackers", "f.csv: the file has no time stamps and states no frame rate; add a time column or give "
                 "--tracker-fps."),
    ("f.csv: the file does not state its coordinate convention; choose one of unity, unreal", "trackers",
     "f.csv: the file does not state its coordinate convention; give --tracker-convention, one of unity, unreal"),
    ("p.npy: Human3.6M-17 landmarks (MotionBERT, VideoPose3D) are not in metres; give the performer's height to "
     "scale them.", "landmarks", "p.npy: Human3.6M-17 landmarks (MotionBERT, VideoPose3D) are not in metres; give "
                                 "--landmark-layout h36m17 --height <metres> to scale them."),
])
def test_reader_hints_are_reworded_as_flags(message, kind, expected):
    assert cli_wording(message, kind) == expected


# --- batch -------------------------------------------------------------------------------------------

def test_batch_writes_one_file_per_take_and_goes_on_past_a_bad_one(tmp_path):
    takes = [shared("cmu62/62_01.bvh.gz"), shared("cmu62/62_03.bvh.gz")]
    folder, out = tmp_path / "takes", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    for take in takes:
        os.symlink(take, folder / take.name)
    (folder / "62_00_broken.bvh").write_text("HIERARCHY\nROOT hip\n{\n")
    (folder / "notes.md").write_text("not a take")
    result = run_cli("--batch", "--mocap", str(folder), "--out-dir", str(out), "--fps", "30", "--quiet")
    assert result.returncode == 1
    only_paths(result, out / "62_01.fbx", out / "62_03.fbx")
    assert re.search(r"^\[1/3\] failed .*62_00_broken\.bvh: ", result.stderr, re.MULTILINE), result.stderr
    assert re.search(r"^\[2/3\] ok .*62_01\.bvh\.gz -> 62_01\.fbx", result.stderr, re.MULTILINE)
    assert result.stderr.strip().splitlines()[-1] == f"batch: 2 of 3 takes written to {out}, 1 failed"
    assert sorted(p.name for p in out.iterdir()) == ["62_01.fbx", "62_03.fbx"]
    for name in ("62_01", "62_03"):
        check_fbx(out / f"{name}.fbx", name, fps=30.0)


def test_batch_over_a_glob_all_good(tmp_path):
    shared("cmu62/62_01.bvh.gz")
    result = run_cli("--batch", "--mocap", str(SHARED_DATA / "cmu62" / "62_0[13].bvh.gz"), "--out-dir",
                     str(tmp_path), "--format", "bvh", "--fps", "15", "--no-body")
    assert result.returncode == 0, result.stderr
    only_paths(result, tmp_path / "62_01.bvh", tmp_path / "62_03.bvh")
    assert "batch: 2 of 2 takes written" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--batch", "--out-dir", "{tmp}"], "--batch needs an input folder or glob"),
    (["--batch", "--mocap", "{tmp}"], "--batch writes one file per take: give --out-dir"),
    (["--batch", "--mocap", "{tmp}/*.bvh", "--out-dir", "{tmp}"], "no mocap takes found"),
    (["--batch", "--mocap", "{tmp}", "--out-dir", "{tmp}/none"], "--out-dir needs an existing folder"),
    (["--demo", "--out-dir", "{tmp}", "--fbx", "{tmp}/a.fbx"], "give either --out-dir"),
    (["--demo", "--format", "bvh", "--fbx", "{tmp}/a.fbx"], "--format chooses what --out-dir gets"),
    (["--demo", "--out-dir", "{tmp}/none"], "--out-dir needs an existing folder"),
])
def test_batch_and_out_dir_misuse_is_one_line(tmp_path, args, message):
    result = run_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == 2 and result.stdout == ""
    one_error_line(result, message)
    assert list(tmp_path.iterdir()) == []


def test_batch_never_overwrites_one_takes_output_with_anothers(tmp_path):
    take = shared("cmu62/62_01.bvh.gz")
    folder, out = tmp_path / "takes", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    os.symlink(take, folder / take.name)
    (folder / "62_01.fbx").write_bytes(b"not read: its output name is taken")
    result = run_cli("--batch", "--mocap", str(folder), "--out-dir", str(out), "--quiet")
    assert result.returncode == 1
    only_paths(result, out / "62_01.fbx")
    assert f"[2/2] failed {folder / '62_01.fbx'}: its output name '62_01' is already taken by " \
           f"{folder / take.name}" in result.stderr
    check_fbx(out / "62_01.fbx", "62_01", fps=120.0)
