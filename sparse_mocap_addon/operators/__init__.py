"""Thin operators: they gather input, call core/blender functions and report; no maths here."""

import bpy

from . import bake, export, subject

CLASSES = subject.CLASSES + bake.CLASSES + export.CLASSES


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
