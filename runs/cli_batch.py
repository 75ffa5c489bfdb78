"""``alliance batch``: sweeps × replicates into a resumable results folder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from model.parameters import ParameterError
from runs.cli import build_scenario, event_option, set_option, user_errors


def _split_assignments(items: tuple[str, ...], flag: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise ParameterError(f"{flag} {item!r}: expected NAME=VALUES")
        out.append((name.strip(), raw.strip()))
    return out


def _grid(items: tuple[str, ...]) -> dict[str, list[float]]:
    grid = {}
    for name, raw in _split_assignments(items, "--grid"):
        try:
            grid[name] = [float(v) for v in raw.split(",") if v.strip()]
        except ValueError:
            raise ParameterError(f"--grid {name}={raw}: expected comma-separated numbers") from None
    return grid


def _lhs(items: tuple[str, ...]) -> dict[str, list[float]]:
    lhs = {}
    for name, raw in _split_assignments(items, "--lhs"):
        low, sep, high = raw.partition(":")
        try:
            lhs[name] = [float(low), float(high)]
        except ValueError:
            raise ParameterError(f"--lhs {name}={raw}: expected LOW:HIGH") from None
    return lhs


def experiment_from_arguments(
    sweep_file,
    scenario,
    replicates,
    steps,
    seed,
    grid,
    lhs,
    samples,
    sets,
    events,
    series,
    per_state,
    twins,
):
    """Merge a sweep file (if any) with the command-line flags (flags win) and validate."""
    from runs.experiment import Experiment, parse_sweep_file, sweep_from_dict

    base = parse_sweep_file(sweep_file) if sweep_file else sweep_from_dict({}, "command line")
    data = {
        "batch": {
            "scenario": scenario or base.scenario,
            "replicates": replicates or base.replicates,
            "master_seed": base.master_seed if seed is None else seed,
            "events": list(base.events) + list(events),
            "samples": samples or base.samples,
        },
        "parameters": {**base.fixed},
        "grid": {**base.grid, **_grid(grid)},
        "lhs": {**{k: list(v) for k, v in base.lhs.items()}, **_lhs(lhs)},
    }
    if steps or base.steps:
        data["batch"]["steps"] = steps or base.steps
    for name, value in _split_assignments(sets, "--set"):
        try:
            data["parameters"][name] = float(value)
        except ValueError:
            raise ParameterError(f"--set {name}={value}: expected a number") from None
    where = sweep_file or "command line"
    sweep = sweep_from_dict(data, str(where), base.text)
    spec = build_scenario(sweep.scenario, (), tuple(sweep.events), (), sweep.steps)
    return Experiment(
        scenario=spec,
        points=sweep.points(),
        replicates=sweep.replicates,
        steps=sweep.steps,
        master_seed=sweep.master_seed,
        twins=twins,
        series=series,
        per_state=per_state,
        sweep_text=base.text or _describe(data),
    )


def _describe(data: dict) -> str:
    import tomli_w

    return tomli_w.dumps(data)


def experiment_from_plan(out: Path):
    """Rebuild the experiment recorded in a results folder's batch.json (for --resume)."""
    from model.scenario import scenario_from_text
    from runs.batch import read_plan
    from runs.experiment import Experiment

    plan = read_plan(out)
    spec = scenario_from_text(
        plan["scenario_text"], tuple(plan["overlays"]), source=f"{out}/batch.json"
    )
    return Experiment(
        scenario=spec,
        points=tuple(plan["points"]),
        replicates=plan["replicates"],
        steps=plan["steps"],
        master_seed=plan["master_seed"],
        twins=plan["twins"],
        series=plan["series"],
        per_state=plan["per_state"],
        sweep_text=plan["sweep_text"],
        frozen_states=tuple(plan.get("frozen_states", ())),
    )


@click.command()
@click.argument("sweep_file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--scenario",
    help="Scenario name or TOML path [default: the sweep file's, else russia-dprk-2023].",
)
@click.option(
    "--replicates", type=click.IntRange(min=1), help="Runs per sweep point [default: 10]."
)
@click.option(
    "--steps", type=click.IntRange(min=1), help="Months per run [default: the scenario's horizon]."
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Master seed; run seeds are its SeedSequence children [default: 0].",
)
@click.option(
    "--grid",
    multiple=True,
    metavar="NAME=V1,V2,...",
    help="Full-factorial values of a parameter (repeatable).",
)
@click.option(
    "--lhs",
    multiple=True,
    metavar="NAME=LOW:HIGH",
    help="Latin-hypercube range of a parameter (repeatable).",
)
@click.option("--samples", type=click.IntRange(min=1), help="Latin-hypercube samples.")
@set_option
@event_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results folder [default: results/batch-SCENARIO-seedSEED].",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Finish an interrupted batch in this folder (all other options come from its batch.json).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "serial", "dask"]),
    default="local",
    show_default=True,
    help="local: worker processes here; dask: a LocalCluster, or --scheduler's cluster.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Worker processes (local or LocalCluster).",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="Join an existing Dask cluster (implies --engine dask).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    help="Runs per task [default: n_runs/16, at most 500].",
)
@click.option(
    "--series",
    type=click.Choice(["point", "run", "none"]),
    default="point",
    show_default=True,
    help="point: timeseries.csv holds mean/sd per sweep point and month; "
    "run: every run's series instead (run_series.csv); none: neither.",
)
@click.option(
    "--per-state",
    is_flag=True,
    help="Also states.csv: mean/sd credibility and tension per point, month and state.",
)
@click.option(
    "--twins", is_flag=True, help="Pair every run with its credibility-frozen twin (pivotality)."
)
@click.option("--parquet", is_flag=True, help="Also write Parquet copies of the tables.")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
@user_errors
def batch(
    sweep_file,
    scenario,
    replicates,
    steps,
    seed,
    grid,
    lhs,
    samples,
    sets,
    events,
    out,
    resume,
    engine,
    workers,
    scheduler,
    chunk_size,
    series,
    per_state,
    twins,
    parquet,
    quiet,
):
    """Run sweeps × replicates and write lifelines-ready survival records.

    SWEEP_FILE is an optional TOML file ([batch], [parameters], [grid], [lhs]; see docs/batch.md);
    flags override it. Interrupted batches (Ctrl-C, a crash, kill -9) keep every finished chunk:
    `alliance batch --resume DIR` finishes them with identical results.
    """
    from runs.batch import run_batch
    from runs.engine import make_engine

    if resume:
        experiment = experiment_from_plan(resume)
        out = resume
    else:
        experiment = experiment_from_arguments(
            sweep_file,
            scenario,
            replicates,
            steps,
            seed,
            grid,
            lhs,
            samples,
            sets,
            events,
            series,
            per_state,
            twins,
        )
        out = (
            out
            or Path("results") / f"batch-{experiment.scenario.name}-seed{experiment.master_seed}"
        )
    runner = make_engine(engine, workers, scheduler)
    try:
        result = run_batch(
            experiment,
            out,
            engine=runner,
            chunk_size=chunk_size,
            resume=bool(resume),
            progress=not quiet,
            parquet=parquet,
        )
    except KeyboardInterrupt:
        click.echo(
            f"alliance: interrupted; finished chunks are kept in {out}/chunks. "
            f"Resume with: alliance batch --resume {out}",
            err=True,
        )
        sys.exit(130)
    finally:
        runner.close()
    if not quiet:
        counts = result.counts
        click.echo(
            f"{counts['runs']} runs ({len(experiment.points)} points x "
            f"{experiment.replicates} replicates), "
            f"{counts['runs_failed']} failed; {counts['spells']} spells, "
            f"{counts['spells_ended']} ended, {counts['spells'] - counts['spells_ended']} censored."
        )
        if result.first_failure:
            run_id, error = result.first_failure
            click.echo(f"First failure (run {run_id}): {error}")
        click.echo(f"Results in {out}/ (runs.csv, spells.csv, timeseries.csv, metadata.json)")


__all__ = ["batch"]
