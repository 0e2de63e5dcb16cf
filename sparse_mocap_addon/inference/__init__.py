"""Learned models: numpy runtime and weight loading (no torch: the torch side lives in training/)."""
