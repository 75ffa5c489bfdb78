"""The structure-of-arrays the kernel reads and writes, and the tables that grow with a run.

Three named tuples of numpy arrays (numba passes them to compiled code as they are):

* :class:`WorldArrays` — per-state vectors (N states, K norms, M resources) and pair matrices.
  Mesa agents hold *views* into these rows (agents/state.py), so the kernel's writes are what the
  agents see, with no copying.
* :class:`SpellTable` — one row per partnership spell (edge list: partnerships are sparse), with a
  compact list of the active rows. It grows by doubling when full (see :meth:`SpellTable.grown`).
* :class:`EventTable` — dated scenario events as flat rows sorted by step.
* :class:`Records` — the per-step series written by the kernel.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

NEVER = np.int32(-(2**30))  # "no such step" for last-end bookkeeping (far before any cooldown)

# Causes of a formal end (spells.csv `cause`).
CAUSE_NONE = 0  # still active (censored)
CAUSE_INTEREST = 1
CAUSE_PRINCIPLES = 2
CAUSE_ENTRAPMENT = 3
CAUSE_EXPIRY = 4
CAUSE_EXOGENOUS = 5
CAUSE_SCENARIO = 6
CAUSE_NAMES = ("", "interest", "principles", "entrapment", "expiry", "exogenous", "scenario")

# Event kinds (EventTable.kind).
EV_SET_NEED = 0  # needs baseline D̄[a, b] = value
EV_SET_SUPPLY = 1  # S[a, b] = value
EV_SET_PRINCIPLE = 2  # P[a, b] = value
EV_SET_CONDUCT = 3  # V[a, b] = value
EV_SET_TENSION = 4  # tension baseline T̄[a] = value
EV_SET_RISK = 5  # R[a] = value
EV_ACT = 6  # x[a, b] = value (intensity) for `months` steps
# EV_START: start a spell a–b (value = strength, < 0 for w_init; months = term, 0 for none;
# flag bits below); on a pair already partnered with the treaty flag, formalise it as a treaty.
EV_START = 7
EV_END = 8  # the active a–b spell ends (cause "scenario")
FLAG_TREATY = 1
FLAG_RENEW = 2

# Columns of Records.aggregate (per step); then one mean credibility column per norm.
AGG_ACTIVE, AGG_HOLLOW, AGG_MEAN_STRENGTH, AGG_MEAN_TENSION = range(4)
AGG_FIXED = 4
AGGREGATE_COLUMNS = ("active_partnerships", "hollow_partnerships", "mean_strength", "mean_tension")


class WorldArrays(NamedTuple):
    power: np.ndarray  # (N,) capability share
    principles: np.ndarray  # (N, K) P, stated salience of norm k
    conduct: np.ndarray  # (N, K) V, monthly propensity to act against norm k
    needs: np.ndarray  # (N, M) D, current need
    needs_baseline: np.ndarray  # (N, M) D̄
    supply: np.ndarray  # (N, M) S
    credibility: np.ndarray  # (N, K) C
    tension: np.ndarray  # (N,) T
    tension_baseline: np.ndarray  # (N,) T̄
    risk: np.ndarray  # (N,) R, brinkmanship readiness
    rivals: np.ndarray  # (N, N) bool, symmetric
    implicates: np.ndarray  # (M, K) G
    acts: np.ndarray  # (N, K) x, this step's acts against norm k
    recent_conduct: np.ndarray  # (N, K) x̄, 12-month moving average of x
    contradiction: np.ndarray  # (N, K) H, this step's hypocrisy
    endorsed: np.ndarray  # (N, K) scratch: Σ_j E_ij x[j, k]
    complicity: np.ndarray  # (N, K) Q
    inv_agenda: np.ndarray  # (N,) scratch: 1/Σ_k P[i, k] (0 if it is 0)
    calm: np.ndarray  # (N,) scratch: 1/(1 + T_i)
    interest_weight: np.ndarray  # (N,) scratch: T_i/(T_i + T½)
    frozen: np.ndarray  # (N,) bool: credibility of this state is held fixed (twins)
    pair_spell: np.ndarray  # (N, N) int32: row of the active spell of the pair, -1 if none
    pair_last_end: np.ndarray  # (N, N) int32: step of the pair's last formal end
    zeros_k: np.ndarray  # (K,) zeros: complicity of a pair that is not yet partnered
    normals: np.ndarray  # (N·max(M, 1),) scratch: this month's normal draws of the drift
    probabilities: np.ndarray  # (N·max(M, 1),) scratch: the uniforms they invert

    @property
    def n_states(self) -> int:
        return self.principles.shape[0]


class SpellTable(NamedTuple):
    count: np.ndarray  # (1,) int64: rows used
    n_active: np.ndarray  # (1,) int64
    active: np.ndarray  # (S,) int32: rows of active spells, first n_active valid
    member_a: np.ndarray  # (S,) int32, a < b
    member_b: np.ndarray  # (S,) int32
    start: np.ndarray  # (S,) int32 step
    functional_end: np.ndarray  # (S,) int32 step, -1 none
    formal_end: np.ndarray  # (S,) int32 step, -1 none (censored)
    cause: np.ndarray  # (S,) int8, CAUSE_*
    binding: np.ndarray  # (S,) int8: side (0 = a, 1 = b) whose value was lower at abrogation, -1
    treaty: np.ndarray  # (S,) bool
    renew: np.ndarray  # (S,) bool
    term: np.ndarray  # (S,) int32 months, 0 = no term
    term_end: np.ndarray  # (S,) int32 step at which the current term runs out
    kappa: np.ndarray  # (S,) float legal inertia (abrogation hazard per unit -Ubar)
    initial_strength: np.ndarray  # (S,) float
    strength: np.ndarray  # (S,) float W
    value_smoothed: np.ndarray  # (S,) float Ū
    distancing: np.ndarray  # (S, 2) float in [0, 1]: each side's withheld endorsement
    pair_complicity: np.ndarray  # (S, 2, K) q[side -> other, k]
    updates: np.ndarray  # (S,) int32: strength updates so far (first-year bookkeeping)
    side_value: np.ndarray  # (S, 2) 12-month moving average of each side's U
    first_components: np.ndarray  # (S, 2, 3) sums of (interest, principles, entrapment), 1st year
    recent_components: np.ndarray  # (S, 2, 3) 12-month moving averages of the same

    @property
    def capacity(self) -> int:
        return self.start.shape[0]

    @classmethod
    def empty(cls, capacity: int, n_norms: int) -> SpellTable:
        s = max(int(capacity), 1)
        return cls(
            count=np.zeros(1, np.int64),
            n_active=np.zeros(1, np.int64),
            active=np.full(s, -1, np.int32),
            member_a=np.full(s, -1, np.int32),
            member_b=np.full(s, -1, np.int32),
            start=np.full(s, -1, np.int32),
            functional_end=np.full(s, -1, np.int32),
            formal_end=np.full(s, -1, np.int32),
            cause=np.zeros(s, np.int8),
            binding=np.full(s, -1, np.int8),
            treaty=np.zeros(s, np.bool_),
            renew=np.zeros(s, np.bool_),
            term=np.zeros(s, np.int32),
            term_end=np.zeros(s, np.int32),
            kappa=np.zeros(s, np.float64),
            initial_strength=np.zeros(s, np.float64),
            strength=np.zeros(s, np.float64),
            value_smoothed=np.zeros(s, np.float64),
            distancing=np.zeros((s, 2), np.float64),
            pair_complicity=np.zeros((s, 2, n_norms), np.float64),
            updates=np.zeros(s, np.int32),
            side_value=np.zeros((s, 2), np.float64),
            first_components=np.zeros((s, 2, 3), np.float64),
            recent_components=np.zeros((s, 2, 3), np.float64),
        )

    def grown(self, capacity: int) -> SpellTable:
        """A copy with room for ``capacity`` rows (the used rows and counters carried over)."""
        bigger = SpellTable.empty(capacity, self.pair_complicity.shape[2])
        for name in self._fields:
            old, new = getattr(self, name), getattr(bigger, name)
            if name in ("count", "n_active"):
                new[:] = old
            else:
                new[: self.capacity] = old
        return bigger


class EventTable(NamedTuple):
    step: np.ndarray  # (E,) int32, sorted
    kind: np.ndarray  # (E,) int32, EV_*
    a: np.ndarray  # (E,) int32 state
    b: np.ndarray  # (E,) int32 dimension or second state
    value: np.ndarray  # (E,) float
    months: np.ndarray  # (E,) int32
    flag: np.ndarray  # (E,) int32

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, int, int, float, int, int]]) -> EventTable:
        """Rows of (step, kind, a, b, value, months, flag), stably sorted by step."""
        rows = sorted(rows, key=lambda r: r[0])
        cols = list(zip(*rows, strict=True)) if rows else [()] * 7
        dtypes = (np.int32, np.int32, np.int32, np.int32, np.float64, np.int32, np.int32)
        return cls(*(np.array(c, dtype=d) for c, d in zip(cols, dtypes, strict=True)))


class Records(NamedTuple):
    aggregate: np.ndarray  # (T, AGG_FIXED + K) per-step aggregates
    state_credibility: np.ndarray  # (T, N, K), or (0, N, K) when per-state series are off
    state_tension: np.ndarray  # (T, N), or (0, N)

    @classmethod
    def empty(cls, steps: int, n_states: int, n_norms: int, per_state: bool) -> Records:
        ts = steps if per_state else 0
        return cls(
            aggregate=np.zeros((steps, AGG_FIXED + n_norms), np.float64),
            state_credibility=np.zeros((ts, n_states, n_norms), np.float64),
            state_tension=np.zeros((ts, n_states), np.float64),
        )

    def grown(self, steps: int) -> Records:
        per_state = self.state_credibility.shape[0] > 0
        bigger = Records.empty(
            steps, self.state_tension.shape[1], self.state_credibility.shape[2], per_state
        )
        for old, new in zip(self, bigger, strict=True):
            new[: old.shape[0]] = old
        return bigger
