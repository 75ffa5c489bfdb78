"""``alliance pivotality``: does the seed's claim hold in a scenario?"""

from __future__ import annotations

from pathlib import Path

import click

from runs.cli import build_scenario, event_option, scenario_option, set_option, user_errors
from runs.output import OutputError


@click.command()
@scenario_option
@click.option(
    "--pair",
    metavar="A,B",
    help="Focus on the spells of this pair, e.g. Russia,DPRK [default: all spells].",
)
@click.option("--replicates", type=click.IntRange(min=1), default=200, show_default=True)
@click.option(
    "--steps", type=click.IntRange(min=1), help="Months per run [default: the scenario's horizon]."
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Master seed."
)
@click.option(
    "--by-state/--no-by-state",
    default=True,
    show_default=True,
    help="Also freeze one state at a time (the pair's members, or every state) "
    "to see whose credibility carries the effect.",
)
@set_option
@event_option
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for pivotality.csv, spells.csv and the survival figure "
    "[default: results/pivotality-SCENARIO].",
)
@click.option("--quiet", is_flag=True)
@user_errors
def pivotality(
    scenario, pair, replicates, steps, seed, by_state, sets, events, workers, out, quiet
):
    """Share of partnership ends that are credibility-pivotal, against the noise floor.

    Each run is paired with its credibility-frozen twin (same seed, same random draws). An end is
    pivotal when the twin survives it (still active at the end, or >= 1.5x as long); the reverse
    share (twin ends >= 1.5x sooner) is the noise floor. The cause label says what changed;
    pivotality says why the partnership could not absorb the change.
    """
    import pandas as pd

    from analysis.pivotality import pivotality_summary, select_pair, survival_figure
    from runs.batch import run_experiment
    from runs.engine import LocalEngine
    from runs.experiment import Experiment
    from runs.output import atomic_write_csv, prepare_output_dir

    spec = build_scenario(scenario, sets, events, (), steps)
    focus = None
    if pair:
        names = tuple(x.strip() for x in pair.split(","))
        unknown = [n for n in names if n not in spec.state_names]
        if len(names) != 2 or unknown:
            raise OutputError(
                f"--pair {pair!r}: expected two states of {spec.name} separated by a comma; "
                f"states: {', '.join(spec.state_names)}"
            )
        focus = names
    out = prepare_output_dir(out or Path("results") / f"pivotality-{spec.name}")
    engine = LocalEngine(workers)

    def measure(frozen: tuple[str, ...]):
        experiment = Experiment(
            scenario=spec,
            replicates=replicates,
            steps=steps,
            master_seed=seed,
            twins=True,
            series="none",
            frozen_states=frozen,
        )
        return select_pair(
            run_experiment(experiment, engine=engine, progress=not quiet).spells, focus
        )

    spells = measure(())
    rows = [pivotality_summary(spells, "all states")]
    if by_state:
        for state in focus or spec.state_names:
            rows.append(pivotality_summary(measure((state,)), f"only {state}"))
    table = pd.DataFrame(rows)
    atomic_write_csv(out / "pivotality.csv", table)
    atomic_write_csv(out / "spells.csv", spells)
    title = f"{spec.title}" + (f": {focus[0]}–{focus[1]}" if focus else "")
    figures = survival_figure(spells, title, out / "survival_factual_vs_twin")
    if not quiet:
        click.echo(f"{spec.title}; {replicates} runs x 2 (factual and credibility-frozen twin)")
        if focus:
            click.echo(f"Spells of {focus[0]}–{focus[1]}")
        click.echo(
            f"{'credibility frozen':<22} {'ends':>5}  {'pivotal (95% CI)':<22} "
            f"{'noise floor (95% CI)':<22} twin ends"
        )
        for r in rows:
            click.echo(
                f"{r['frozen']:<22} {r['ended_with_twin']:>5}  "
                f"{r['pivotal_share']:.2f} ({r['pivotal_low']:.2f}-{r['pivotal_high']:.2f})      "
                f"{r['reverse_share']:.2f} ({r['reverse_low']:.2f}-{r['reverse_high']:.2f})      "
                f"{r['twin_ended_share']:.2f}"
            )
        click.echo(f"Wrote {out}/pivotality.csv, spells.csv, {figures[0].name}")
