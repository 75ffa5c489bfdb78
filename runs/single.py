"""One simulation run, written to a results folder (``alliance run``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.alliance_model import AllianceModel
from model.records import add_twin_columns, match_twins, spell_arrays
from model.scenario import Scenario
from runs.output import (
    FORMAT_VERSION,
    atomic_write_csv,
    atomic_write_json,
    git_revision,
    now_utc,
    prepare_output_dir,
    versions,
)


@dataclass
class RunResult:
    model: AllianceModel
    spells: pd.DataFrame
    timeseries: pd.DataFrame
    states: pd.DataFrame
    out: Path | None


def run_single(
    scenario: Scenario,
    *,
    seed: int = 0,
    steps: int | None = None,
    out: Path | None = None,
    twins: bool = False,
) -> RunResult:
    """Run ``scenario`` once with ``seed`` (whole-run fast path); write files when ``out`` is set.

    Files: ``spells.csv``, ``timeseries.csv``, ``states.csv`` and ``run.json`` (docs/outputs.md).
    Each file is written atomically, ``run.json`` last, so a folder with a ``run.json`` is complete.
    With ``twins``, the run is repeated with credibility frozen (same seed, same draws) and
    ``spells.csv`` gains the twin's duration and the pivotality flags (MODEL.md §3 item 12).
    """
    if out is not None:
        out = prepare_output_dir(out)
    model = AllianceModel(scenario=scenario, steps=steps, rng=seed)
    model.simulate()
    spells = model.spells_frame(run_id=0, seed=seed)
    if twins:
        twin = AllianceModel(
            scenario=scenario, steps=steps, rng=seed, frozen=True, record_states=False
        )
        twin.simulate()
        columns = match_twins(
            spell_arrays(model.spells, model.steps_done), spell_arrays(twin.spells, twin.steps_done)
        )
        spells = add_twin_columns(spells, columns)
    result = RunResult(
        model=model,
        spells=spells,
        timeseries=model.timeseries_frame(),
        states=model.states_frame(),
        out=out,
    )
    if out is not None:
        atomic_write_csv(out / "spells.csv", result.spells)
        atomic_write_csv(out / "timeseries.csv", result.timeseries)
        atomic_write_csv(out / "states.csv", result.states)
        atomic_write_json(out / "run.json", {**run_metadata(model, seed), "twins": twins})
    return result


def run_metadata(model: AllianceModel, seed: int) -> dict:
    spec = model.scenario_spec
    return {
        "format_version": FORMAT_VERSION,
        "kind": "run",
        "created": now_utc(),
        "scenario": spec.name,
        "scenario_source": spec.source,
        "scenario_text": spec.text,
        "overlays": list(spec.applied_overlays),
        "start": str(spec.start),
        "steps": model.steps_done,
        "seed": seed,
        "run_seed": int(model.run_seed),
        "parameters": spec.parameters.as_dict(),
        "versions": versions(),
        "git_revision": git_revision(),
    }
