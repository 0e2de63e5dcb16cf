"""Body-worn IMUs: the recording model, synthesis, calibration, the direct solver, the root path."""
