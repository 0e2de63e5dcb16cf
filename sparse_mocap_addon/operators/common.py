"""Small helpers shared by the operators (no operator calls another)."""

from ..blender.armature import is_smpl_armature


def active_smpl_armature(context):
    obj = context.active_object
    return obj if is_smpl_armature(obj) else None


def subject_source(context):
    """The measurements the UI shows: the active SMPL armature's, else the scene's for a new one."""
    obj = active_smpl_armature(context)
    return obj.sparse_mocap_subject if obj else context.scene.sparse_mocap_new_subject


class Progress:
    """``with Progress(context) as p: p(0.5)`` drives the window manager's progress indicator."""

    def __init__(self, context, steps: int = 1000):
        self.wm = context.window_manager
        self.steps = steps

    def __enter__(self):
        self.wm.progress_begin(0, self.steps)
        return self

    def __call__(self, fraction: float):
        self.wm.progress_update(int(max(0.0, min(1.0, fraction)) * self.steps))

    def __exit__(self, *exc):
        self.wm.progress_end()
        return False
