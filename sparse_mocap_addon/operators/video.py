"""Import Video (one camera) and Import Camera Set (calibrated cameras): video to a landmark set of
empties, optionally solved at once, with the solve options of Import Landmarks.

Progress and cancel: from the UI (``invoke``) the detection stage
(:mod:`..blender.video_import`, no bpy) runs in a background thread (:class:`DetectionJob`) while
the operator stays modal: a window-manager timer moves the progress bar and the status-bar text,
Esc sets the flag the detector asks before every frame (detection stops, nothing is written or
created). Once detection is done, the landmark set (and the solve and bake) is made in the main
thread, the only one that touches bpy. ``execute`` alone (scripts, tests, background mode) runs the
same two stages in turn.
"""

import functools
import math
import threading
from pathlib import Path

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..blender import video_import
from ..blender.landmark_solve import summary
from ..blender.set_solve import stage
from ..video.detect import IMAGE_EXTENSIONS, VideoCancelled
from ..video.mono import DEFAULT_FOV_DEG
from .common import error_text, file_filter, object_mode, run_reported, select_only
from .landmarks import _SolveMixin

TIMER_SECONDS = 0.25
VIDEO_PATTERNS = ";".join(f"*{ext}" for ext in video_import.VIDEO_FILE_EXTENSIONS + IMAGE_EXTENSIONS)


class DetectionJob:
    """``work(progress=..., should_cancel=...)`` (a detection stage: no bpy) in a background thread.
    The main thread reads ``progress`` (0-1) and ``done``; :meth:`cancel` sets the flag the work's
    ``should_cancel`` returns; once done, ``result`` or ``error`` (the exception it raised)."""

    def __init__(self, work):
        self.progress = 0.0
        self.result = None
        self.error: Exception | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name="sparse_mocap video detection",
                                        daemon=True)

    def start(self) -> "DetectionJob":
        self._thread.start()
        return self

    def _run(self, work) -> None:
        try:
            self.result = work(progress=self._set_progress, should_cancel=self._cancel.is_set)
        except Exception as exc:                 # handed to the main thread, which reports it
            self.error = exc

    def _set_progress(self, fraction: float) -> None:
        self.progress = fraction

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the work to end (``timeout`` seconds at most); whether it has."""
        self._thread.join(timeout)
        return self.done


class _VideoImport(_SolveMixin):
    """What both operators share: the poll on MediaPipe and OpenCV, the frame range, Solve IK Now,
    the two stages run in turn (``execute``) or with the detection in a thread (after ``invoke``),
    and the report. Subclasses give ``_source()``, ``_detection()`` and ``_draw_source(layout)``."""

    start_frame: IntProperty(name="Start Frame", default=0, min=0,
                             description="The first video frame to use (0: the first of the video)")
    max_frames: IntProperty(name="Frame Limit", default=0, min=0,
                            description="At most this many frames from the start frame (0: to the end)")
    solve: BoolProperty(name="Solve IK Now", default=True,
                        description="Solve the landmarks onto an armature and bake an action right away")
    background_detection: BoolProperty(
        default=False, options={"HIDDEN", "SKIP_SAVE"},
        description="Run the detection in a background thread with progress and Esc to cancel (set by invoke)")

    @classmethod
    def poll(cls, context):
        missing = video_import.video_support_missing()
        if missing:
            cls.poll_message_set(missing)
            return False
        return True

    def _wants_character(self) -> bool:
        return self.onto_character and self.solve      # the empties alone: nothing to put onto it

    def _frames(self) -> dict:
        return {"start": self.start_frame, "max_frames": self.max_frames or None}

    def _ready(self, context) -> str | None:
        """The source's label, or None after reporting why the import cannot start."""
        self._fill_defaults(context)
        label, error = self._source()
        if error is None and self.solve:
            error = self._target(context)[1]
        if error:
            self.report({"ERROR"}, error)
            return None
        return label if self._character_ready(context) else None

    def execute(self, context):
        label = self._ready(context)
        if label is None:
            return {"CANCELLED"}
        if self.background_detection and context.window is not None:
            self.background_detection = False           # a redo (Adjust Last Operation) runs in turn
            return self._start_job(context, label)
        object_mode(context)
        work = self._detection()
        done = run_reported(self, context, label, lambda bar: self._import(
            context, _detected(work, stage(bar, 0.0, video_import.DETECTION_SHARE)), bar))
        return {"CANCELLED"} if done is None else self._report_done(context, *done)

    def _import(self, context, detected, bar):
        """The import stage (main thread): the landmark set, solved when asked; (detected, import)."""
        armature, error = self._target(context) if self.solve else (None, None)
        if error:                                       # the armature went away during detection
            raise ValueError(error)
        imported = video_import.import_detected(
            detected, stage(bar, video_import.DETECTION_SHARE, 1.0), threshold=self.threshold,
            solve=self._solve_options() if self.solve else None, armature=armature,
            measurements=self._measurements(context) if self.solve else None, with_body=self.with_body,
            gap_fill=self._gap_fill_options(), context=context)
        return detected, imported

    def _report_done(self, context, detected, imported):
        seq = imported.sequence
        text = (f"Imported {detected.source.name} as '{imported.parent.name}': {seq.num_frames} frames "
                f"({seq.fps:g} fps), {detected.detail}; landmarks in {detected.path}")
        if imported.solve is not None:
            return self._report_solved(context, imported.solve, f"{text}; solved", summary)
        select_only(context, imported.parent)
        self.report({"INFO"}, text)
        return {"FINISHED"}

    # --- detection in a background thread ---------------------------------------------------------

    def _start_job(self, context, label: str):
        self._label = label
        self._job = DetectionJob(self._detection()).start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_SECONDS, window=context.window)
        wm.progress_begin(0, 1000)
        wm.modal_handler_add(self)
        self._show_status(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
            self._show_status(context)
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not self._job.done:
            context.window_manager.progress_update(int(1000 * video_import.DETECTION_SHARE * self._job.progress))
            self._show_status(context)
            return {"PASS_THROUGH"}
        self._stop_job(context)
        return self._finish_job(context)

    def cancel(self, context):
        """Blender ends the operator: the file browser closed without a choice (no job yet), or a file
        loaded or the window closed while detecting (stop the detection)."""
        if getattr(self, "_job", None) is not None and not self._job.done:
            self._job.cancel()
            self._stop_job(context)

    def _show_status(self, context):
        if self._job.cancelled:
            text = f"Cancelling the detection in {self._label}..."
        else:
            text = f"Detecting the performer in {self._label}: {100.0 * self._job.progress:.0f}% (Esc to cancel)"
        if context.workspace is not None:
            context.workspace.status_text_set(text)

    def _stop_job(self, context):
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)

    def _finish_job(self, context):
        job, label = self._job, self._label
        if isinstance(job.error, VideoCancelled) or (job.error is None and job.cancelled):
            kept = f"; {job.result.path} was already written" if job.result is not None else ""
            self.report({"WARNING"}, f"{label}: cancelled, nothing imported{kept}")
            return {"CANCELLED"}
        if isinstance(job.error, (ValueError, OSError, ImportError)):
            self.report({"ERROR"}, error_text(job.error, label))
            return {"CANCELLED"}
        if job.error is not None:
            raise job.error
        object_mode(context)
        done = run_reported(self, context, label, lambda bar: self._import(context, job.result, bar))
        return {"CANCELLED"} if done is None else self._report_done(context, *done)

    # --- the dialog -------------------------------------------------------------------------------

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        self._draw_source(layout)
        col = layout.column(heading="Frames", align=True)
        col.prop(self, "start_frame")
        col.prop(self, "max_frames")
        layout.prop(self, "solve")
        if self.solve:
            self._draw_solve(context, layout)
        else:
            layout.prop(self, "threshold")


def _detected(work, progress):
    """``work(progress=...)``, a missing package's ImportError (one sentence naming what to install:
    the poll found the modules, but one they import is absent) reported like the readers' errors."""
    try:
        return work(progress=progress)
    except ImportError as exc:
        raise ValueError(str(exc)) from None


def _path(text: str) -> Path:
    return Path(bpy.path.abspath(text))


class SPARSE_MOCAP_OT_import_video(_VideoImport, bpy.types.Operator, ImportHelper):
    """Find the performer in a video (or a folder of images) with MediaPipe Pose, place them in front \
of the camera and import the 33 landmarks as animated empties; optionally solve them onto an SMPL armature"""

    bl_idname = "sparse_mocap.import_video"
    bl_label = "Import Video"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".mp4"
    filter_glob: file_filter(VIDEO_PATTERNS)

    landmarks_path: StringProperty(
        name="Landmarks File", subtype="FILE_PATH",
        description="Where the detected landmarks are written as MediaPipe JSON (empty: beside the video, "
                    "<name>.landmarks.json, never replacing an earlier one)")
    fov: FloatProperty(
        name="Field of View", subtype="ANGLE", default=math.radians(DEFAULT_FOV_DEG), min=math.radians(1.0),
        max=math.radians(170.0),
        description="The camera's field of view across the image's long side (a phone's main camera, stabilised: "
                    "about 60 degrees); a wrong guess scales the performer's distance from the camera, nothing else")
    focal_px: FloatProperty(
        name="Focal Length (px)", default=0.0, min=0.0, soft_max=10000.0,
        description="The camera's focal length in pixels, when known from a calibration (0: from the field of view)")

    def invoke(self, context, event):
        self._fill_defaults(context)
        self.background_detection = True
        return ImportHelper.invoke(self, context, event)

    def _source(self):
        """(label, error sentence or None) of the chosen video or image folder."""
        path = _path(self.filepath)
        if not path.exists():
            return path.name, f"{path}: no such video file or image folder"
        if path.is_file() and path.suffix.lower() not in video_import.VIDEO_FILE_EXTENSIONS + IMAGE_EXTENSIONS:
            return path.name, (f"{path}: not a video ({', '.join(video_import.VIDEO_FILE_EXTENSIONS)}) "
                               "or a folder of images")
        return path.name, None

    def _detection(self):
        """The detection stage with this dialog's settings (plain values: it runs in a thread)."""
        return functools.partial(
            video_import.detect_video_landmarks, _path(self.filepath),
            landmarks_path=_path(self.landmarks_path) if self.landmarks_path else None,
            focal_px=self.focal_px or None, fov_deg=math.degrees(self.fov), **self._frames())

    def _draw_source(self, layout):
        col = layout.column(heading="Camera")
        col.prop(self, "focal_px")
        sub = col.column()
        sub.active = self.focal_px == 0.0
        sub.prop(self, "fov")
        layout.prop(self, "landmarks_path")


class SPARSE_MOCAP_OT_import_camera_set(_VideoImport, bpy.types.Operator):
    """Find the performer in two or more synchronised, calibrated videos (a folder with the videos and a \
Pose2Sim/Anipose .toml or Qualisys .qca.txt calibration) with MediaPipe Pose, triangulate the landmarks and import \
them as animated empties; optionally solve them onto an SMPL armature"""

    bl_idname = "sparse_mocap.import_camera_set"
    bl_label = "Import Camera Set"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(name="Folder", subtype="DIR_PATH",
                              description="The folder with the videos (named after their cameras) and the calibration")
    filter_folder: BoolProperty(default=True, options={"HIDDEN"}, description="The file browser lists folders")
    calibration: StringProperty(
        name="Calibration", subtype="FILE_PATH",
        description="The cameras' calibration (Pose2Sim or Anipose .toml, Qualisys .qca.txt); empty: the one "
                    "calibration file in the folder")
    trc_path: StringProperty(
        name="TRC File", subtype="FILE_PATH",
        description="Where the triangulated landmarks are written as TRC (empty: in the folder, <folder name>.trc, "
                    "never replacing an earlier one)")

    def invoke(self, context, event):
        self._fill_defaults(context)
        self.background_detection = True
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def _source(self):
        folder = _path(self.directory)
        if not self.directory or not folder.is_dir():
            return folder.name, f"{folder}: no such folder; choose the folder with the videos and their calibration"
        return folder.name, None

    def _detection(self):
        return functools.partial(
            video_import.detect_camera_landmarks, _path(self.directory),
            calibration=_path(self.calibration) if self.calibration else None,
            trc_path=_path(self.trc_path) if self.trc_path else None, **self._frames())

    def _draw_source(self, layout):
        col = layout.column(heading="Files")
        col.prop(self, "calibration")
        col.prop(self, "trc_path")


CLASSES = (SPARSE_MOCAP_OT_import_video, SPARSE_MOCAP_OT_import_camera_set)
