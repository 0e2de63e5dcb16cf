"""Mocap takes from any rig: the source model, joint maps, retargeting, the performer's body."""
