"""The numpy-only engine: never imports bpy, mathutils or torch."""
