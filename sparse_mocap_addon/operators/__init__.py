"""Thin operators: they gather input, call core/blender functions and report; no maths here."""

import bpy

from . import bake, body_model, character, export, gap_fill, imu, import_mocap, landmarks, subject, trackers, video

CLASSES = (subject.CLASSES + bake.CLASSES + import_mocap.CLASSES + landmarks.CLASSES + imu.CLASSES + trackers.CLASSES
           + gap_fill.CLASSES + export.CLASSES + character.CLASSES + body_model.CLASSES
           + video.CLASSES)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
