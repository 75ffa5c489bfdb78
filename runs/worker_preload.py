"""Imported once by the local engine's fork server: loads the compiled kernels there (the plain
run and the run-with-twin lockstep), so every worker forked from the server starts with them in
memory instead of re-loading the numba cache."""

from runs.engine import warm_kernel

warm_kernel(twins=True)
