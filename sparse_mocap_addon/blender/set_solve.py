"""What the IMU, tracker and landmark glue (:mod:`.imu_solve`, :mod:`.tracker_solve`,
:mod:`.landmark_solve`) share: a recording put into the scene as a set, progress split over the
steps, a reconstruction's gaps filled and its motion baked onto an armature, and the words of
their reports. Each concern keeps its reading, calibration and solving."""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.feet.stage import FeetOptions, feet_summary
from ..core.kinematics.motion import Motion
from ..inference.gap_fill import GapFillOptions, fill_reconstruction, gap_fill_summary
from .bake import set_scene_timing
from .gap_fill import key_step
from .mocap_import import bake_onto_armature


def stage(tick, start: float, end: float):
    """A progress callback for one step: its 0..1 mapped onto ``start``..``end`` of ``tick``'s bar."""
    return lambda fraction: tick(start + (end - start) * fraction)


def require_frames(count: int, where, error) -> None:
    """Raise ``error`` naming ``where`` when a recording has fewer than two frames."""
    if count < 2:
        raise error(f"{where}: the recording has {count} frame(s); at least two are needed.")


def set_into_scene(create, data, name: str, *, fps: float, num_frames: int, frame_start: int, context, progress):
    """A new set made by ``create(data, name, collection, frame_start=, context=, progress=)`` in the
    context's collection, the scene's frame rate and range set to the recording's. Call it inside
    ``mocap_import.removed_on_failure`` so a failure leaves nothing behind."""
    parent = create(data, name, context.collection, frame_start=frame_start, context=context, progress=progress)
    set_scene_timing(context.scene, fps, num_frames, frame_start)
    return parent


@dataclass
class BakedSolve:
    """What a reconstruct/solve onto an armature did."""

    armature: bpy.types.Object
    action: bpy.types.Action
    motion: Motion
    report: dict
    created_armature: bool
    source: object = None        # what was reconstructed, where the concern says (a TrackerSource)


def same_rate(motion: Motion, fps: float) -> bool:
    """The motion keeps the recording's frame rate (the scene can take it, one key per frame)."""
    return abs(motion.fps - fps) < 1e-6


def fill_and_bake(motion: Motion, report: dict, *, missing, gap_fill: GapFillOptions | None,
                  feet: FeetOptions | None, match_scene: bool, armature, name: str, measurements,
                  frame_start: int, with_body: bool, context, progress, source=None) -> BakedSolve:
    """With ``gap_fill``: the ``missing`` frames filled (``report["gap_fill"]``, the filled frames
    through the ``feet`` stage); then the motion baked onto ``armature``, or a new armature ``name``
    made from ``measurements`` (:func:`.mocap_import.bake_onto_armature`: a new action, the first
    frame on ``frame_start``; ``match_scene``: the scene takes the motion's rate, else the keys keep
    real time at the scene's). ``source`` goes into the result as it is."""
    if gap_fill is not None:
        motion, report["gap_fill"] = fill_reconstruction(motion, missing, gap_fill, frame_start,
                                                         key_step(context.scene, motion.fps, match_scene),
                                                         feet=feet)
    armature, action, created = bake_onto_armature(
        motion, armature, name=name, measurements=measurements, frame_start=frame_start, match_scene=match_scene,
        with_body=with_body, context=context, progress=progress)
    return BakedSolve(armature, action, motion, report, created, source)


# --- the words of the reports ----------------------------------------------------------------------

def recording_text(names, num_frames: int, fps: float, plural: str) -> str:
    """"6 sensors (a, b, ...) x 600 frames at 60 fps (10.0 s)"."""
    return (f"{len(names)} {plural} ({', '.join(names)}) x {num_frames} frames at {fps:g} fps"
            f" ({num_frames / fps:.1f} s)")


def missing_text(valid: np.ndarray, word: str) -> str:
    """", 1.5% samples <word>" for the share of ``valid`` that is False, or ""."""
    missing = 1.0 - float(np.mean(valid)) if valid.size else 0.0
    return f", {100.0 * missing:.1f}% samples {word}" if missing > 0 else ""


def summary_ending(report: dict) -> list[str]:
    """The last parts of a reconstruction's summary: stature, calibration, gap filling, feet stage."""
    parts = []
    if "stature_m" in report:
        parts.append(f"stature {report['stature_m']:.2f} m")
    if report.get("calibration"):
        parts.append(report["calibration"])
    if gap_fill_summary(report.get("gap_fill")):
        parts.append(gap_fill_summary(report["gap_fill"]))
    if feet_summary(report.get("feet")):
        parts.append(feet_summary(report["feet"]))
    return parts
