"""Sparse Mocap: sparse motion recordings to clean animation on a personalised SMPL armature.

Only registration lives here; the engine is in ``core`` (numpy), Blender glue in ``blender``.
"""


def register():
    import bpy

    from . import operators, panels, properties

    properties.register()
    operators.register()
    panels.register()
    bpy.types.TOPBAR_MT_file_import.append(panels.main.menu_file_import)
    bpy.types.TOPBAR_MT_file_export.append(panels.main.menu_file_export)


def unregister():
    import bpy

    from . import operators, panels, properties

    bpy.types.TOPBAR_MT_file_export.remove(panels.main.menu_file_export)
    bpy.types.TOPBAR_MT_file_import.remove(panels.main.menu_file_import)
    panels.unregister()
    operators.unregister()
    properties.unregister()
