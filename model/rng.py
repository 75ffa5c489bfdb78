"""Counter-based randomness: every draw is a hash of (run seed, stream, step, agent, dimension).

Nothing carries generator state from one draw to the next, so a run gives the same numbers
whether it is stepped through Mesa, run whole in one compiled call, run among thousands of
replicates in parallel, or re-run as its credibility-frozen twin (MODEL.md §3 item 12). The mixer
is SplitMix64's finaliser (Steele, Lea & Flood 2014), applied once per key component; normal
draws invert one uniform with Acklam's quantile approximation.
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
def uniform1(key, agent):
    """Uniform on [0, 1) for (key, agent): one mixing round (the key is already mixed)."""
    return float(mix64(key ^ np.uint64(agent)) >> _S11) * _INV_2_53


@njit(inline="always")
def uniform(key, agent, dim):
    """Uniform on [0, 1) for (key, agent, dimension)."""
    h = mix64(mix64(key ^ np.uint64(agent)) ^ np.uint64(dim))
    return float(h >> _S11) * _INV_2_53


# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
_A0, _A1, _A2 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
_A3, _A4, _A5 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
_B0, _B1, _B2 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
_B3, _B4 = 6.680131188771972e01, -1.328068155288572e01
_C0, _C1, _C2 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
_C3, _C4, _C5 = -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00
_D0, _D1, _D2, _D3 = (
    7.784695709041462e-03,
    3.224671290700398e-01,
    2.445134137142996e00,
    3.754408661907416e00,
)
_P_LOW = 0.02425


@njit(inline="always")
def _central_quantile(p):
    """:func:`normal_quantile`'s central branch (the same operations, so the same numbers)."""
    q = p - 0.5
    r = q * q
    return (
        (((((_A0 * r + _A1) * r + _A2) * r + _A3) * r + _A4) * r + _A5)
        * q
        / (((((_B0 * r + _B1) * r + _B2) * r + _B3) * r + _B4) * r + 1.0)
    )


@njit(inline="always")
def normal_quantile(p):
    """Standard normal quantile of p in (0, 1): one polynomial ratio for 95% of draws, a log and
    a square root only in the tails (cheaper than Box–Muller's log, sqrt and cos per draw)."""
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        return (((((_C0 * q + _C1) * q + _C2) * q + _C3) * q + _C4) * q + _C5) / (
            (((_D0 * q + _D1) * q + _D2) * q + _D3) * q + 1.0
        )
    if p > 1.0 - _P_LOW:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        return -(((((_C0 * q + _C1) * q + _C2) * q + _C3) * q + _C4) * q + _C5) / (
            (((_D0 * q + _D1) * q + _D2) * q + _D3) * q + 1.0
        )
    return _central_quantile(p)


@njit(inline="always")
def normal_probability(key, agent, dim):
    """The uniform in (0, 1) that :func:`normal` inverts (both tails finite)."""
    h = mix64(mix64(key ^ np.uint64(agent)) ^ np.uint64(dim))
    return (float(h >> _S11) + 0.5) * _INV_2_53


@njit(inline="always")
def normal(key, agent, dim):
    """Standard normal for (key, agent, dimension), by inversion of one counter draw."""
    return normal_quantile(normal_probability(key, agent, dim))


# Compiled with numba's "numpy" error model: the default ("python") one guards each division
# against a zero divisor (to raise ZeroDivisionError), and the guard keeps LLVM from vectorising
# the loop of the central branch (measured: the loop took 3x as long). No divisor here is zero:
# the central denominator stays above 1e-4 for every p in (0, 1), tails included (whose central
# values are overwritten), and the tails' is above 36.
@njit(cache=True, _nrt=False, error_model="numpy")
def fill_normals(key, n_agents, n_dims, probabilities, out):
    """``out[a * n_dims + d] = normal(key, a, d)`` for all agents a and dimensions d, identical to
    one :func:`normal` call each but in passes that vectorise: all the hashes, then the central
    branch of the quantile for every draw, then the ~5% of draws in the tails redone one by one
    (the only ones needing a log and a square root). ``probabilities`` is scratch of the same
    length as ``out``."""
    count = n_agents * n_dims
    for a in range(n_agents):
        for d in range(n_dims):
            probabilities[a * n_dims + d] = normal_probability(key, a, d)
    for e in range(count):
        out[e] = _central_quantile(probabilities[e])
    for e in range(count):
        p = probabilities[e]
        if p < _P_LOW or p > 1.0 - _P_LOW:
            out[e] = normal_quantile(p)


def derive_run_seed(generator: np.random.Generator) -> np.uint64:
    """The kernel's run seed, drawn from a Mesa model's ``rng`` (or any numpy Generator).

    ``AllianceModel(rng=s)`` and the batch runners both call this on ``default_rng(s)``, so a seed
    means the same run everywhere.
    """
    return np.uint64(generator.integers(0, 2**64 - 1, dtype=np.uint64, endpoint=True))


def run_seed_for(seed: int | np.random.SeedSequence) -> np.uint64:
    """Run seed for an integer seed or a spawned SeedSequence (same as AllianceModel(rng=seed))."""
    return derive_run_seed(np.random.default_rng(seed))
