"""Render frames of the shared cam01 video beside the armature solved from it (docs/video_to_armature.png).

The video goes through Import Video as the add-on runs it (``blender.video_import.import_video``:
MediaPipe Pose, the person placed in front of the camera and levelled, the landmark set solved onto
a new armature with its default body). Blender renders the armature (Workbench) through a camera at
the video camera's place and tilt (the origin of the placed scene, raised as the feet stage raised
the person onto the floor, turned back by the levelling the placement applied, the calibrated focal
length of cam01's portrait frame); each row shows the video frame on the left and the render of the
same frame on the right.

    .venv/bin/python scripts/render_video.py [--out docs/video_to_armature.png] [--frames 0 45 90]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

from blender_stills import render_still, save_png  # noqa: E402

from sparse_mocap_addon.blender.video_import import import_video  # noqa: E402
from sparse_mocap_addon.core.landmarks.cameras import read_calibration  # noqa: E402
from sparse_mocap_addon.pipelines.landmarks import SolveOptions  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "data" / "landmarks_real" / "pose2sim" / "videos"
ROW_HEIGHT = 480


def video_frames(path: Path, frames) -> list:
    import cv2

    capture = cv2.VideoCapture(str(path))
    images = []
    for frame in frames:
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, image = capture.read()
        if not ok:
            raise SystemExit(f"error: {path} has no frame {frame}")
        height = ROW_HEIGHT
        width = int(round(image.shape[1] * height / image.shape[0]))
        images.append(cv2.resize(image, (width, height))[..., ::-1].astype(np.float32) / 255.0)
    capture.release()
    return images


# MediaPipe's camera axes (x right, y down, z away from the camera) -> the core frame the landmark
# reader turns them into (-Y up: Y up, the person facing +Z towards the camera) -> Blender's.
MEDIAPIPE_TO_CORE = np.diag([1.0, -1.0, -1.0])


def video_camera(focal_px: float, size, levelling: np.ndarray, height_m: float) -> None:
    """A camera where the video camera was: at the placed scene's origin, raised by ``height_m``
    (the feet stage put the floor it found under the soles at y = 0), looking at the person turned
    by the levelling the placement applied (``levelling``, MediaPipe axes), with the video's field
    of view."""
    from sparse_mocap_addon.blender.coords import CORE_TO_BLENDER

    scene = bpy.context.scene
    camera = bpy.data.objects.new("video camera", bpy.data.cameras.new("video camera"))
    scene.collection.objects.link(camera)
    to_blender = CORE_TO_BLENDER @ MEDIAPIPE_TO_CORE @ levelling
    look, up = to_blender @ (0.0, 0.0, 1.0), to_blender @ (0.0, -1.0, 0.0)
    axes = np.stack([np.cross(up, -look), up, -look], axis=1)     # Blender cameras look along -Z
    from mathutils import Matrix
    place = CORE_TO_BLENDER @ (0.0, height_m, 0.0)
    camera.matrix_world = Matrix(np.block([[axes, place[:, None]], [np.zeros((1, 3)), np.ones((1, 1))]]).tolist())
    width, height = size
    camera.data.sensor_fit = "VERTICAL"
    camera.data.sensor_height = 36.0
    camera.data.lens = focal_px * 36.0 / height
    scene.camera = camera
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.render.resolution_x = int(round(width * ROW_HEIGHT / height))
    scene.render.resolution_y = ROW_HEIGHT


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "video_to_armature.png")
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 45, 90])
    args = parser.parse_args(argv)
    video = VIDEOS / "cam01.mp4"
    if not video.is_file():
        print(f"skipped: {video} is not there")
        return 0
    bpy.ops.wm.read_factory_settings(use_empty=True)
    cameras = read_calibration(VIDEOS / "Calib.qca.txt")
    k = cameras.names.index("cam01")
    focal = float(cameras.K[k, 1, 1])
    with tempfile.TemporaryDirectory() as folder:
        detected, imported = import_video(video, landmarks_path=Path(folder) / "cam01.landmarks.json",
                                          focal_px=focal, solve=SolveOptions())
        levelling = np.array(json.loads(detected.path.read_text())["camera"]["levelling_rotation"])
    raised = imported.solve.report["feet"]["ground_shift_m"]
    video_camera(focal, tuple(cameras.sizes[k]), levelling, raised)
    for obj in list(imported.parent.children) + [imported.parent]:
        obj.hide_render = True                                        # the armature's body only
    rendered = [render_still(bpy.context.scene.frame_start + f)[..., :3] for f in args.frames]
    shots = video_frames(video, args.frames)
    rows = [np.concatenate([shot, np.ones((ROW_HEIGHT, 12, 3), np.float32), image], axis=1)
            for shot, image in zip(shots, rendered)]
    gap = np.ones((12, rows[0].shape[1], 3), np.float32)
    stacked = np.concatenate([part for row in rows for part in (row, gap)][:-1], axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_png(stacked, args.out)
    print(f"{args.out}: cam01 frames {args.frames}, armature '{imported.solve.armature.name}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
