"""Calibration of the synthetic world to empirical alliance durations (MODEL.md §6 A4).

Method: simulated minimum distance with common random numbers, searched by
:func:`scipy.optimize.differential_evolution`.

* **Distance.** ``D(θ) = Σ_i w_i [((m_i(θ) − t_i) / se_i)² + (s_i(θ) / se_i)²]`` over the
  targets of ``analysis/data/atop_targets.toml`` (S(1), S(2), S(5), S(10), S(20), the abrogation
  share, the Weibull shape): each simulated statistic ``m_i`` is measured in standard errors
  ``se_i`` of its empirical counterpart (a simulated method of moments with a diagonal weight
  matrix), plus the simulated statistic's own sampling variance ``s_i²``, so that a point whose
  statistics rest on few spells cannot pass for a fit by luck. Each point is simulated until it
  has about as many spells as the empirical sample (``min_spells``), within ``max_replicates``.
* **Common random numbers.** Every point is simulated with the same run seeds
  (:class:`analysis.evaluation.CommonSeedExperiment`), so ``D`` is a deterministic function of
  the parameters and two points differ by their parameters, not their luck.
* **Search.** Differential evolution, one generation = one batch of points through the batch
  engine (``vectorized=True``), started from a Latin hypercube that contains the starting point
  (the scenario's parameters), so the best distance is never worse than the start's.
* **Out of sample.** The best few points are simulated again with fresh seeds and the best of
  them is the fit; the fit (and the start) are then checked on a third set of seeds, and the
  per-target table and the goal check use those numbers, not the ones the search was tuned on.
* **Uncertainty.** Local standard errors of a simulated method of moments: the Jacobian ``J`` of
  the fitted targets by central differences (step 5% of each range, common random numbers),
  ``Σ = (Jᵀ W J)⁻¹ (1 + N_emp / N_sim)`` with ``W = diag(w_i / se_i²)``, N_emp = 365 alliances and
  N_sim the simulated spells. A parameter with weight in a direction the targets do not move
  (an eigenvalue of ``Jᵀ W J`` near zero) is *not identified*: its error is reported as infinite.
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
Z_95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
EMPIRICAL_N = 365  # ATOP v4.01 bilateral alliances behind the targets
JACOBIAN_STEP = 0.05  # share of each parameter's range
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


def _term(target: Target, value: float, se_simulated: float, window_years: float) -> float:
    """One target's share of the distance (unweighted): ``dev² + (se_simulated / se)²``.

    ``dev`` is the difference in empirical standard errors. The second term is the simulated
    statistic's own sampling variance (its estimate from the simulated spells), in the same
    units: of two points with the same estimated deviations the more precisely measured one
    wins, and a point whose statistics rest on a few spells cannot win by luck (the search
    drifted to such points before this term; a synthetic likelihood, dev² / r + log r, still
    favoured them under misspecification).
    """
    dev = _deviation(target, value, window_years)
    noise = 0.0
    if math.isfinite(value) and math.isfinite(se_simulated):
        noise = (se_simulated / target.se) ** 2
    return dev * dev + noise


def _se(stats, target: Target):
    column = f"se:{target.column}"
    if column in stats:
        return stats[column]
    return pd.Series(np.nan, index=stats.index) if isinstance(stats, pd.DataFrame) else math.nan


def distances(stats: pd.DataFrame, targets: Targets, window_years: float) -> np.ndarray:
    """The calibration distance of each row of ``stats`` (see the module docstring)."""
    out = np.zeros(len(stats))
    for t in targets.targets:
        if t.weight == 0:
            continue
        values = stats[t.column].to_numpy(dtype=float)
        errors = _se(stats, t).to_numpy(dtype=float)
        out += t.weight * np.array(
            [_term(t, v, e, window_years) for v, e in zip(values, errors, strict=True)]
        )
    broken = stats.get("failed_runs", pd.Series(0, index=stats.index)).to_numpy() > 0
    broken |= stats["spells"].to_numpy() == 0
    out[broken] = FAILED_DISTANCE
    return out


def target_table(stats: pd.Series, targets: Targets, window_years: float) -> pd.DataFrame:
    """Per target: target value, simulated value, difference, goal band, met?, distance share."""
    rows = []
    for t in targets.targets:
        value = float(stats[t.column])
        se_simulated = float(_se(stats, t))
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
                "se_simulated": se_simulated,
                "distance": t.weight * _term(t, value, se_simulated, window_years),
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
    finalists: pd.DataFrame  # the best points of the search, re-simulated on fresh seeds
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
    check_runs = (finalists + 2 + 2 * dims) * check_replicates  # finalists, checks, Jacobian
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
        finals.insert(0, "search_distance", ranked["distance"].to_numpy())
        say(
            "finalists, distance on search seeds -> fresh seeds: "
            + ", ".join(
                f"{a:.1f} -> {b:.1f}"
                for a, b in zip(finals["search_distance"], finals["distance"], strict=True)
            )
        )
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
        say("local standard errors: Jacobian of the targets at the fit (central differences)")
        fitted_replicates = int(check["replicates"].iloc[1])
        jacobian = _jacobian(evaluator, space, best, targets, window, fitted_replicates)
        runs_used = evaluator.runs_used

    check_distances = distances(check, targets, window)
    table_best = target_table(check.iloc[1], targets, window)
    table_start = target_table(check.iloc[0], targets, window)
    goals = table_best["goal_met"].dropna()
    parameters = _standard_errors(
        jacobian, space, start, best, simulated_spells=float(check["spells"].iloc[1])
    )
    return CalibrationResult(
        space=space,
        start=start,
        best=best,
        start_distance=start_distance,
        best_distance=best_search_distance,
        parameters=parameters,
        history=evaluated,
        finalists=finals,
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


def _jacobian(evaluator, space, best, targets, window, replicates) -> np.ndarray:
    """d(statistic_i) / d(parameter_j) · sqrt(w_i) / se_i at ``best``: central differences on
    common seeds (rows: targets with weight > 0; columns: parameters). A step that would leave
    the range stops at the bound (one-sided there)."""
    fitted = [t for t in targets.targets if t.weight > 0]
    points, steps = [], []
    for r in space:
        h = JACOBIAN_STEP * (r.high - r.low)
        up, down = min(best[r.name] + h, r.high), max(best[r.name] - h, r.low)
        points += [{**best, r.name: up}, {**best, r.name: down}]
        steps.append(up - down)
    stats = evaluator.evaluate(points, seed_offset=2, replicates=replicates, adaptive=False)
    jac = np.zeros((len(fitted), len(space)))
    for i, t in enumerate(fitted):
        values = stats[t.column].to_numpy(dtype=float)
        if t.statistic == "median":
            values = np.where(np.isinf(values), window, values)
        for j in range(len(space)):
            diff = values[2 * j] - values[2 * j + 1]
            if math.isfinite(diff):
                jac[i, j] = diff / steps[j] * math.sqrt(t.weight) / t.se
    return jac


def _standard_errors(
    jacobian: np.ndarray, space, start, best, *, simulated_spells: float
) -> pd.DataFrame:
    """Σ = (JᵀJ)⁻¹ (1 + N_emp / N_sim), J already weighted (see the module docstring)."""
    information = jacobian.T @ jacobian
    inflation = 1.0 + EMPIRICAL_N / max(simulated_spells, 1.0)
    values, vectors = np.linalg.eigh(information)
    kept = values > 1e-9 * max(float(values.max()), 1e-300)
    inverse = (vectors[:, kept] / values[kept]) @ vectors[:, kept].T
    # Weight of each parameter in the directions the targets do not move.
    loose = np.abs(vectors[:, ~kept]).max(axis=1) if (~kept).any() else np.zeros(len(space))
    rows = []
    for j, r in enumerate(space):
        identified = bool(loose[j] < 1e-6)
        se = math.sqrt(max(float(inverse[j, j]), 0.0) * inflation) if identified else math.inf
        lower = max(r.low, best[r.name] - Z_95 * se) if identified else r.low
        upper = min(r.high, best[r.name] + Z_95 * se) if identified else r.high
        rows.append(
            {
                "parameter": r.name,
                "low": r.low,
                "high": r.high,
                "start": start[r.name],
                "fitted": best[r.name],
                "se": se,
                # With every other parameter held at its fitted value: a lower bound on ``se``.
                "se_others_fixed": math.sqrt(inflation / information[j, j])
                if information[j, j] > 0
                else math.inf,
                "interval_lower": lower,
                "interval_upper": upper,
                "identified": identified,
                "reaches_bound": bool(lower <= r.low or upper >= r.high),
            }
        )
    return pd.DataFrame(rows)


def _finite(value):
    """JSON has no inf or NaN: such numbers become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
        ("finalists", result.finalists),
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
        _finite(
            {
                "kind": "calibration",
                "created": now_utc(),
                **result.summary(),
                "start": result.start,
                "method": "differential evolution (scipy) over an SE-weighted simulated distance "
                "with common random numbers; finalists re-simulated on fresh seeds; standard "
                "errors from the Jacobian of the targets at the fit (simulated method of moments)",
                "settings": {
                    "min_spells": settings.min_spells,
                    "max_replicates": settings.max_replicates,
                },
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
            }
        ),
    )
    written.append(out / "calibration.json")
    spells = result.check_spells.copy()
    spells["which"] = np.where(spells["point_id"] == 0, "start", "fitted")
    curves = km_curves(spells, "which", ends=("formal",))
    checks = {"start": result.check_start, "fitted": result.check}
    fig = figures.calibration_figure(curves, targets, checks, targets.life_table)
    written += figures.save_figure(fig, out / "figures", "calibration_fit")
    return written
