"""The performer's body: measurements to a skeleton, the default body mesh, the demo walk."""
