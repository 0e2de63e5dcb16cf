"""3D landmarks: the sequence model, joint targets, scale, the personalised skeleton, readers."""
