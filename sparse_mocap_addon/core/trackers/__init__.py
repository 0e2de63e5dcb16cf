"""VR and positional trackers: the recording model, synthesis, calibration, checks, six-point IK."""
