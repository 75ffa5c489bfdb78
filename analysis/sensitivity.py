"""Global sensitivity of spell durations to the model parameters (SALib).

Two outputs per parameter point, from the spells formed after the burn-in (common random
numbers across points, :mod:`analysis.evaluation`):

* ``median_years`` — Kaplan–Meier median survival of the formal end, in years. Where the curve
  does not reach 0.5 within the observation window the median is recorded as the window's
  length (a lower bound), so that every point has a number;
* ``abrogation_share`` — share of ended spells ended by abrogation.

Methods: Morris elementary effects (screening, ``samples`` trajectories, (D + 1) points each)
and Sobol indices (Saltelli/Sobol' sampling, ``samples`` base points, N (D + 2) points, first-
order and total indices). SALib samples and analyses; this module only runs the points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.evaluation import ParameterRange, PointEvaluator, SimulationSettings
from analysis.results import AnalysisError

METHODS = ("morris", "sobol")
OUTPUTS = ("median_years", "abrogation_share")
MORRIS_LEVELS = 4


def problem(space: Sequence[ParameterRange]) -> dict:
    """The SALib problem dict of a parameter space."""
    return {
        "num_vars": len(space),
        "names": [r.name for r in space],
        "bounds": [[r.low, r.high] for r in space],
    }


def sample(
    space: Sequence[ParameterRange], method: str, samples: int, *, seed: int = 0
) -> np.ndarray:
    """Parameter values to run (rows), drawn by SALib."""
    if method not in METHODS:
        raise AnalysisError(f"--method {method}: expected one of {', '.join(METHODS)}")
    if samples < 2:
        raise AnalysisError(f"--samples {samples}: expected at least 2")
    spec = problem(space)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(spec, samples, num_levels=MORRIS_LEVELS, seed=seed)
    from SALib.sample import sobol

    return sobol.sample(spec, samples, calc_second_order=False, scramble=True, seed=seed)


def sobol_base_samples(samples: int) -> int:
    """Sobol' sequences balance at powers of two: the next one up from ``samples``."""
    return 1 << max(1, math.ceil(math.log2(samples)))


def indices(
    space: Sequence[ParameterRange],
    method: str,
    X: np.ndarray,
    outputs: pd.DataFrame,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """SALib's indices for each output column: one row per (output, parameter)."""
    spec = problem(space)
    frames = []
    for output in outputs.columns:
        Y = outputs[output].to_numpy(dtype=float)
        if method == "morris":
            from SALib.analyze import morris

            result = morris.analyze(spec, X, Y, num_levels=MORRIS_LEVELS, seed=seed)
            frame = pd.DataFrame(
                {
                    "parameter": spec["names"],
                    "mu": result["mu"],
                    "mu_star": result["mu_star"],
                    "mu_star_conf": result["mu_star_conf"],
                    "sigma": result["sigma"],
                }
            )
        else:
            from SALib.analyze import sobol

            result = sobol.analyze(spec, Y, calc_second_order=False, seed=seed)
            frame = pd.DataFrame(
                {
                    "parameter": spec["names"],
                    "S1": result["S1"],
                    "S1_conf": result["S1_conf"],
                    "ST": result["ST"],
                    "ST_conf": result["ST_conf"],
                }
            )
        frame.insert(0, "output", output)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@dataclass
class SensitivityResult:
    method: str
    space: tuple[ParameterRange, ...]
    samples: int
    points: pd.DataFrame  # parameter values, outputs and the raw statistics
    indices: pd.DataFrame
    imputed: dict[str, int]  # output -> points where it was undefined and imputed
    runs_used: int


def outputs_of(stats: pd.DataFrame, window_years: float) -> tuple[pd.DataFrame, dict[str, int]]:
    """The two outputs from per-point statistics; undefined values (no ended spell: no
    abrogation share; no spell at all) are imputed by the output's mean and counted."""
    median = stats["median"].to_numpy(dtype=float).copy()
    median[np.isinf(median)] = window_years
    out = pd.DataFrame(
        {
            "median_years": median,
            "abrogation_share": stats["abrogation_share"].to_numpy(dtype=float),
        }
    )
    failed = stats.get("failed_runs", pd.Series(0, index=stats.index)).to_numpy() > 0
    out.loc[failed, :] = np.nan
    imputed = {}
    for column in out.columns:
        missing = out[column].isna()
        imputed[column] = int(missing.sum())
        if missing.all():
            raise AnalysisError(
                f"sensitivity: {column} is undefined at every point (no spell formed after the "
                "burn-in, or none ended): widen the ranges, lengthen the horizon or shorten "
                "--burn-in"
            )
        out.loc[missing, column] = out[column].mean()
    return out, imputed


def run_sensitivity(
    settings: SimulationSettings,
    space: Sequence[ParameterRange],
    *,
    method: str = "morris",
    samples: int = 10,
    workers: int = 2,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    engine=None,
) -> SensitivityResult:
    """Sample the space with SALib, simulate every point (one batch), and compute the indices."""
    space = tuple(space)
    if method == "sobol":
        samples = sobol_base_samples(samples)
    X = sample(space, method, samples, seed=seed)
    say = progress or (lambda message: None)
    say(
        f"{method}: {len(X)} points x at least {settings.replicates} replicates "
        f"= {len(X) * settings.replicates} runs or more"
    )
    points = [
        {
            r.name: float(round(v)) if r.integer else float(v)
            for r, v in zip(space, row, strict=True)
        }
        for row in X
    ]
    with PointEvaluator(settings, workers=workers, weibull=False, engine=engine) as evaluator:
        stats = evaluator.evaluate(points)
        runs_used = evaluator.runs_used
    outputs, imputed = outputs_of(stats, settings.window_years)
    table = indices(space, method, X, outputs, seed=seed)
    frame = pd.concat(
        [
            stats[[r.name for r in space]].reset_index(drop=True),
            outputs,
            stats.drop(columns=[r.name for r in space]).add_prefix("stat_").reset_index(drop=True),
        ],
        axis=1,
    )
    return SensitivityResult(method, space, samples, frame, table, imputed, runs_used)
