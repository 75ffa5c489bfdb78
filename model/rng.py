"""Counter-based randomness: every draw is a hash of (run seed, stream, step, agent, dimension).

Nothing carries generator state from one draw to the next, so a run gives the same numbers
whether it is stepped through Mesa, run whole in one compiled call, run among thousands of
replicates in parallel, or re-run as its credibility-frozen twin (MODEL.md §3 item 12). The mixer
is SplitMix64's finaliser (Steele, Lea & Flood 2014), applied once per key component.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0
_TWO_PI = 2.0 * math.pi

# Streams: one per kind of draw, so that e.g. adding a need dimension never shifts the acts.
STREAM_ACT = 1
STREAM_NEED = 2
STREAM_TENSION = 3
STREAM_FORM = 4
STREAM_ABROGATE = 5
STREAM_EXOGENOUS = 6
STREAM_SPELL_KIND = 7
STREAM_SPELL_STRENGTH = 8


@njit(inline="always")
def mix64(z):
    """SplitMix64 finaliser of ``z + golden``: a bijection on uint64 with full avalanche."""
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always")
def step_key(seed, stream, step):
    """Key shared by all draws of one stream in one step (hoisted out of the agent loops)."""
    return mix64(mix64(seed ^ (np.uint64(stream) * _GOLDEN)) ^ np.uint64(step))


@njit(inline="always")
def uniform(key, agent, dim):
    """Uniform on [0, 1) for (key, agent, dimension)."""
    h = mix64(mix64(key ^ np.uint64(agent)) ^ np.uint64(dim))
    return float(h >> _S11) * _INV_2_53


@njit(inline="always")
def normal(key, agent, dim):
    """Standard normal for (key, agent, dimension), by Box–Muller on two counter draws."""
    u1 = 1.0 - uniform(key, agent, 2 * dim)  # in (0, 1]: log is finite
    u2 = uniform(key, agent, 2 * dim + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


def derive_run_seed(generator: np.random.Generator) -> np.uint64:
    """The kernel's run seed, drawn from a Mesa model's ``rng`` (or any numpy Generator).

    ``AllianceModel(rng=s)`` and the batch runners both call this on ``default_rng(s)``, so a seed
    means the same run everywhere.
    """
    return np.uint64(generator.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True))


def run_seed_for(seed: int | np.random.SeedSequence) -> np.uint64:
    """Run seed for an integer seed or a spawned SeedSequence (same as AllianceModel(rng=seed))."""
    return derive_run_seed(np.random.default_rng(seed))
