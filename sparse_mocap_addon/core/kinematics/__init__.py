"""Rotations, skeletons and forward kinematics, motions, resampling, mirroring, IK, filters, calibration poses."""
