"""Imported once by the local engine's fork server: loads the compiled kernel there, so every
worker forked from the server starts with it in memory instead of re-loading the numba cache."""

from runs.engine import warm_kernel

warm_kernel()
