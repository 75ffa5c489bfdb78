"""Tables of a finished (or paused) run: spells, per-step aggregates and per-state series.

These are the documented results format (docs/outputs.md): one row per partnership spell,
lifelines-ready (``duration`` in months, ``event`` 1 = ended, 0 = right-censored).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.arrays import AGGREGATE_COLUMNS, CAUSE_NAMES, Records, SpellTable
from model.scenario import Scenario

SPELL_COLUMNS = (
    "run_id",
    "seed",
    "spell",
    "state_a",
    "state_b",
    "kind",
    "term_months",
    "initial_strength",
    "kappa",
    "start_step",
    "start_date",
    "functional_end_step",
    "functional_end_date",
    "formal_end_step",
    "formal_end_date",
    "duration",
    "event",
    "functional_duration",
    "functional_event",
    "cause",
)


def _dates(scenario: Scenario, steps: np.ndarray) -> list[str]:
    return ["" if s < 0 else str(scenario.date_of(int(s))) for s in steps]


def spells_frame(
    scenario: Scenario, spells: SpellTable, steps_done: int, *, run_id: int = 0, seed: int = 0
) -> pd.DataFrame:
    """One row per spell. A spell active after the last step is censored at step ``steps_done-1``."""
    n = int(spells.count[0])
    names = np.array(scenario.state_names, dtype=object)
    start = spells.start[:n].astype(np.int64)
    formal = spells.formal_end[:n].astype(np.int64)
    functional = spells.functional_end[:n].astype(np.int64)
    last = steps_done - 1
    ended = formal >= 0
    hollowed = functional >= 0
    frame = pd.DataFrame(
        {
            "run_id": np.full(n, run_id, dtype=np.int64),
            "seed": np.full(n, seed, dtype=object),
            "spell": np.arange(n, dtype=np.int64),
            "state_a": names[spells.member_a[:n]],
            "state_b": names[spells.member_b[:n]],
            "kind": np.where(spells.treaty[:n], "treaty", "pact"),
            "term_months": spells.term[:n].astype(np.int64),
            "initial_strength": spells.initial_strength[:n],
            "kappa": spells.kappa[:n],
            "start_step": start,
            "start_date": _dates(scenario, start),
            "functional_end_step": functional,
            "functional_end_date": _dates(scenario, functional),
            "formal_end_step": formal,
            "formal_end_date": _dates(scenario, formal),
            "duration": np.where(ended, formal, last) - start,
            "event": ended.astype(np.int64),
            "functional_duration": np.where(hollowed, functional, last) - start,
            "functional_event": hollowed.astype(np.int64),
            "cause": [CAUSE_NAMES[c] for c in spells.cause[:n]],
        },
        columns=list(SPELL_COLUMNS),
    )
    return frame


def timeseries_frame(scenario: Scenario, records: Records, steps_done: int) -> pd.DataFrame:
    """Per-step aggregates: partnerships, strength, tension and mean credibility per norm."""
    columns = list(AGGREGATE_COLUMNS) + [f"credibility_{k}" for k in scenario.norms]
    frame = pd.DataFrame(records.aggregate[:steps_done], columns=columns)
    for c in ("active_partnerships", "hollow_partnerships"):
        frame[c] = frame[c].astype(np.int64)
    frame.insert(0, "date", _dates(scenario, np.arange(steps_done)))
    frame.insert(0, "step", np.arange(steps_done, dtype=np.int64))
    return frame


def states_frame(scenario: Scenario, records: Records, steps_done: int) -> pd.DataFrame:
    """Per-state series in long form: one row per (step, state) with tension and credibility."""
    if records.state_credibility.shape[0] == 0:
        raise ValueError("this run did not record per-state series (record_states=False)")
    n = len(scenario.states)
    steps = np.repeat(np.arange(steps_done, dtype=np.int64), n)
    frame = pd.DataFrame(
        {
            "step": steps,
            "date": _dates(scenario, steps),
            "state": np.tile(np.array(scenario.state_names, dtype=object), steps_done),
            "tension": records.state_tension[:steps_done].reshape(-1),
        }
    )
    cred = records.state_credibility[:steps_done].reshape(steps_done * n, -1)
    for k, norm in enumerate(scenario.norms):
        frame[f"credibility_{norm}"] = cred[:, k]
    return frame
