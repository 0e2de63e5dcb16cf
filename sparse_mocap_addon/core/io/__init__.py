"""Plain and gzipped text, the readers' shared error and plausibility checks, name splitting and
atomic writes: imports nothing above it."""
