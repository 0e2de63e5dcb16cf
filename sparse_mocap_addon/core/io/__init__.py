"""Plain and gzipped text, the readers' shared error and plausibility checks, name splitting, atomic writes: imports nothing above it."""
