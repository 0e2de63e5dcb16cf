"""Sparse Mocap: sparse motion recordings to clean animation on a personalised SMPL armature.

Only registration lives here; the engine is in ``core`` (numpy), Blender glue in ``blender``.
"""


def register():
    from . import operators, panels, properties

    properties.register()
    operators.register()
    panels.register()


def unregister():
    from . import operators, panels, properties

    panels.unregister()
    operators.unregister()
    properties.unregister()
