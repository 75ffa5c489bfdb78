"""The analysis commands of the ``alliance`` CLI: ``analyze``, ``calibrate``, ``sensitivity``.

Only option parsing and printing live here; the work is in ``analysis/``. Heavy imports
(lifelines, seaborn, SALib, scipy) happen inside the commands so that ``alliance --help`` stays
fast. User mistakes end in one line ``alliance: error: ...`` and exit code 2.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

DEFAULT_WORLD = "synthetic:n_states=20,steps=600"  # = analysis.evaluation.DEFAULT_WORLD


def analysis_errors(func):
    """Turn analysis, scenario, parameter and output errors into one-line user errors."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from analysis.results import AnalysisError
        from runs.cli import USER_ERRORS, UserError

        try:
            return func(*args, **kwargs)
        except (AnalysisError, *USER_ERRORS) as exc:
            raise UserError(str(exc)) from None

    return wrapper


def _numba_cache() -> None:
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "alliance-numba"))


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@click.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="PARAM",
    help="Group spells by a column: point_id, kind, or a parameter from runs.csv "
    "(repeatable; several columns group by their combination).",
)
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="NAME",
    help="State whose credibility trajectories to plot (repeatable) "
    "[default: the 4 with the largest credibility loss].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the report, figures and tables [default: RESULTS_DIR/analysis].",
)
@analysis_errors
def analyze(results_dir, by, states, out) -> None:
    """Survival analysis of a results folder (from `alliance batch` or `alliance run`).

    Writes Kaplan–Meier curves (formal and functional ends), causes of ending as competing
    risks, a Weibull fit, a Cox model, credibility trajectories, their tables (CSV) and figures
    (PNG, SVG), and report.html to open in a browser.
    """
    from analysis.report import analyze_results

    output = analyze_results(results_dir, by=_split(by), out=out, states=_split(states) or None)
    for note in output.notes:
        click.echo(f"note: {note}")
    click.echo(
        f"{len(output.tables)} tables and {len(output.figures)} figure files in {output.out}/"
    )
    click.echo(f"Report: {output.report}")


def _simulation_options(func):
    options = [
        click.option(
            "--scenario",
            default=DEFAULT_WORLD,
            show_default=True,
            help="World to simulate: a synthetic world spec or a scenario name/file.",
        ),
        click.option(
            "--replicates",
            default=4,
            show_default=True,
            type=click.IntRange(min=1),
            help="Runs per parameter point, at least (same seeds at every point).",
        ),
        click.option(
            "--min-spells",
            "min_spells",
            default=365,
            show_default=True,
            type=click.IntRange(min=0),
            help="A point whose runs form fewer spells after the burn-in gets more "
            "replicates (doubling, up to --max-replicates).",
        ),
        click.option(
            "--max-replicates",
            "max_replicates",
            default=64,
            show_default=True,
            type=click.IntRange(min=1),
            help="Most runs per parameter point.",
        ),
        click.option(
            "--burn-in",
            "burn_in",
            default=120,
            show_default=True,
            type=click.IntRange(min=0),
            help="Months before which formed spells are not counted.",
        ),
        click.option(
            "--param",
            "params",
            multiple=True,
            metavar="NAME=LOW:HIGH",
            help="A parameter to vary and its range (repeatable; replaces the default "
            "set: kappa_pact, kappa_treaty, upkeep, gamma, rho, u_form, h_exo, "
            "treaty_share, treaty_term_years).",
        ),
        click.option(
            "--set",
            "sets",
            multiple=True,
            metavar="NAME=VALUE",
            help="Fix a parameter (and, for calibrate, the start) (repeatable).",
        ),
        click.option(
            "--workers",
            default=2,
            show_default=True,
            type=click.IntRange(min=1),
            help="Worker processes.",
        ),
        click.option(
            "--seed",
            default=0,
            show_default=True,
            type=click.IntRange(min=0),
            help="Master seed of the common random numbers and the sampler.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _settings(scenario, replicates, burn_in, sets, min_spells, max_replicates, seed):
    from analysis.evaluation import SimulationSettings
    from runs.cli import build_scenario

    spec = build_scenario(scenario, tuple(sets))
    return SimulationSettings(
        spec,
        replicates=replicates,
        burn_in=burn_in,
        master_seed=seed,
        min_spells=min_spells,
        max_replicates=max_replicates,
    )


def _space(params, settings):
    from analysis.evaluation import check_space, parse_space

    space = parse_space(_split(params) if params else [])
    check_space(space, settings.scenario, settings.fixed)
    return space


@click.command()
@click.option(
    "--budget",
    default=12_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Simulated runs the calibration may use in all (search and check).",
)
@click.option(
    "--popsize",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="Differential-evolution points per generation, per parameter.",
)
@click.option(
    "--max-minutes",
    "max_minutes",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop the search in time to finish within this many minutes.",
)
@click.option(
    "--targets",
    "targets_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Targets TOML [default: the shipped ATOP v4.01 targets].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results") / "calibration",
    show_default=True,
    help="Output folder.",
)
@_simulation_options
@analysis_errors
def calibrate(
    budget,
    popsize,
    max_minutes,
    targets_file,
    out,
    scenario,
    replicates,
    min_spells,
    max_replicates,
    burn_in,
    params,
    sets,
    workers,
    seed,
) -> None:
    """Fit model parameters to the ATOP alliance-duration targets (MODEL.md §6 A4).

    Differential evolution over a simulated distance with common random numbers; the best point
    is checked again with fresh seeds. Writes calibration.json, parameters.csv, targets.csv,
    history.csv, fitted.toml and figures/calibration_fit.{png,svg}.
    """
    _numba_cache()
    from analysis.calibration import calibrate as run_calibration
    from analysis.calibration import load_targets, write_calibration
    from runs.output import prepare_output_dir

    settings = _settings(scenario, replicates, burn_in, sets, min_spells, max_replicates, seed)
    space = _space(params, settings)
    targets = load_targets(targets_file)
    out = prepare_output_dir(out)
    result = run_calibration(
        settings,
        space,
        targets,
        budget=budget,
        workers=workers,
        popsize=popsize,
        seed=seed,
        max_seconds=max_minutes * 60 if max_minutes else None,
        progress=lambda message: click.echo(message, err=True),
    )
    write_calibration(
        result,
        settings,
        targets,
        out,
        command={
            "scenario": scenario,
            "budget": budget,
            "popsize": popsize,
            "replicates": replicates,
            "burn_in": burn_in,
            "min_spells": min_spells,
            "max_replicates": max_replicates,
            "max_minutes": max_minutes,
            "workers": workers,
            "seed": seed,
            "params": list(params),
            "sets": list(sets),
            "targets": str(targets.path),
        },
    )
    click.echo(calibration_summary(result))
    click.echo(f"Results in {out}/")


def calibration_summary(result) -> str:
    lines = [
        f"Calibration: {result.generations} generations, {result.runs_used} simulated runs, "
        f"{result.seconds:.0f} s",
        f"distance (search seeds): start {result.start_distance:.1f} -> "
        f"fitted {result.best_distance:.1f}; fitted, checked on fresh seeds: "
        f"{result.check_distance:.1f}",
        "",
        f"{'parameter':<20} {'start':>10} {'fitted':>10} {'s.e.':>10} {'s.e. alone':>10}"
        "   95% interval (joint)",
    ]
    for row in result.parameters.itertuples():
        if not row.identified:
            interval = "not identified by the targets"
        else:
            flag = " (reaches a bound)" if row.reaches_bound else ""
            interval = f"[{row.interval_lower:.4g}, {row.interval_upper:.4g}]{flag}"
        lines.append(
            f"{row.parameter:<20} {row.start:>10.4g} {row.fitted:>10.4g} {row.se:>10.3g} "
            f"{row.se_others_fixed:>10.3g}   {interval}"
        )
    lines += ["", f"{'target':<18} {'ATOP':>7} {'start':>8} {'fitted':>8}  goal"]
    start = result.check_start.set_index("target")
    for row in result.check.itertuples():
        goal = "" if row.goal_met is None else ("met" if row.goal_met else "NOT met")
        band = (
            ""
            if row.goal_low is None or row.goal_low != row.goal_low
            else f" [{row.goal_low:g}, {row.goal_high:g}]"
        )
        lines.append(
            f"{row.target:<18} {row.empirical:>7.3g} {start.loc[row.target, 'simulated']:>8.3g} "
            f"{row.simulated:>8.3g}  {goal}{band}"
        )
    lines.append("")
    lines.append(
        "All goals met." if result.goals_met else "Not every goal is met (see targets.csv)."
    )
    return "\n".join(lines)


@click.command()
@click.option(
    "--method",
    type=click.Choice(["morris", "sobol"]),
    default="morris",
    show_default=True,
    help="Morris screening or Sobol indices.",
)
@click.option(
    "--samples",
    default=10,
    show_default=True,
    type=click.IntRange(min=2),
    help="Morris trajectories, or Sobol base samples (rounded up to a power of 2).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results") / "sensitivity",
    show_default=True,
    help="Output folder.",
)
@_simulation_options
@analysis_errors
def sensitivity(
    method,
    samples,
    out,
    scenario,
    replicates,
    min_spells,
    max_replicates,
    burn_in,
    params,
    sets,
    workers,
    seed,
) -> None:
    """Global sensitivity (SALib) of median spell survival and the abrogation share.

    Writes sensitivity.csv (indices), samples.csv (every point and its outputs),
    sensitivity.json and figures/sensitivity.{png,svg}.
    """
    _numba_cache()
    from analysis import figures
    from analysis.sensitivity import run_sensitivity
    from runs.output import atomic_write_csv, atomic_write_json, prepare_output_dir

    settings = _settings(scenario, replicates, burn_in, sets, min_spells, max_replicates, seed)
    space = _space(params, settings)
    out = prepare_output_dir(out)
    result = run_sensitivity(
        settings,
        space,
        method=method,
        samples=samples,
        workers=workers,
        seed=seed,
        progress=lambda message: click.echo(message, err=True),
    )
    atomic_write_csv(out / "sensitivity.csv", result.indices)
    atomic_write_csv(out / "samples.csv", result.points)
    atomic_write_json(
        out / "sensitivity.json",
        {
            "method": method,
            "samples": result.samples,
            "points": len(result.points),
            "runs_used": result.runs_used,
            "imputed": result.imputed,
            "space": [{"name": r.name, "low": r.low, "high": r.high} for r in result.space],
            "scenario": scenario,
            "replicates": replicates,
            "min_spells": min_spells,
            "max_replicates": max_replicates,
            "burn_in": burn_in,
            "seed": seed,
            "sets": list(sets),
            "outputs": {
                "median_years": "Kaplan-Meier median of the formal end, years; the window "
                "length where not reached",
                "abrogation_share": "share of ended spells ended by abrogation",
            },
        },
    )
    figures.save_figure(
        figures.sensitivity_figure(result.indices, method), out / "figures", "sensitivity"
    )
    key = "mu_star" if method == "morris" else "ST"
    click.echo(f"{method}: {len(result.points)} points, {result.runs_used} simulated runs")
    for output, part in result.indices.groupby("output", sort=False):
        ranked = part.sort_values(key, ascending=False).head(5)
        click.echo(
            f"{output}: "
            + ", ".join(f"{r.parameter} {getattr(r, key):.3g}" for r in ranked.itertuples())
        )
    for output, n in result.imputed.items():
        if n:
            click.echo(f"note: {output} undefined at {n} points (imputed by its mean)")
    click.echo(f"Results in {out}/")
