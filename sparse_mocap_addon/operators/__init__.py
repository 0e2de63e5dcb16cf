"""Thin operators: they gather input, call core/blender functions and report; no maths here."""

import bpy

from . import bake, export, import_mocap, subject

CLASSES = subject.CLASSES + bake.CLASSES + import_mocap.CLASSES + export.CLASSES

register, unregister = bpy.utils.register_classes_factory(CLASSES)
