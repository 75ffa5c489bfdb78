"""Simulated duration statistics at many parameter points, through the batch runner.

Calibration and sensitivity analysis both ask one question many times: *at these parameter
values, what are S(1), ..., S(20), the median, the abrogation share and the Weibull shape of the
spells formed after a burn-in?* :func:`evaluate_points` answers it for a whole population of
points at once, as one :class:`~runs.experiment.Experiment` run by the batch engine
(``run_experiment`` with a ``LocalEngine``): analysis never steps the model itself.

Common random numbers: every point uses the same run seeds (replicate ``r`` of every point has
the seed of run ``r``), so two points differ only by their parameters, not by luck; an optimiser
then sees a deterministic function of the parameters.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.results import AnalysisError
from analysis.survival import DEFAULT_TIMES, duration_statistics
from model.parameters import ParameterError, Parameters
from model.scenario import Scenario
from runs.experiment import Experiment, run_seed_integer

DEFAULT_WORLD = "synthetic:n_states=20,steps=600"
DEFAULT_BURN_IN = 120  # months: formation at t = 0 is an artefact of the empty initial world


@dataclass(frozen=True)
class ParameterRange:
    """A model parameter searched or varied between ``low`` and ``high``."""

    name: str
    low: float
    high: float
    integer: bool = False


# Default searched set (issue 5): legal inertia, upkeep, responsiveness, formation and
# exogenous ends, and the treaty mix. Bounds: the plausible region around both columns of
# MODEL.md §3's table, inside the admissible ranges of model/parameters.py.
DEFAULT_SPACE: tuple[ParameterRange, ...] = (
    ParameterRange("kappa_pact", 0.2, 6.0),
    ParameterRange("kappa_treaty", 0.01, 1.0),
    ParameterRange("upkeep", 0.02, 0.25),
    ParameterRange("gamma", 0.05, 1.0),
    ParameterRange("rho", 0.01, 0.3),
    ParameterRange("u_form", -0.05, 0.2),
    ParameterRange("h_exo", 0.0, 0.006),
    ParameterRange("treaty_share", 0.0, 1.0),
    ParameterRange("treaty_term_years", 0.0, 30.0),
)


def parse_space(items: Sequence[str]) -> tuple[ParameterRange, ...]:
    """``["kappa_pact=0.2:6", ...]`` -> ranges, checked against the parameters' admissible ranges.

    An empty list gives :data:`DEFAULT_SPACE`. Raises :class:`ParameterError` (one line).
    """
    if not items:
        return DEFAULT_SPACE
    limits = Parameters.describe()
    integers = {f.name for f in dataclasses.fields(Parameters) if f.metadata.get("integer")}
    out: list[ParameterRange] = []
    for item in items:
        name, sep, bounds = item.partition("=")
        low_text, colon, high_text = bounds.partition(":")
        name = name.strip()
        if not sep or not colon:
            raise ParameterError(
                f"--param {item!r}: expected NAME=LOW:HIGH, e.g. --param rho=0.01:0.3"
            )
        if name not in limits:
            raise ParameterError(
                f"--param {item!r}: unknown parameter {name!r}; expected one of {', '.join(limits)}"
            )
        try:
            low, high = float(low_text), float(high_text)
        except ValueError:
            raise ParameterError(f"--param {item!r}: expected numbers LOW:HIGH") from None
        lo_ok, hi_ok = limits[name]["low"], limits[name]["high"]
        if not (lo_ok <= low < high <= hi_ok):
            raise ParameterError(f"--param {item!r}: expected {lo_ok} <= LOW < HIGH <= {hi_ok}")
        if any(r.name == name for r in out):
            raise ParameterError(f"--param {item!r}: {name} is given twice")
        out.append(ParameterRange(name, low, high, name in integers))
    return tuple(out)


@dataclass(frozen=True)
class CommonSeedExperiment(Experiment):
    """An experiment whose points share their seeds: replicate ``r`` of every point gets the seed
    of run ``first_replicate + r`` of the master seed (common random numbers), so that extra
    replicates of some points continue the same seed sequence. ``runs.csv`` records each seed."""

    first_replicate: int = 0

    def run(self, run_id: int) -> tuple[int, int, int]:
        point_id, replicate = divmod(run_id, self.replicates)
        return (
            point_id,
            replicate,
            run_seed_integer(self.master_seed, self.first_replicate + replicate),
        )


@dataclass
class SimulationSettings:
    """Where and how points are simulated: world, horizon, burn-in, replicates, seeds.

    Each point gets ``replicates`` runs; a point whose runs form fewer than ``min_spells``
    spells after the burn-in gets more (doubling, up to ``max_replicates``), so that every
    point's statistics rest on a sample comparable to the empirical one (ATOP: 365 alliances)
    rather than on a handful of spells whose luck an optimiser would chase.
    """

    scenario: Scenario
    replicates: int = 4
    steps: int | None = None
    burn_in: int = DEFAULT_BURN_IN
    master_seed: int = 0
    fixed: dict[str, float] = field(default_factory=dict)
    times: tuple[float, ...] = DEFAULT_TIMES
    min_spells: int = 0
    max_replicates: int | None = None

    def __post_init__(self) -> None:
        if self.replicates < 1:
            raise ParameterError(f"--replicates {self.replicates}: expected at least 1")
        if self.max_replicates is not None and self.max_replicates < self.replicates:
            raise ParameterError(
                f"--max-replicates {self.max_replicates}: expected at least --replicates "
                f"({self.replicates})"
            )
        horizon = self.horizon
        if not 0 <= self.burn_in < horizon:
            raise ParameterError(
                f"--burn-in {self.burn_in}: expected 0 <= burn-in < the horizon ({horizon} months)"
            )

    @property
    def horizon(self) -> int:
        return int(self.steps if self.steps is not None else self.scenario.steps)

    @property
    def window_years(self) -> float:
        """Longest duration a spell formed after the burn-in can show, in years."""
        return (self.horizon - 1 - self.burn_in) / 12.0


def _statistics_job(args):
    spells, burn_in, times, weibull = args
    return duration_statistics(spells, burn_in=burn_in, times=times, weibull=weibull)


class PointEvaluator:
    """Simulate populations of parameter points and summarise each point's spells.

    ``workers`` processes run the simulations (``LocalEngine``) and then the statistics (a
    Weibull fit per point costs about as much as the point's simulations).
    """

    def __init__(
        self, settings: SimulationSettings, *, workers: int = 1, weibull: bool = True, engine=None
    ) -> None:
        import lifelines  # noqa: F401 - imported once here, inherited by the forked workers

        from runs.engine import LocalEngine

        self.settings = settings
        self.workers = max(1, int(workers))
        self.weibull = weibull
        self.engine = engine or LocalEngine(self.workers)
        self.runs_used = 0
        self._pool: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> PointEvaluator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def evaluate(
        self,
        points: Sequence[dict[str, float]],
        *,
        seed_offset: int = 0,
        replicates: int | None = None,
        with_spells: bool = False,
        adaptive: bool = True,
    ):
        """One row per point: its parameters, then the statistics (NaN where runs failed),
        ``replicates`` (runs used for it) and ``failed_runs``.

        ``seed_offset`` selects another stream of common seeds (e.g. for an out-of-sample check);
        ``replicates`` overrides the settings' minimum; ``adaptive=False`` runs exactly that many
        (every point on the same seeds). With ``with_spells``, returns
        ``(statistics, spells)``: the spells formed after the burn-in, with their ``point_id``.
        """
        s = self.settings
        first = replicates or s.replicates
        ceiling = max(first, s.max_replicates or first) if adaptive else first
        full = tuple({**s.fixed, **p} for p in points)
        spells, runs = self._simulate(full, list(range(len(full))), first, 0, seed_offset)
        done = np.full(len(full), first)
        while True:
            counts = spells[spells["start_step"] >= s.burn_in].groupby("point_id").size()
            failed = set(runs.loc[runs["status"] != "ok", "point_id"])
            needy = [
                p
                for p in range(len(full))
                if counts.get(p, 0) < s.min_spells and p not in failed and done[p] < ceiling
            ]
            if not needy:
                break
            extra = int(min(ceiling - done[needy[0]], done[needy[0]]))  # needy points share done
            more_spells, more_runs = self._simulate(
                full, needy, extra, int(done[needy[0]]), seed_offset
            )
            spells = pd.concat([spells, more_spells], ignore_index=True)
            runs = pd.concat([runs, more_runs], ignore_index=True)
            done[needy] += extra
        kept = spells[spells["start_step"] >= s.burn_in].reset_index(drop=True)
        by_point = dict(tuple(kept.groupby("point_id", sort=True)))
        empty = kept.iloc[:0]
        jobs = [(by_point.get(p, empty), 0, s.times, self.weibull) for p in range(len(full))]
        stats = list(self._map(jobs))
        rows = []
        for p, (point, stat) in enumerate(zip(full, stats, strict=True)):
            row = {**point, **stat, "replicates": int(done[p]), "failed_runs": 0}
            errors = runs.loc[(runs["point_id"] == p) & (runs["status"] != "ok")]
            if len(errors):
                row["failed_runs"] = len(errors)
                row["error"] = str(errors["error"].iloc[0])
            rows.append(row)
        if with_spells:
            return pd.DataFrame(rows), kept
        return pd.DataFrame(rows)

    def _simulate(
        self, full, which: list[int], replicates: int, first_replicate: int, seed_offset: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Run points ``which`` of ``full``; spells and runs with ``point_id`` as in ``full``."""
        from runs.batch import run_experiment

        s = self.settings
        experiment = CommonSeedExperiment(
            scenario=s.scenario,
            points=tuple(full[p] for p in which),
            replicates=replicates,
            steps=s.horizon,
            master_seed=s.master_seed + seed_offset,
            series="none",
            first_replicate=first_replicate,
        )
        result = run_experiment(experiment, engine=self.engine)
        self.runs_used += experiment.n_runs
        index = np.asarray(which)
        spells = result.spells.assign(point_id=index[result.spells["point_id"].to_numpy()])
        runs = result.runs.assign(point_id=index[result.runs["point_id"].to_numpy()])
        return spells, runs

    def _map(self, jobs):
        if self.workers == 1 or len(jobs) < 2:
            return map(_statistics_job, jobs)
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork")
            )
        chunk = max(1, len(jobs) // (4 * self.workers))
        return self._pool.map(_statistics_job, jobs, chunksize=chunk)


def scale_points(unit: np.ndarray, space: Sequence[ParameterRange]) -> list[dict[str, float]]:
    """Rows of ``unit`` (values in [0, 1]) -> parameter dicts in the space's bounds."""
    lows = np.array([r.low for r in space])
    highs = np.array([r.high for r in space])
    values = lows + np.clip(unit, 0.0, 1.0) * (highs - lows)
    points = []
    for row in np.atleast_2d(values):
        point = {}
        for r, v in zip(space, row, strict=True):
            point[r.name] = float(np.round(v)) if r.integer else float(v)
        points.append(point)
    return points


def check_space(
    space: Sequence[ParameterRange], scenario: Scenario, fixed: dict[str, float]
) -> None:
    """Fail early (one line) if the space's corners cannot be simulated (e.g. w_init < w_func)."""
    for corner in ("low", "high"):
        values = {r.name: getattr(r, corner) for r in space}
        try:
            scenario.parameters.replace(**{**fixed, **values})
        except ParameterError as exc:
            raise AnalysisError(f"parameter space: at every {corner} bound, {exc}") from None
