"""The CLI from video (issue 19): --video (one camera) and --cameras (calibrated cameras) to FBX and
.blend through the real detector and the shared videos; each refusal in one sentence, exit 2."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_support import check_fbx, only_paths

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "landmarks_real" / "pose2sim" / "videos"
needs_video = pytest.mark.skipif(
    not (VIDEOS / "cam01.mp4").is_file() or importlib.util.find_spec("mediapipe") is None,
    reason="needs the shared Pose2Sim videos (../shared/data) and mediapipe (scripts/setup.sh)")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sparse_mocap_addon", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


@needs_video
def test_a_video_to_fbx_with_its_landmarks_written_where_asked(tmp_path):
    fbx, landmarks = tmp_path / "cam01.fbx", tmp_path / "landmarks" / "cam01.json"
    landmarks.parent.mkdir()
    result = run_cli("--video", str(VIDEOS / "cam01.mp4"), "--video-frames", "20", "--landmarks-out", str(landmarks),
                     "--fbx", str(fbx))
    assert result.returncode == 0, result.stderr[-2000:]
    only_paths(result, fbx)
    assert landmarks.is_file() and "person in 20 of 20 frames" in result.stderr
    check_fbx(fbx, "cam01", frames=20, fps=60.0)


@needs_video
def test_a_camera_set_to_blend_with_its_trc(tmp_path):
    folder = tmp_path / "session"
    folder.mkdir()
    for source in VIDEOS.iterdir():
        (folder / source.name).symlink_to(source)
    blend = tmp_path / "session.blend"
    result = run_cli("--cameras", str(folder), "--video-frames", "10", "--blend", str(blend))
    assert result.returncode == 0, result.stderr[-2000:]
    only_paths(result, blend)
    assert (folder / "session.trc").is_file() and "solved onto armature 'session'" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--cameras", "{tmp}"], "0 video(s)"),
    (["--video", "{tmp}/absent.mp4"], "absent.mp4: no such video file or image folder"),
    (["--video", "{tmp}/absent.mp4", "--fov", "200"], "--fov 200 is out of range"),
    (["--batch", "--cameras", "{tmp}", "--out-dir", "{tmp}"], "--batch does not take --cameras"),
])
def test_bad_video_input_is_refused_in_one_sentence(tmp_path, args, message):
    if importlib.util.find_spec("mediapipe") is None and "--batch" not in args:
        pytest.skip("mediapipe is not installed: the CLI refuses earlier, naming what to install")
    out = tmp_path / "out.fbx"
    result = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args], *([] if "--out-dir" in args else
                                                                          ["--fbx", str(out)]))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert not out.exists() and "Traceback" not in result.stderr
