"""``alliance validate``: run a scenario's replicates and set the simulated dates of each
``[[history]]`` partnership beside the record (statistics: analysis/validation.py).

Files written to ``--out`` (docs/scenarios.md, "Validating a scenario"):

* ``validation.csv`` — one row per (historical partnership, measure ∈ start, functional_end,
  formal_end): median and 10–90% dates, shares occurred / censored / in the historical window;
* ``validation.json`` — the same plus the causes of the formal end, the hollow phase, the
  ``active_through`` check, and which inputs are record and which judgement;
* ``history_spells.csv`` — each run's first spell of each historical pair (the spell columns of
  docs/outputs.md plus ``run_id`` and ``seed``), to check any number above by hand.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.validation import ValidationReport, first_spells, validation_report
from model.scenario import Scenario
from runs.batch import run_experiment
from runs.engine import LocalEngine
from runs.experiment import Experiment
from runs.output import atomic_write_csv, atomic_write_json, git_revision, now_utc, versions

DEFAULT_REPLICATES = 1000


def validate(
    scenario: Scenario,
    *,
    replicates: int = DEFAULT_REPLICATES,
    master_seed: int = 0,
    workers: int = 1,
    steps: int | None = None,
    progress: bool = False,
) -> tuple[ValidationReport, pd.DataFrame]:
    """Run ``replicates`` runs of ``scenario`` and compare them with its ``[[history]]``.

    Returns the report and the spells of every run (the batch's spells table). Seeds are the
    batch engine's (child ``r`` of ``SeedSequence(master_seed)``), so a validation's runs are
    the runs of ``alliance batch`` with the same scenario, replicates and seed.
    """
    experiment = Experiment(
        scenario=scenario,
        points=({},),
        replicates=replicates,
        steps=steps,
        master_seed=master_seed,
        series="none",
    )
    result = run_experiment(experiment, engine=LocalEngine(workers), progress=progress)
    ok = result.runs["status"] == "ok"
    report = validation_report(
        scenario,
        result.spells,
        runs=int(ok.sum()),
        steps=experiment.horizon,
        master_seed=master_seed,
        failed_runs=int((~ok).sum()),
    )
    return report, result.spells


def write_validation(
    report: ValidationReport, spells: pd.DataFrame, scenario: Scenario, out: Path
) -> None:
    """Write validation.csv, validation.json and history_spells.csv to ``out`` (which exists)."""
    out = Path(out)
    atomic_write_csv(out / "validation.csv", report.to_frame())
    frames = []
    for record in scenario.history:
        first = first_spells(spells, record.members)
        frames.append(first)
    history = pd.concat(frames, ignore_index=True) if frames else spells.iloc[0:0]
    atomic_write_csv(out / "history_spells.csv", history)
    payload = {
        **report.to_dict(),
        "scenario_source": scenario.source,
        "scenario_text": scenario.text,
        "versions": versions(),
        "git_revision": git_revision(),
        "created": now_utc(),
    }
    atomic_write_json(out / "validation.json", payload)
