"""Learned models: numpy runtime and weight loading (torch only optional, never at import time)."""
