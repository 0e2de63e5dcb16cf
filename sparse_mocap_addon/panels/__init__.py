"""The "Sparse Mocap" tab of the 3D viewport sidebar. Later capabilities add panels here."""

import bpy

from . import character, main

CLASSES = main.CLASSES + character.CLASSES

register, unregister = bpy.utils.register_classes_factory(CLASSES)
