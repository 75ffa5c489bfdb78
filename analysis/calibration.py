"""Calibration of the synthetic world to empirical alliance durations (MODEL.md §6 A4).

Method: simulated minimum distance with common random numbers, searched by
:func:`scipy.optimize.differential_evolution`.

* **Distance.** ``D(θ) = Σ_i w_i ((m_i(θ) − t_i) / se_i)²`` over the targets of
  ``analysis/data/atop_targets.toml`` (S(1), S(2), S(5), S(10), S(20), the abrogation share, the
  Weibull shape): each simulated statistic ``m_i`` is measured in standard errors of its empirical
  counterpart, the weighting of a simulated method of moments with a diagonal weight matrix.
* **Common random numbers.** Every point is simulated with the same run seeds
  (:class:`analysis.evaluation.CommonSeedExperiment`), so ``D`` is a deterministic function of
  the parameters and two points differ by their parameters, not their luck.
* **Search.** Differential evolution, one generation = one batch of points through the batch
  engine (``vectorized=True``), started from a Latin hypercube that contains the starting point
  (the scenario's parameters), so the best distance is never worse than the start's.
* **Uncertainty.** Approximate 95% profile intervals: for each parameter, the range of its values
  among every evaluated point whose distance is within χ²₁(0.95) = 3.84 of the best. An interval
  that reaches a search bound says the targets do not pin the parameter down there.
* **Out of sample.** The best point is simulated again with fresh seeds and more replicates; the
  per-target table and the goal check use these numbers, not the ones the search was tuned on.
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.evaluation import (
    ParameterRange,
    PointEvaluator,
    SimulationSettings,
    scale_points,
)
from analysis.results import AnalysisError

TARGETS_FILE = Path(__file__).with_name("data") / "atop_targets.toml"
STATISTICS = ("survival", "median", "abrogation_share", "weibull_shape")
CHI2_1_95 = 3.841458820694124  # scipy.stats.chi2.ppf(0.95, 1)
FAILED_DISTANCE = 1e6  # a point whose runs fail, or that forms no spell after the burn-in


@dataclass(frozen=True)
class Target:
    name: str
    statistic: str
    value: float
    se: float
    weight: float = 1.0
    years: float | None = None
    goal_low: float | None = None
    goal_high: float | None = None

    @property
    def column(self) -> str:
        """The column of :func:`analysis.survival.duration_statistics` it is compared with."""
        if self.statistic == "survival":
            return f"S({self.years:g})"
        return self.statistic


@dataclass
class Targets:
    targets: tuple[Target, ...]
    source: dict = field(default_factory=dict)
    life_table: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def times(self) -> tuple[float, ...]:
        return tuple(t.years for t in self.targets if t.statistic == "survival")


def load_targets(path: str | Path | None = None) -> Targets:
    """Read a targets file (default: the shipped ATOP v4.01 targets); one-line errors."""
    path = Path(path) if path is not None else TARGETS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnalysisError(
            f"{path}: cannot read the targets file ({exc.strerror or exc})"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AnalysisError(f"{path}: not valid TOML: {exc}") from None
    raw = data.get("target")
    if not isinstance(raw, list) or not raw:
        raise AnalysisError(f"{path}: expected at least one [[target]] table")
    targets = []
    for n, entry in enumerate(raw):
        where = f"{path}: target {n + 1}"
        name = entry.get("name", f"#{n + 1}")
        statistic = entry.get("statistic")
        if statistic not in STATISTICS:
            raise AnalysisError(
                f"{where} ({name}): statistic: expected one of {', '.join(STATISTICS)}, "
                f"got {statistic!r}"
            )
        numbers = {}
        for key in ("value", "se", "weight", "years", "goal_low", "goal_high"):
            value = entry.get(key)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise AnalysisError(f"{where} ({name}): {key}: expected a number, got {value!r}")
            numbers[key] = float(value)
        for key in ("value", "se"):
            if key not in numbers:
                raise AnalysisError(f"{where} ({name}): {key}: missing")
        if numbers["se"] <= 0:
            raise AnalysisError(f"{where} ({name}): se: expected a number > 0")
        if numbers.get("weight", 1.0) < 0:
            raise AnalysisError(f"{where} ({name}): weight: expected a number >= 0")
        if statistic == "survival" and numbers.get("years", 0) <= 0:
            raise AnalysisError(
                f"{where} ({name}): years: expected a number > 0 for a survival target"
            )
        targets.append(Target(name=name, statistic=statistic, **numbers))
    return Targets(tuple(targets), data.get("source", {}), data.get("life_table", {}), path)


def _deviation(target: Target, value: float, window_years: float) -> float:
    """(simulated − target) / se; a missing statistic counts as the worst plausible value."""
    if target.statistic == "median" and math.isinf(value):
        value = window_years  # the median lies beyond the window: at least this
    if not math.isfinite(value):
        worst = {
            "survival": max(target.value, 1.0 - target.value),
            "abrogation_share": max(target.value, 1.0 - target.value),
            "weibull_shape": 1.0,
            "median": window_years,
        }[target.statistic]
        return worst / target.se
    return (value - target.value) / target.se


def distances(stats: pd.DataFrame, targets: Targets, window_years: float) -> np.ndarray:
    """The calibration distance of each row of ``stats`` (see the module docstring)."""
    out = np.zeros(len(stats))
    for t in targets.targets:
        if t.weight == 0:
            continue
        values = stats[t.column].to_numpy(dtype=float)
        dev = np.array([_deviation(t, v, window_years) for v in values])
        out += t.weight * dev * dev
    broken = stats.get("failed_runs", pd.Series(0, index=stats.index)).to_numpy() > 0
    broken |= stats["spells"].to_numpy() == 0
    out[broken] = FAILED_DISTANCE
    return out


def target_table(stats: pd.Series, targets: Targets, window_years: float) -> pd.DataFrame:
    """Per target: target value, simulated value, difference, goal band, met?, distance share."""
    rows = []
    for t in targets.targets:
        value = float(stats[t.column])
        dev = _deviation(t, value, window_years)
        met = None
        if t.goal_low is not None or t.goal_high is not None:
            low = -math.inf if t.goal_low is None else t.goal_low
            high = math.inf if t.goal_high is None else t.goal_high
            met = bool(math.isfinite(value) and low <= value <= high)
            if t.statistic == "weibull_shape" and t.goal_high is not None:
                met = bool(math.isfinite(value) and low <= value < high)
        rows.append(
            {
                "target": t.name,
                "empirical": t.value,
                "simulated": value,
                "difference": value - t.value if math.isfinite(value) else math.nan,
                "goal_low": t.goal_low,
                "goal_high": t.goal_high,
                "goal_met": met,
                "se": t.se,
                "weight": t.weight,
                "distance": t.weight * dev * dev,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class CalibrationResult:
    space: tuple[ParameterRange, ...]
    start: dict[str, float]
    best: dict[str, float]
    start_distance: float
    best_distance: float
    parameters: pd.DataFrame  # name, low, high, start, fitted, interval, sd, identified
    history: pd.DataFrame  # every evaluated point: generation, parameters, statistics, distance
    check: pd.DataFrame  # per target at the best point, fresh seeds
    check_start: pd.DataFrame  # the same at the start
    check_distance: float
    check_spells: pd.DataFrame  # spells after the burn-in; point_id 0 = start, 1 = fitted
    runs_used: int
    generations: int
    seconds: float
    message: str
    goals_met: bool

    def summary(self) -> dict:
        return {
            "start_distance": self.start_distance,
            "best_distance": self.best_distance,
            "check_distance": self.check_distance,
            "runs_used": self.runs_used,
            "generations": self.generations,
            "seconds": round(self.seconds, 1),
            "goals_met": self.goals_met,
            "optimiser_message": self.message,
            "fitted": self.best,
        }


def calibrate(
    settings: SimulationSettings,
    space: Sequence[ParameterRange],
    targets: Targets | None = None,
    *,
    budget: int = 12_000,
    workers: int = 2,
    popsize: int = 4,
    check_replicates: int | None = None,
    finalists: int = 3,
    max_seconds: float | None = None,
    seed: int = 0,
    start: dict[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
    engine=None,
) -> CalibrationResult:
    """Fit the parameters of ``space`` to ``targets`` within ``budget`` simulated runs.

    Each generation simulates ``popsize`` × (number of parameters) points (at least 5). The
    search stops when the next generation and the checks would overrun ``budget`` runs (or
    ``max_seconds``). Then the ``finalists`` best points are simulated again with fresh seeds
    (``check_replicates`` each, default 2 × replicates) and the best of them is *fitted*; the
    start and the fitted point are finally checked on a third set of seeds, and those numbers
    are the ones reported (so the winner's luck on the seeds it was chosen on does not count).
    """
    from scipy.optimize import differential_evolution

    targets = targets or load_targets()
    space = tuple(space)
    if not space:
        raise AnalysisError("calibrate: the parameter space is empty")
    dims = len(space)
    replicates = settings.replicates
    check_replicates = check_replicates or 2 * replicates
    population = max(5, popsize * dims)
    check_runs = (finalists + 2) * check_replicates
    if budget < population * replicates + check_runs:
        raise AnalysisError(
            f"--budget {budget}: too small for one generation of {population} points x "
            f"{replicates} replicates plus the checks; expected at least "
            f"{population * replicates + check_runs}"
        )
    window = settings.window_years
    lows = np.array([r.low for r in space])
    highs = np.array([r.high for r in space])
    defaults = settings.scenario.parameters.replace(**settings.fixed).as_dict()
    given = {r.name: float((start or {}).get(r.name, defaults[r.name])) for r in space}
    start_unit = np.clip((np.array([given[r.name] for r in space]) - lows) / (highs - lows), 0, 1)
    start = scale_points(start_unit, space)[0]  # clipped into the searched box
    started = time.monotonic()
    history: list[pd.DataFrame] = []
    costs: list[tuple[int, float]] = []  # (runs, seconds) of each generation
    say = progress or (lambda message: None)

    with PointEvaluator(settings, workers=workers, engine=engine) as evaluator:

        def objective(unit_population: np.ndarray) -> np.ndarray:
            before, clock = evaluator.runs_used, time.monotonic()
            unit = np.atleast_2d(unit_population.T)  # scipy passes (dims, S)
            points = scale_points(unit, space)
            stats = evaluator.evaluate(points)
            stats.insert(0, "generation", len(history))
            stats["distance"] = distances(stats, targets, window)
            history.append(stats)
            costs.append((evaluator.runs_used - before, time.monotonic() - clock))
            best = float(np.min(pd.concat(history)["distance"]))
            say(
                f"generation {len(history) - 1}: {len(points)} points, best distance {best:.2f}, "
                f"{evaluator.runs_used} runs, {time.monotonic() - started:.0f} s"
            )
            return stats["distance"].to_numpy()

        def enough(intermediate_result=None) -> bool:
            runs, seconds = costs[-1]
            per_point = runs / max(len(history[-1]), 1) / replicates  # adaptive replication factor
            reserve = check_runs * max(per_point, 1.0)
            if evaluator.runs_used + runs + reserve > budget:
                return True
            if max_seconds is not None:
                check_seconds = seconds * reserve / max(runs, 1)
                return time.monotonic() - started + seconds + check_seconds > max_seconds
            return False

        result = differential_evolution(
            objective,
            bounds=[(0.0, 1.0)] * dims,
            popsize=max(1, population // dims),
            maxiter=100_000,  # the budget stops it (callback)
            init="latinhypercube",
            x0=start_unit,
            rng=np.random.default_rng(seed),
            polish=False,  # gradient polishing is meaningless on a step function of the seeds
            vectorized=True,
            updating="deferred",
            tol=0.0,  # stop on the budget, not on the population's spread
            callback=enough,
        )
        evaluated = pd.concat(history, ignore_index=True)
        names = [r.name for r in space]
        ranked = evaluated.drop_duplicates(subset=names).nsmallest(finalists, "distance")
        say(f"re-simulating the {len(ranked)} best points with fresh seeds")
        finals = evaluator.evaluate(
            [{n: float(row[n]) for n in names} for _, row in ranked.iterrows()],
            seed_offset=1,
            replicates=check_replicates,
        )
        finals["distance"] = distances(finals, targets, window)
        chosen = int(np.argmin(finals["distance"].to_numpy()))
        best = {n: float(ranked.iloc[chosen][n]) for n in names}
        best_search_distance = float(ranked.iloc[chosen]["distance"])
        start_rows = evaluated[
            np.isclose(evaluated[names].to_numpy(), [start[n] for n in names]).all(axis=1)
        ]
        start_distance = float(start_rows["distance"].iloc[0]) if len(start_rows) else math.nan
        say("checking the start and the fitted point on a third set of seeds")
        check, check_spells = evaluator.evaluate(
            [start, best], seed_offset=2, replicates=check_replicates, with_spells=True
        )
        runs_used = evaluator.runs_used

    check_distances = distances(check, targets, window)
    table_best = target_table(check.iloc[1], targets, window)
    table_start = target_table(check.iloc[0], targets, window)
    goals = table_best["goal_met"].dropna()
    parameters = _intervals(evaluated, space, start, best)
    return CalibrationResult(
        space=space,
        start=start,
        best=best,
        start_distance=start_distance,
        best_distance=best_search_distance,
        parameters=parameters,
        history=evaluated,
        check=table_best,
        check_start=table_start,
        check_distance=float(check_distances[1]),
        check_spells=check_spells,
        runs_used=int(runs_used),
        generations=len(history),
        seconds=time.monotonic() - started,
        message=str(result.message),
        goals_met=bool(len(goals) and goals.all()),
    )


def _intervals(evaluated: pd.DataFrame, space, start, best) -> pd.DataFrame:
    """Profile-style intervals: values among points within χ²₁(0.95) of the best distance."""
    d_min = float(evaluated["distance"].min())
    near = evaluated[evaluated["distance"] <= d_min + CHI2_1_95]
    rows = []
    for r in space:
        values = near[r.name].to_numpy(dtype=float)
        lower, upper = float(values.min()), float(values.max())
        span = r.high - r.low
        at_bound = lower <= r.low + 0.02 * span or upper >= r.high - 0.02 * span
        rows.append(
            {
                "parameter": r.name,
                "low": r.low,
                "high": r.high,
                "start": start[r.name],
                "fitted": best[r.name],
                "interval_lower": lower,
                "interval_upper": upper,
                "sd_near_best": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                "points_near_best": len(values),
                "reaches_bound": bool(at_bound),
            }
        )
    return pd.DataFrame(rows)


def write_calibration(
    result: CalibrationResult,
    settings: SimulationSettings,
    targets: Targets,
    out: Path,
    *,
    command: dict | None = None,
) -> list[Path]:
    """Write a calibration's tables, metadata, fitted parameters and figure into ``out``."""
    import tomli_w

    from analysis import figures
    from analysis.survival import km_curves
    from runs.output import (
        atomic_write_csv,
        atomic_write_json,
        atomic_write_text,
        git_revision,
        now_utc,
        versions,
    )

    out = Path(out)
    written = []
    for name, frame in (
        ("parameters", result.parameters),
        ("targets", result.check),
        ("targets_start", result.check_start),
        ("history", result.history),
    ):
        atomic_write_csv(out / f"{name}.csv", frame)
        written.append(out / f"{name}.csv")
    fitted = {
        "parameters": {k: round(v, 6) for k, v in result.best.items()},
    }
    header = (
        "# Parameters fitted by `alliance calibrate` to the ATOP v4.01 duration targets.\n"
        f"# World: {settings.scenario.source}; burn-in {settings.burn_in} months; "
        f"distance with fresh seeds {result.check_distance:.2f}.\n"
        "# Use as the [parameters] table of a scenario, or as --set NAME=VALUE.\n"
    )
    atomic_write_text(out / "fitted.toml", header + tomli_w.dumps(fitted))
    written.append(out / "fitted.toml")
    scenario = settings.scenario
    atomic_write_json(
        out / "calibration.json",
        {
            "kind": "calibration",
            "created": now_utc(),
            **result.summary(),
            "start": result.start,
            "method": "differential evolution (scipy) over a simulated distance with common random "
            "numbers; intervals: points within chi2_1(0.95) of the best distance",
            "world": {
                "scenario": scenario.name,
                "source": scenario.source,
                "steps": settings.horizon,
                "burn_in_months": settings.burn_in,
                "replicates": settings.replicates,
                "master_seed": settings.master_seed,
                "parameters": scenario.parameters.as_dict(),
            },
            "space": [{"name": r.name, "low": r.low, "high": r.high} for r in result.space],
            "targets_source": targets.source,
            "parameter_table": result.parameters.to_dict(orient="records"),
            "target_table": result.check.to_dict(orient="records"),
            "command": command or {},
            "versions": versions(),
            "git_revision": git_revision(),
        },
    )
    written.append(out / "calibration.json")
    spells = result.check_spells.copy()
    spells["which"] = np.where(spells["point_id"] == 0, "start", "fitted")
    curves = km_curves(spells, "which", ends=("formal",))
    checks = {"start": result.check_start, "fitted": result.check}
    fig = figures.calibration_figure(curves, targets, checks, targets.life_table)
    written += figures.save_figure(fig, out / "figures", "calibration_fit")
    return written
