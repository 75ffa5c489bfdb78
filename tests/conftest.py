"""Test set-up: a writable numba cache shared by the test processes (set before numba loads)."""

import os
from pathlib import Path

os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".numba-cache")
)
