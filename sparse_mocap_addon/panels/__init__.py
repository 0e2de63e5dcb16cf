"""The "Sparse Mocap" tab of the 3D viewport sidebar. Later capabilities add panels here."""

import bpy

from . import main

CLASSES = main.CLASSES


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
