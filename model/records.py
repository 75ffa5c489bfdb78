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
    "binding_state",
)


def _dates(scenario: Scenario, steps: np.ndarray) -> np.ndarray:
    """Months as "YYYY-MM" ("" for -1), by lookup in a table of the months that occur."""
    steps = np.asarray(steps, dtype=np.int64)
    last = int(steps.max()) if steps.size else -1
    table = np.array([""] + [str(scenario.date_of(t)) for t in range(last + 1)], dtype=object)
    return table[steps + 1]


def spell_arrays(spells: SpellTable, steps_done: int) -> dict[str, np.ndarray]:
    """The used rows of a spell table as plain arrays, with durations and censoring.

    A spell active after the last step (``steps_done - 1``) is right-censored there.
    """
    n = int(spells.count[0])
    start = spells.start[:n].astype(np.int64)
    formal = spells.formal_end[:n].astype(np.int64)
    functional = spells.functional_end[:n].astype(np.int64)
    last = steps_done - 1
    ended = formal >= 0
    hollowed = functional >= 0
    return {
        "spell": np.arange(n, dtype=np.int64),
        "member_a": spells.member_a[:n].astype(np.int64),
        "member_b": spells.member_b[:n].astype(np.int64),
        "treaty": spells.treaty[:n].copy(),
        "term_months": spells.term[:n].astype(np.int64),
        "initial_strength": spells.initial_strength[:n].copy(),
        "kappa": spells.kappa[:n].copy(),
        "start_step": start,
        "functional_end_step": functional,
        "formal_end_step": formal,
        "duration": np.where(ended, formal, last) - start,
        "event": ended.astype(np.int64),
        "functional_duration": np.where(hollowed, functional, last) - start,
        "functional_event": hollowed.astype(np.int64),
        "cause": spells.cause[:n].astype(np.int64),
        "binding": spells.binding[:n].astype(np.int64),
    }


def spells_frame_from_arrays(
    scenario: Scenario, arrays: dict[str, np.ndarray], run_id: np.ndarray, seed: np.ndarray
) -> pd.DataFrame:
    """The spells table (docs/outputs.md) from :func:`spell_arrays` output, possibly
    concatenated over runs, with each row's run id and seed."""
    names = np.array(scenario.state_names, dtype=object)
    causes = np.array(CAUSE_NAMES, dtype=object)
    return pd.DataFrame(
        {
            "run_id": np.asarray(run_id, dtype=np.int64),
            "seed": np.asarray(seed, dtype=np.uint64),
            "spell": arrays["spell"],
            "state_a": names[arrays["member_a"]],
            "state_b": names[arrays["member_b"]],
            "kind": np.where(arrays["treaty"], "treaty", "pact"),
            "term_months": arrays["term_months"],
            "initial_strength": arrays["initial_strength"],
            "kappa": arrays["kappa"],
            "start_step": arrays["start_step"],
            "start_date": _dates(scenario, arrays["start_step"]),
            "functional_end_step": arrays["functional_end_step"],
            "functional_end_date": _dates(scenario, arrays["functional_end_step"]),
            "formal_end_step": arrays["formal_end_step"],
            "formal_end_date": _dates(scenario, arrays["formal_end_step"]),
            "duration": arrays["duration"],
            "event": arrays["event"],
            "functional_duration": arrays["functional_duration"],
            "functional_event": arrays["functional_event"],
            "cause": causes[arrays["cause"]],
            "binding_state": np.where(
                arrays["binding"] == 0,
                names[arrays["member_a"]],
                np.where(arrays["binding"] == 1, names[arrays["member_b"]], ""),
            ),
        },
        columns=list(SPELL_COLUMNS),
    )


def spells_frame(
    scenario: Scenario, spells: SpellTable, steps_done: int, *, run_id: int = 0, seed: int = 0
) -> pd.DataFrame:
    """One row per spell of one run (see :func:`spell_arrays` for censoring)."""
    arrays = spell_arrays(spells, steps_done)
    n = len(arrays["spell"])
    return spells_frame_from_arrays(
        scenario, arrays, np.full(n, run_id, np.int64), np.full(n, seed, np.uint64)
    )


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


TWIN_WINDOW = 12  # months: a twin spell matches a factual one of the same pair starting this close
PIVOTAL_RATIO = 1.5


def match_twins(
    factual: dict[str, np.ndarray], twin: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Pair each factual spell with its credibility-frozen twin (MODEL.md §3 item 12).

    The twin of a spell is the twin run's spell of the same pair whose start is closest (within
    ±12 months; the earlier on a tie). For a factual spell that ended after ``d`` months:

    * ``pivotal`` = 1 when the twin is still active at the end of the run or lasts ≥ 1.5·d
      (freezing credibility would have saved it), else 0;
    * ``reverse`` = 1 when the twin ended ≥ 1.5× sooner (d/1.5 or less): the noise floor.

    Both are -1 ("not defined") for a censored factual spell or one without a twin.
    """
    n = len(factual["spell"])
    twin_duration = np.full(n, -1, np.int64)
    twin_event = np.full(n, -1, np.int64)
    pivotal = np.full(n, -1, np.int64)
    reverse = np.full(n, -1, np.int64)
    # Vectorised nearest-start search within each pair: sort the twin's spells by (pair, start)
    # and look at the neighbours of each factual spell's insertion point.
    span = 1 << 32
    twin_key = (twin["member_a"] * 65536 + twin["member_b"]) * span + twin["start_step"]
    order = np.argsort(twin_key, kind="stable")
    sorted_key = twin_key[order]
    key = (factual["member_a"] * 65536 + factual["member_b"]) * span + factual["start_step"]
    right = np.searchsorted(sorted_key, key, side="left")
    left = right - 1
    best = np.full(n, -1, np.int64)
    best_gap = np.full(n, TWIN_WINDOW + 1, np.int64)
    for candidate in (left, right):  # left first: the earlier start wins a tie
        valid = (candidate >= 0) & (candidate < len(sorted_key))
        index = np.where(valid, candidate, 0)
        same_pair = valid & (sorted_key[index] // span == key // span) if len(sorted_key) else valid
        gap = np.abs(sorted_key[index] - key) if len(sorted_key) else np.zeros(n, np.int64)
        better = same_pair & (gap < best_gap)
        best = np.where(better, order[index] if len(order) else -1, best)
        best_gap = np.where(better, gap, best_gap)
    found = best >= 0
    twin_duration[found] = twin["duration"][best[found]]
    twin_event[found] = twin["event"][best[found]]
    ended = found & (factual["event"] == 1)
    d = factual["duration"]
    survived = (twin_event == 0) | (twin_duration >= PIVOTAL_RATIO * d)
    pivotal[ended] = survived[ended].astype(np.int64)
    shorter = (twin_event == 1) & (twin_duration * PIVOTAL_RATIO <= d)
    reverse[ended] = shorter[ended].astype(np.int64)
    return {
        "twin_duration": twin_duration,
        "twin_event": twin_event,
        "pivotal": pivotal,
        "reverse": reverse,
    }


TWIN_COLUMNS = ("twin_duration", "twin_event", "pivotal", "reverse")


def add_twin_columns(frame: pd.DataFrame, twin_columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Append the twin columns; -1 ("not defined") becomes an empty cell."""
    out = frame.copy()
    for name in TWIN_COLUMNS:
        values = pd.array(twin_columns[name], dtype="Int64")
        values[twin_columns[name] < 0] = pd.NA
        out[name] = values
    return out
