"""Simulated partnership dates beside the historical record (``alliance validate``).

Pure statistics on a batch's spells table (docs/outputs.md) and a scenario's ``[[history]]``
entries; nothing here simulates (runs/validate.py runs the replicates and calls these).

For each historical partnership, every run contributes its *first* spell of that pair (a pair
that splits may re-form after the cooldown; the record is about the first). Dates are compared
as months. Every run of a batch shares one horizon, so censoring is administrative and the same
for all runs: an end not reached by the last month is simply *after the horizon*, and quantiles
over runs are exact empirical quantiles with those ends placed after every observed one (no
Kaplan–Meier needed). A quantile that falls among them is reported as "after" the last month.

The input-basis summary reads the scenario's own TOML text: ``basis = "fact"`` on ``[[events]]``
and ``[[partnerships]]`` marks the dated record (that the event happened, then); everything else
— every state number, every effect size, the implicates table, the parameters — is judgement
(docs/scenarios.md, "Facts and judgements").
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from model.parameters import Parameters
from model.scenario import HistoricalRecord, Month, Scenario

ABROGATION_CAUSES = ("interest", "principles", "entrapment")
FORMAL_CAUSES = ("expiry", "abrogation", "exogenous", "scenario")
MEASURES = ("start", "functional_end", "formal_end")


# --------------------------------------------------------------------------- dates over runs


@dataclass(frozen=True)
class DateDistribution:
    """Where one dated outcome (a start, a functional or a formal end) falls over the runs.

    Months are steps from the scenario's start; ``None`` for a quantile means "after the last
    simulated month" (the outcome had not happened by then in that share of runs or more).
    Shares are over all runs, including runs in which the pair never partnered.
    """

    measure: str
    runs: int
    occurred: int  # runs in which it happened within the horizon
    median: int | None
    p10: int | None
    p90: int | None
    window: tuple[int, int] | None  # the historical [earliest, latest] months, as steps
    in_window: float | None  # share of runs with the outcome inside the window (inclusive)

    @property
    def censored(self) -> float:
        """Share of runs in which it did not happen by the last month (or never could)."""
        return 1.0 - self.occurred / self.runs if self.runs else math.nan


def date_distribution(
    measure: str, steps: np.ndarray, runs: int, window: tuple[int, int] | None = None
) -> DateDistribution:
    """Quantiles and window share of ``steps`` (one per run; -1 or NaN: did not happen)."""
    values = np.asarray(steps, dtype=float)
    values = np.where(np.isnan(values) | (values < 0), np.inf, values)
    if len(values) < runs:  # runs with no spell of the pair at all
        values = np.concatenate([values, np.full(runs - len(values), np.inf)])
    occurred = int(np.isfinite(values).sum())

    def quantile(q: float) -> int | None:
        if runs == 0:
            return None
        v = float(np.quantile(values, q, method="inverted_cdf"))  # a sample value, never a blend
        return int(v) if math.isfinite(v) else None

    share = None
    if window is not None and runs:
        share = float(((values >= window[0]) & (values <= window[1])).sum() / runs)
    return DateDistribution(
        measure, runs, occurred, quantile(0.5), quantile(0.1), quantile(0.9), window, share
    )


def first_spells(spells: pd.DataFrame, members: tuple[str, str]) -> pd.DataFrame:
    """Each run's first spell of the pair (by start), one row per run that formed it."""
    a, b = members
    pair = spells[
        ((spells["state_a"] == a) & (spells["state_b"] == b))
        | ((spells["state_a"] == b) & (spells["state_b"] == a))
    ]
    return pair.sort_values(["run_id", "start_step", "spell"]).groupby("run_id").head(1)


@dataclass(frozen=True)
class PartnershipValidation:
    """The simulated dates of one historical partnership beside its record."""

    members: tuple[str, str]
    note: str
    runs: int
    formed: float  # share of runs in which the pair partnered at all
    start: DateDistribution
    functional_end: DateDistribution
    formal_end: DateDistribution
    formal_causes: dict[str, float]  # share of runs by cause of the formal end ("censored" too)
    hollow_months_median: float | None  # median months between functional and formal end
    hollow_share: float  # share of runs hollow for 12 months or more before the formal end
    active_through: Month | None = None
    active_through_share: float | None = None  # share of runs active and not hollow then
    record: dict[str, Any] = field(default_factory=dict)  # the historical dates, as text


def validate_partnership(
    record: HistoricalRecord, spells: pd.DataFrame, runs: int, scenario: Scenario, horizon: int
) -> PartnershipValidation:
    """Summarise the runs' first spell of ``record.members`` beside the record."""
    first = first_spells(spells, record.members)

    def window(span):
        return None if span is None else (scenario.step_of(span[0]), scenario.step_of(span[1]))

    start = date_distribution("start", first["start_step"].to_numpy(), runs, window(record.start))
    functional = date_distribution(
        "functional_end",
        first["functional_end_step"].to_numpy(),
        runs,
        window(record.functional_end),
    )
    formal = date_distribution(
        "formal_end", first["formal_end_step"].to_numpy(), runs, window(record.formal_end)
    )
    causes = {name: 0.0 for name in (*FORMAL_CAUSES, "censored", "never formed")}
    if runs:
        cause = first["cause"].where(first["event"] == 1, "censored")
        cause = cause.replace(dict.fromkeys(ABROGATION_CAUSES, "abrogation"))
        for name, count in cause.value_counts().items():
            causes[str(name)] = causes.get(str(name), 0.0) + count / runs
        causes["never formed"] = (runs - len(first)) / runs
    # Hollow phase: from the functional end to the formal end (or to the horizon if censored).
    ended = first[first["functional_end_step"] >= 0]
    stop = np.where(ended["formal_end_step"] >= 0, ended["formal_end_step"], horizon)
    hollow = stop - ended["functional_end_step"].to_numpy()
    hollow_median = float(np.median(hollow)) if len(hollow) else None
    hollow_share = float((hollow >= 12).sum() / runs) if runs else math.nan
    through_share = None
    if record.active_through is not None and runs:
        t = scenario.step_of(record.active_through)
        alive = (first["start_step"] <= t) & (
            (first["functional_end_step"] < 0) | (first["functional_end_step"] > t)
        )
        through_share = float(alive.sum() / runs)
    return PartnershipValidation(
        members=record.members,
        note=record.note,
        runs=runs,
        formed=len(first) / runs if runs else math.nan,
        start=start,
        functional_end=functional,
        formal_end=formal,
        formal_causes=causes,
        hollow_months_median=hollow_median,
        hollow_share=hollow_share,
        active_through=record.active_through,
        active_through_share=through_share,
        record={
            "start": _span_text(record.start),
            "functional_end": _span_text(record.functional_end),
            "formal_end": _span_text(record.formal_end),
            "active_through": None if record.active_through is None else str(record.active_through),
        },
    )


def _span_text(span: tuple[Month, Month] | None) -> str | None:
    if span is None:
        return None
    return str(span[0]) if span[0] == span[1] else f"{span[0]}..{span[1]}"


# --------------------------------------------------------------------------- facts and judgements


@dataclass(frozen=True)
class DatedInput:
    date: str
    name: str
    description: str
    source: str


@dataclass(frozen=True)
class InputBasis:
    """Which of a scenario's inputs are historical record and which are judgement."""

    facts: tuple[DatedInput, ...]  # events and partnerships marked basis = "fact"
    judged_events: tuple[DatedInput, ...]  # events and partnerships not so marked
    state_numbers: int  # numbers in [[states]] (power, risk, tension, vectors), all judgement
    effect_numbers: int  # values and intensities of event effects, all judgement
    implicates_numbers: int
    parameters_overridden: dict[str, float]  # [parameters] set by the scenario
    generated: bool = False  # a synthetic world: every input is drawn, none is history

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_STATE_SCALARS = ("power", "risk", "tension", "tension_initial")
_STATE_VECTORS = ("principles", "conduct", "needs", "needs_initial", "supply", "credibility")


def input_basis(scenario: Scenario) -> InputBasis:
    """Read the basis of every input from the scenario's TOML text."""
    if scenario.source.startswith("synthetic"):
        return InputBasis((), (), 0, 0, 0, {}, generated=True)
    data = tomllib.loads(scenario.text)
    facts, judged = [], []
    start = str(scenario.start)
    for entry in data.get("partnerships", []):
        item = DatedInput(
            str(Month.parse(entry.get("start", start))),
            "partnership " + "–".join(entry["members"]),
            f"{entry.get('kind', 'pact')}"
            + (f", {entry['term_years']}-year term" if entry.get("term_years") else ""),
            entry.get("source", ""),
        )
        (facts if entry.get("basis") == "fact" else judged).append(item)
    effect_numbers = 0
    for entry in data.get("events", []):
        item = DatedInput(
            str(Month.parse(entry["date"])),
            entry["name"],
            entry.get("description", ""),
            entry.get("source", ""),
        )
        (facts if entry.get("basis") == "fact" else judged).append(item)
        for effect in entry.get("effects", []):
            effect_numbers += sum(1 for key in ("value", "intensity", "strength") if key in effect)
    state_numbers = 0
    for entry in data.get("states", []):
        state_numbers += sum(1 for key in _STATE_SCALARS if key in entry)
        state_numbers += sum(len(entry.get(key, {})) for key in _STATE_VECTORS)
    implicates = sum(len(row) for row in data.get("implicates", {}).values())
    defaults = Parameters()
    overridden = {
        name: float(value)
        for name, value in data.get("parameters", {}).items()
        if float(value) != float(getattr(defaults, name))
    }
    return InputBasis(
        tuple(sorted(facts, key=lambda d: d.date)),
        tuple(sorted(judged, key=lambda d: d.date)),
        state_numbers,
        effect_numbers,
        implicates,
        overridden,
    )


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class ValidationReport:
    scenario: str
    title: str
    start: Month
    steps: int
    runs: int
    master_seed: int
    partnerships: tuple[PartnershipValidation, ...]
    inputs: InputBasis
    parameters: dict[str, float]
    failed_runs: int = 0

    def date(self, step: int | None) -> str:
        """A step as ``YYYY-MM``; ``None`` (after the horizon) as ``after YYYY-MM``."""
        if step is None:
            return f"after {self.start.plus(self.steps - 1)}"
        return str(self.start.plus(step))

    # -- tables

    def to_frame(self) -> pd.DataFrame:
        """One row per (partnership, measure): the CSV of ``alliance validate --out``."""
        rows = []
        for p in self.partnerships:
            for measure in MEASURES:
                d: DateDistribution = getattr(p, measure)
                rows.append(
                    {
                        "scenario": self.scenario,
                        "state_a": p.members[0],
                        "state_b": p.members[1],
                        "measure": measure,
                        "runs": p.runs,
                        "median_date": self.date(d.median),
                        "p10_date": self.date(d.p10),
                        "p90_date": self.date(d.p90),
                        "median_step": d.median,
                        "p10_step": d.p10,
                        "p90_step": d.p90,
                        "share_occurred": d.occurred / d.runs if d.runs else math.nan,
                        "share_censored": d.censored,
                        "historical": p.record[measure],
                        "share_in_window": d.in_window,
                    }
                )
        frame = pd.DataFrame(rows)
        for column in ("median_step", "p10_step", "p90_step"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: everything in the table, the causes, the hollow phase and inputs."""
        partnerships = []
        for p in self.partnerships:
            entry: dict[str, Any] = {
                "members": list(p.members),
                "note": p.note,
                "runs": p.runs,
                "formed_share": p.formed,
                "historical": p.record,
            }
            for measure in MEASURES:
                d: DateDistribution = getattr(p, measure)
                entry[measure] = {
                    "median": self.date(d.median),
                    "p10": self.date(d.p10),
                    "p90": self.date(d.p90),
                    "share_occurred": d.occurred / d.runs if d.runs else None,
                    "share_censored": d.censored,
                    "share_in_historical_window": d.in_window,
                }
            entry["formal_end"]["causes"] = p.formal_causes
            entry["hollow_phase"] = {
                "median_months": p.hollow_months_median,
                "share_of_runs_hollow_12_months_or_more": p.hollow_share,
            }
            if p.active_through is not None:
                entry["active_through"] = {
                    "month": str(p.active_through),
                    "share_active_and_not_hollow": p.active_through_share,
                }
            partnerships.append(entry)
        return {
            "kind": "validation",
            "scenario": self.scenario,
            "title": self.title,
            "start": str(self.start),
            "steps": self.steps,
            "runs": self.runs,
            "failed_runs": self.failed_runs,
            "master_seed": self.master_seed,
            "parameters": self.parameters,
            "partnerships": partnerships,
            "inputs": self.inputs.as_dict(),
        }

    # -- the printed table

    def format(self) -> str:
        """A readable report for the terminal."""
        last = self.start.plus(self.steps - 1)
        lines = [
            f"{self.title} ({self.scenario}): {self.runs} runs, master seed {self.master_seed}, "
            f"{self.start} to {last}",
        ]
        if self.failed_runs:
            lines.append(f"  warning: {self.failed_runs} runs failed and are left out")
        if not self.partnerships:
            lines.append("  no [[history]] entries: nothing to compare")
        for p in self.partnerships:
            lines.append("")
            lines.append(f"{p.members[0]}–{p.members[1]} (partnered in {_pct(p.formed)} of runs)")
            header = (
                f"  {'':<15} {'median':>8}  {'10–90% of runs':<20} {'in window':>9} "
                f"{'not by end':>10}   historical"
            )
            lines.append(header)
            for measure, label in (
                ("start", "start"),
                ("functional_end", "functional end"),
                ("formal_end", "formal end"),
            ):
                d: DateDistribution = getattr(p, measure)
                if measure == "start" and p.record["start"] is None:
                    continue
                band = f"{self._short(d.p10)} .. {self._short(d.p90)}"
                lines.append(
                    f"  {label:<15} {self._short(d.median):>8}  {band:<20} "
                    f"{_pct(d.in_window):>9} {_pct(d.censored):>10}   "
                    f"{p.record[measure] or 'none recorded'}"
                )
            causes = ", ".join(
                f"{name} {_pct(share)}" for name, share in p.formal_causes.items() if share > 0
            )
            lines.append(f"  formal end by: {causes}")
            if p.hollow_months_median is not None:
                lines.append(
                    f"  hollow phase (functional to formal end): median "
                    f"{p.hollow_months_median / 12:.1f} years; hollow for a year or more in "
                    f"{_pct(p.hollow_share)} of runs"
                )
            if p.active_through is not None:
                lines.append(
                    f"  active and not hollow in {p.active_through} (as on the record): "
                    f"{_pct(p.active_through_share)} of runs"
                )
        lines.append("")
        lines += self._format_inputs()
        return "\n".join(lines)

    def _short(self, step: int | None) -> str:
        return f">{self.start.plus(self.steps - 1)}" if step is None else str(self.start.plus(step))

    def _format_inputs(self) -> list[str]:
        basis = self.inputs
        if basis.generated:
            return ["Inputs: a generated (synthetic) world; no input is historical record."]
        lines = [
            f"Inputs that are historical record ({len(basis.facts)}; basis = fact: "
            "it happened, then):"
        ]
        lines += [f"  {d.date}  {d.name}" for d in basis.facts] or ["  none"]
        lines.append("Inputs that are judgement:")
        if basis.judged_events:
            lines.append(
                "  dated assumptions: "
                + "; ".join(f"{d.date} {d.name}" for d in basis.judged_events)
            )
        lines.append(
            f"  {basis.state_numbers} state numbers (power, risk, tension, principles, conduct, "
            f"needs, supply, credibility), {basis.effect_numbers} event effect sizes and "
            f"{basis.implicates_numbers} implicates entries: each with its reasoning in the "
            "scenario file"
        )
        if basis.parameters_overridden:
            changed = ", ".join(f"{k}={v:g}" for k, v in basis.parameters_overridden.items())
            lines.append(f"  parameters: model defaults except {changed}")
        else:
            lines.append(
                "  parameters: the model's defaults (model/parameters.py: one structural set, "
                "calibrated to ATOP), unchanged"
            )
        return lines


def _pct(share: float | None) -> str:
    return (
        "-"
        if share is None or (isinstance(share, float) and math.isnan(share))
        else f"{100 * share:.0f}%"
    )


def validation_report(
    scenario: Scenario,
    spells: pd.DataFrame,
    *,
    runs: int,
    steps: int,
    master_seed: int,
    failed_runs: int = 0,
) -> ValidationReport:
    """Compare the spells of a batch of ``runs`` runs with ``scenario.history``."""
    return ValidationReport(
        scenario=scenario.name,
        title=scenario.title,
        start=scenario.start,
        steps=steps,
        runs=runs,
        master_seed=master_seed,
        partnerships=tuple(
            validate_partnership(record, spells, runs, scenario, steps)
            for record in scenario.history
        ),
        inputs=input_basis(scenario),
        parameters=scenario.parameters.as_dict(),
        failed_runs=failed_runs,
    )
