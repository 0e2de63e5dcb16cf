"""Feet on the floor: sole points, contacts, locking, planting, and the shared feet stage."""
