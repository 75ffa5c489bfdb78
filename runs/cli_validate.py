"""``alliance validate``: simulated partnership dates beside the historical record.

Registered on the ``alliance`` group in runs/cli.py. Heavy imports (the kernel, pandas, the batch
engine) happen inside the command, so ``alliance --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from runs.cli import (
    UserError,
    build_scenario,
    event_option,
    overlay_option,
    set_option,
    user_errors,
)


@click.command()
@click.argument("scenario", required=False)
@click.option(
    "--replicates",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Runs to simulate.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Master seed: run r uses child r of SeedSequence(seed), as in alliance batch.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes on this machine.",
)
@set_option
@event_option
@overlay_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Folder for validation.csv, validation.json and history_spells.csv.",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and write --out).")
@click.option(
    "--acceptance",
    is_flag=True,
    help="Instead of one SCENARIO: MODEL.md §6's acceptance behaviours A1–A3 beside their targets "
    "(default replicates 200 here); --set changes every scenario alike.",
)
@user_errors
def validate(
    scenario, replicates, seed, workers, sets, events, overlays, out, quiet, acceptance
) -> None:
    """Run SCENARIO's replicates and compare each [[history]] partnership's simulated start,
    functional end and formal end (median, 10–90% band, share in the historical window, share
    not reached by the last month) with the dated record; list which inputs are historical
    fact and which judgement.

    SCENARIO is a built-in name (russia-dprk-2023, sino-soviet-1950, ...) or a TOML file.
    With --event or --overlay, the counterfactual world is set beside the same record.
    """
    from runs.output import prepare_output_dir
    from runs.validate import validate as run_validation
    from runs.validate import write_validation

    if acceptance:
        if scenario is not None or events or overlays:
            raise UserError(
                "validate --acceptance: runs its own scenarios; expected no SCENARIO, --event or "
                "--overlay (--set applies to every scenario alike)"
            )
        _acceptance(replicates, seed, workers, sets, out, quiet)
        return
    if scenario is None:
        raise UserError("validate: expected a SCENARIO (e.g. sino-soviet-1950) or --acceptance")
    spec = build_scenario(scenario, sets, events, overlays)
    if not spec.history:
        raise UserError(
            f"{spec.source}: no [[history]] entries; expected at least one partnership with "
            "historical dates to validate against (docs/scenarios.md)"
        )
    if out is not None:
        out = prepare_output_dir(out)  # fail on an unwritable folder before any work
    report, spells = run_validation(
        spec, replicates=replicates, master_seed=seed, workers=workers, progress=not quiet
    )
    if out is not None:
        write_validation(report, spells, spec, out)
    if not quiet:
        click.echo(report.format())
        if out is not None:
            click.echo(f"\nwrote {out}/validation.csv, validation.json, history_spells.csv")


def _acceptance(replicates, seed, workers, sets, out, quiet) -> None:
    from click.core import ParameterSource

    from runs.acceptance import acceptance_report
    from runs.cli import _parse_sets
    from runs.output import atomic_write_csv, prepare_output_dir

    context = click.get_current_context()
    if context.get_parameter_source("replicates") == ParameterSource.DEFAULT:
        replicates = 200
    if out is not None:
        out = prepare_output_dir(out)
    parameters = _parse_sets(sets)
    if parameters:
        from model.parameters import Parameters

        Parameters().replace(**parameters)  # an unknown name or bad value fails before any run
    table = acceptance_report(
        replicates=replicates, seed=seed, workers=workers, parameters=parameters
    )
    if out is not None:
        atomic_write_csv(out / "acceptance.csv", table)
    if not quiet:
        click.echo(f"MODEL.md §6 acceptance behaviours, {replicates} runs each, master seed {seed}")
        if parameters:
            changed = ", ".join(f"{k}={v:g}" for k, v in parameters.items())
            click.echo(f"  parameters changed in every scenario alike: {changed}")
        for r in table.itertuples():
            mark = "met " if r.met else "MISS"
            click.echo(f"  [{mark}] {r.behaviour}: target {r.target}; measured {r.measured}")
