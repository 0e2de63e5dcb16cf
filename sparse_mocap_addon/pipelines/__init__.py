"""The three reconstruction pipelines (landmarks, IMU, trackers) and the frames each lost.

Above ``core`` and ``inference``, below ``blender``: numpy only, never bpy or torch."""
