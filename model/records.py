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


_MONTH_NAMES: dict = {}  # scenario start month -> ["", "YYYY-MM" of step 0, 1, ...] (read-only)


def _dates(scenario: Scenario, steps: np.ndarray) -> np.ndarray:
    """Months as "YYYY-MM" ("" for -1), by lookup in a table of the months from the start (kept
    per start month, so a batch formats each month once)."""
    steps = np.asarray(steps, dtype=np.int64)
    last = int(steps.max()) if steps.size else -1
    table = _MONTH_NAMES.get(scenario.start)
    if table is None or len(table) < last + 2:
        months = max(last + 1, 2 * (len(table) - 1) if table is not None else 0)
        table = np.array([""] + [str(scenario.date_of(t)) for t in range(months)], dtype=object)
        table.flags.writeable = False
        _MONTH_NAMES[scenario.start] = table
    return table[steps + 1]


def spell_arrays(spells: SpellTable, steps_done: int) -> dict[str, np.ndarray]:
    """The used rows of a spell table as plain arrays, with durations and censoring.

    A spell active after the last step (``steps_done - 1``) is right-censored there.
    """
    n = int(spells.count[0])
    raw = {name: getattr(spells, name)[:n].copy() for name in SpellRows.COLUMNS}
    return _spell_columns(raw, np.arange(n, dtype=np.int64), steps_done)


class SpellRows:
    """The used rows of many runs' spell tables, gathered run by run (a copy of each column's
    rows, so the table can be reused) and turned into :func:`spell_arrays` output once: the
    concatenation of each run's :func:`spell_arrays`, at one call's cost."""

    COLUMNS = (
        "member_a",
        "member_b",
        "treaty",
        "term",
        "initial_strength",
        "kappa",
        "start",
        "functional_end",
        "formal_end",
        "cause",
        "binding",
    )

    def __init__(self, columns: tuple[str, ...] = COLUMNS) -> None:
        self.columns = columns
        self.parts: list[list[np.ndarray]] = [[] for _ in columns]
        self.counts: list[int] = []

    def add(self, spells: SpellTable) -> None:
        """Gather the used rows of ``spells`` (one run's)."""
        n = int(spells.count[0])
        columns = [getattr(spells, name)[:n].copy() for name in self.columns]
        for part, column in zip(self.parts, columns, strict=True):
            part.append(column)
        self.counts.append(n)

    def arrays(self, steps_done: int) -> dict[str, np.ndarray]:
        """:func:`spell_arrays` of every gathered table (all ran ``steps_done``), concatenated;
        the runs' numbers of rows are :attr:`counts`."""
        empty = SpellTable.empty(1, 1)
        raw = {
            name: np.concatenate([getattr(empty, name)[:0], *part])
            for name, part in zip(self.columns, self.parts, strict=True)
        }
        counts = np.array(self.counts, dtype=np.int64)
        total = int(counts.sum())
        first_row = np.repeat(np.cumsum(counts) - counts, counts)
        return _spell_columns(raw, np.arange(total, dtype=np.int64) - first_row, steps_done)


def _spell_columns(
    raw: dict[str, np.ndarray], spell: np.ndarray, steps_done: int
) -> dict[str, np.ndarray]:
    """:func:`spell_arrays`'s columns from copies of the used rows of a table's columns; with
    only :data:`TWIN_SPELL_COLUMNS`, those that :func:`match_twins` reads."""
    start = raw["start"].astype(np.int64)
    formal = raw["formal_end"].astype(np.int64)
    last = steps_done - 1
    ended = formal >= 0
    duration = np.where(ended, formal, last) - start
    if "functional_end" not in raw:
        return {
            "spell": spell,
            "member_a": raw["member_a"].astype(np.int64),
            "member_b": raw["member_b"].astype(np.int64),
            "start_step": start,
            "duration": duration,
            "event": ended.astype(np.int64),
        }
    functional = raw["functional_end"].astype(np.int64)
    hollowed = functional >= 0
    return {
        "spell": spell,
        "member_a": raw["member_a"].astype(np.int64),
        "member_b": raw["member_b"].astype(np.int64),
        "treaty": raw["treaty"],
        "term_months": raw["term"].astype(np.int64),
        "initial_strength": raw["initial_strength"],
        "kappa": raw["kappa"],
        "start_step": start,
        "functional_end_step": functional,
        "formal_end_step": formal,
        "duration": duration,
        "event": ended.astype(np.int64),
        "functional_duration": np.where(hollowed, functional, last) - start,
        "functional_event": hollowed.astype(np.int64),
        "cause": raw["cause"].astype(np.int64),
        "binding": raw["binding"].astype(np.int64),
    }


# What match_twins reads of a twin run's spells.
TWIN_SPELL_COLUMNS = ("member_a", "member_b", "start", "formal_end")


def spells_frame_from_arrays(
    scenario: Scenario,
    arrays: dict[str, np.ndarray],
    run_id: np.ndarray,
    seed: np.ndarray,
    *,
    point_id: np.ndarray | None = None,
    twin_columns: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The spells table (docs/outputs.md) from :func:`spell_arrays` output, possibly
    concatenated over runs, with each row's run id and seed; with ``point_id``, a first column
    of it, and with ``twin_columns`` (:func:`match_twins` output), the twin columns last, as
    :func:`add_twin_columns` would add them (one table built, not three).

    The table holds the given arrays where it can (not copies), and is left unconsolidated:
    pandas would copy every column twice to merge them into one 2-D block per type, which
    writing, pickling and concatenating the table do not need (they take as long either way).
    """
    names = np.array(scenario.state_names, dtype=object)
    causes = np.array(CAUSE_NAMES, dtype=object)
    kinds = np.array(["pact", "treaty"], dtype=object)
    # binding_state: state_a for side 0, state_b for side 1, else "" (one lookup, by index)
    names_or_blank = np.array([*scenario.state_names, ""], dtype=object)
    binding = arrays["binding"]
    binding_state = np.where(
        binding == 0,
        arrays["member_a"],
        np.where(binding == 1, arrays["member_b"], len(scenario.state_names)),
    )
    first = {} if point_id is None else {"point_id": np.asarray(point_id, dtype=np.int64)}
    last = {} if twin_columns is None else _twin_arrays(twin_columns)
    return pd.DataFrame(
        {
            **first,
            "run_id": np.asarray(run_id, dtype=np.int64),
            "seed": np.asarray(seed, dtype=np.uint64),
            "spell": arrays["spell"],
            "state_a": names[arrays["member_a"]],
            "state_b": names[arrays["member_b"]],
            "kind": kinds[arrays["treaty"].astype(np.intp)],
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
            "binding_state": names_or_blank[binding_state],
            **last,
        },
        columns=[*first, *SPELL_COLUMNS, *last],
        copy=False,
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


KEY_LIMIT = 2**62  # match_twins_of_runs: the largest search key, then run by run
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
    # Vectorised nearest-start search within each pair: sort the twin's spells by (pair, start)
    # and look at the neighbours of each factual spell's insertion point.
    span = 1 << 32
    twin_key = (twin["member_a"] * 65536 + twin["member_b"]) * span + twin["start_step"]
    key = (factual["member_a"] * 65536 + factual["member_b"]) * span + factual["start_step"]
    return _match_sorted(factual, twin, key, twin_key, span)


def match_twins_of_runs(
    factual: dict[str, np.ndarray],
    twin: dict[str, np.ndarray],
    factual_counts: list[int],
    twin_counts: list[int],
) -> dict[str, np.ndarray]:
    """:func:`match_twins` of many runs at once: ``factual`` and ``twin`` are runs' spells one
    after the other, ``*_counts`` the number of rows of each run (in the same run order); the
    result is the concatenation of each run's :func:`match_twins`.

    One search over all runs: the pair key of :func:`match_twins` becomes a dense code (same
    order, same ties), prefixed by the run's number.
    """
    factual_run = np.repeat(np.arange(len(factual_counts), dtype=np.int64), factual_counts)
    twin_run = np.repeat(np.arange(len(twin_counts), dtype=np.int64), twin_counts)
    pair_keys = np.concatenate(
        [
            factual["member_a"] * 65536 + factual["member_b"],
            twin["member_a"] * 65536 + twin["member_b"],
        ]
    )
    unique_pairs, code = np.unique(pair_keys, return_inverse=True)
    starts = np.concatenate([factual["start_step"], twin["start_step"]])
    span = int(starts.max()) + 1 if starts.size else 1  # start steps are >= 0
    groups = max(len(factual_counts), 1) * max(len(unique_pairs), 1)
    if groups * span >= KEY_LIMIT:  # keys would not fit in int64: one run at a time
        parts = []
        f_end, t_end = np.cumsum(factual_counts), np.cumsum(twin_counts)
        for f1, f2, t1, t2 in zip(
            f_end - factual_counts, f_end, t_end - twin_counts, t_end, strict=True
        ):
            parts.append(
                match_twins(
                    {k: v[f1:f2] for k, v in factual.items()},
                    {k: v[t1:t2] for k, v in twin.items()},
                )
            )
        return {
            name: np.concatenate([np.zeros(0, np.int64), *(p[name] for p in parts)])
            for name in TWIN_COLUMNS
        }
    n_factual = len(factual_run)
    group = np.concatenate([factual_run, twin_run]) * len(unique_pairs) + code
    keys = group * span + starts
    return _match_sorted(factual, twin, keys[:n_factual], keys[n_factual:], span)


def _match_sorted(
    factual: dict[str, np.ndarray],
    twin: dict[str, np.ndarray],
    key: np.ndarray,
    twin_key: np.ndarray,
    span: int,
) -> dict[str, np.ndarray]:
    """The search of :func:`match_twins` on keys ``group * span + start`` (group: the pair)."""
    n = len(key)
    twin_duration = np.full(n, -1, np.int64)
    twin_event = np.full(n, -1, np.int64)
    pivotal = np.full(n, -1, np.int64)
    reverse = np.full(n, -1, np.int64)
    order = np.argsort(twin_key, kind="stable")
    sorted_key = twin_key[order]
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


def _twin_arrays(
    twin_columns: dict[str, np.ndarray],
) -> dict[str, pd.api.extensions.ExtensionArray]:
    """The twin columns as nullable integers: -1 ("not defined") becomes missing."""
    out = {}
    for name in TWIN_COLUMNS:
        values = np.array(twin_columns[name], dtype=np.int64)  # a copy, as pd.array makes
        out[name] = pd.arrays.IntegerArray(values, values < 0)
    return out


def add_twin_columns(frame: pd.DataFrame, twin_columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Append the twin columns; -1 ("not defined") becomes an empty cell."""
    out = frame.copy()
    for name, values in _twin_arrays(twin_columns).items():
        out[name] = values
    return out
