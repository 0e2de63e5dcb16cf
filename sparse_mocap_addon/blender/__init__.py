"""The only layer that touches bpy data: armature, body mesh, baking, export, version compat."""
