"""The experiment vocabulary: sweep points × replicates, seeds, and sweep files.

An :class:`Experiment` is a scenario, a list of parameter *points* (each a dict of overrides), a
number of replicates per point, a horizon and a master seed. Runs are numbered
``run_id = point_id * replicates + replicate``; run ``r``'s seed is the ``r``-th child of
``SeedSequence(master_seed)`` (as ``SeedSequence.spawn`` would make it), computed on demand so a
chunk of runs needs no list of all seeds, and any run can be re-run alone from its row.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.parameters import ParameterError, Parameters
from model.scenario import Scenario, ScenarioError

SERIES_MODES = ("point", "run", "none")


def run_seed_integer(master_seed: int, run_id: int) -> int:
    """The integer seed of run ``run_id`` (child ``run_id`` of ``SeedSequence(master_seed)``)."""
    child = np.random.SeedSequence(master_seed, spawn_key=(run_id,))
    return int(child.generate_state(1, np.uint64)[0])


@dataclass(frozen=True)
class Experiment:
    scenario: Scenario
    points: tuple[dict[str, float], ...] = ({},)
    replicates: int = 1
    steps: int | None = None
    master_seed: int = 0
    twins: bool = False
    series: str = "point"
    per_state: bool = False
    sweep_text: str = ""
    frozen_states: tuple[str, ...] = ()  # twins freeze only these states ((): all states)

    def __post_init__(self) -> None:
        if self.replicates < 1:
            raise ParameterError(f"replicates={self.replicates}: expected at least 1")
        if self.series not in SERIES_MODES:
            raise ParameterError(
                f"series={self.series!r}: expected one of {', '.join(SERIES_MODES)}"
            )
        for name in self.frozen_states:
            if name not in self.scenario.state_names:
                raise ScenarioError(
                    f"{self.scenario.source}: frozen state {name!r} is not in the scenario; "
                    "expected "
                    f"one of {', '.join(self.scenario.state_names)}"
                )
        names = set(Parameters.names())
        for n, point in enumerate(self.points):
            unknown = sorted(set(point) - names)
            if unknown:
                raise ParameterError(
                    f"point {n}: unknown parameter {unknown[0]!r}; "
                    f"expected one of {', '.join(sorted(names))}"
                )

    @property
    def horizon(self) -> int:
        return int(self.steps if self.steps is not None else self.scenario.steps)

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.replicates

    def run(self, run_id: int) -> tuple[int, int, int]:
        """``(point_id, replicate, seed)`` of a run."""
        point_id, replicate = divmod(run_id, self.replicates)
        return point_id, replicate, run_seed_integer(self.master_seed, run_id)

    def twin_frozen_mask(self) -> np.ndarray:
        """Which states the credibility-frozen twin holds fixed."""
        names = self.scenario.state_names
        if not self.frozen_states:
            return np.ones(len(names), np.bool_)
        return np.array([n in self.frozen_states for n in names], np.bool_)

    def point_parameters(self, point_id: int) -> Parameters:
        """The parameters of a point (raises ParameterError for inadmissible combinations)."""
        return self.scenario.parameters.replace(**self.points[point_id])


@dataclass
class SweepSpec:
    """A sweep file's content, before the scenario is loaded."""

    scenario: str = "russia-dprk-2023"
    replicates: int = 10
    steps: int | None = None
    master_seed: int = 0
    events: list[str] = field(default_factory=list)
    fixed: dict[str, float] = field(default_factory=dict)
    grid: dict[str, list[float]] = field(default_factory=dict)
    lhs: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: int = 0
    text: str = ""

    def points(self) -> tuple[dict[str, float], ...]:
        """Full factorial over ``grid`` × Latin-hypercube samples over ``lhs``, each with
        ``fixed``."""
        names = list(self.grid)
        grid_points = [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]
        lhs_points: list[dict[str, float]] = [{}]
        if self.lhs:
            from scipy.stats import qmc

            sampler = qmc.LatinHypercube(d=len(self.lhs), seed=self.master_seed)
            unit = sampler.random(self.samples)
            lows = np.array([lo for lo, _ in self.lhs.values()])
            highs = np.array([hi for _, hi in self.lhs.values()])
            scaled = qmc.scale(unit, lows, highs) if len(self.lhs) else unit
            lhs_points = [
                {name: float(v) for name, v in zip(self.lhs, row, strict=True)} for row in scaled
            ]
        return tuple({**self.fixed, **g, **h} for g in grid_points for h in lhs_points)


def parse_sweep_file(path: str | Path) -> SweepSpec:
    """Read and validate a sweep TOML file (format: docs/batch.md); one-line errors."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the sweep file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return sweep_from_dict(data, str(path), text)


def sweep_from_dict(data: dict[str, Any], where: str, text: str = "") -> SweepSpec:
    def fail(field_name: str, message: str) -> ScenarioError:
        return ScenarioError(f"{where}: {field_name}: {message}")

    allowed = {"batch", "parameters", "grid", "lhs"}
    for key in data:
        if key not in allowed:
            raise fail(key, f"unknown table; expected one of: {', '.join(sorted(allowed))}")
    batch = data.get("batch", {})
    if not isinstance(batch, dict):
        raise fail("batch", "expected a table")
    spec = SweepSpec(text=text)
    kinds = {
        "scenario": str,
        "replicates": int,
        "steps": int,
        "master_seed": int,
        "events": list,
        "samples": int,
    }
    for key, value in batch.items():
        if key not in kinds:
            raise fail(f"batch.{key}", f"unknown field; expected one of: {', '.join(kinds)}")
        if isinstance(value, bool) or not isinstance(value, kinds[key]):
            raise fail(f"batch.{key}", f"expected {kinds[key].__name__}, got {value!r}")
    spec.scenario = batch.get("scenario", spec.scenario)
    spec.replicates = batch.get("replicates", spec.replicates)
    spec.steps = batch.get("steps")
    spec.master_seed = batch.get("master_seed", 0)
    spec.events = [str(e) for e in batch.get("events", [])]
    spec.samples = batch.get("samples", 0)
    lhs_table = data.get("lhs", {})
    if isinstance(lhs_table, dict) and "samples" in lhs_table:  # [lhs] samples = N is allowed too
        lhs_table = dict(lhs_table)
        samples = lhs_table.pop("samples")
        if isinstance(samples, bool) or not isinstance(samples, int):
            raise fail("lhs.samples", f"expected a whole number, got {samples!r}")
        spec.samples = samples
        data = {**data, "lhs": lhs_table}
    if spec.replicates < 1:
        raise fail("batch.replicates", f"expected at least 1, got {spec.replicates}")
    if spec.steps is not None and spec.steps < 1:
        raise fail("batch.steps", f"expected at least 1, got {spec.steps}")
    if spec.master_seed < 0:
        raise fail("batch.master_seed", f"expected a whole number >= 0, got {spec.master_seed}")
    names = set(Parameters.names())

    def check_name(table: str, name: str) -> None:
        if name not in names:
            raise fail(
                f"{table}.{name}", f"unknown parameter; expected one of: {', '.join(sorted(names))}"
            )

    for name, value in data.get("parameters", {}).items():
        check_name("parameters", name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"parameters.{name}", f"expected a number, got {value!r}")
        spec.fixed[name] = float(value)
    for name, values in data.get("grid", {}).items():
        check_name("grid", name)
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        ):
            raise fail(f"grid.{name}", f"expected a non-empty list of numbers, got {values!r}")
        spec.grid[name] = [float(v) for v in values]
    for name, bounds in data.get("lhs", {}).items():
        check_name("lhs", name)
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bounds)
            or not bounds[0] < bounds[1]
        ):
            raise fail(f"lhs.{name}", f"expected [low, high] with low < high, got {bounds!r}")
        spec.lhs[name] = (float(bounds[0]), float(bounds[1]))
    if spec.lhs and spec.samples < 1:
        raise fail("batch.samples", "expected samples >= 1 with an [lhs] table")
    # Range-check every value now, so that a typo fails before any work starts. Combinations
    # (w_init < w_func at one point) are recorded as that point's run errors instead.
    limits = Parameters.describe()
    values = [("parameters", n, v) for n, v in spec.fixed.items()]
    values += [("grid", n, v) for n, vs in spec.grid.items() for v in vs]
    values += [("lhs", n, v) for n, vs in spec.lhs.items() for v in vs]
    for table, name, value in values:
        low, high = limits[name]["low"], limits[name]["high"]
        if not low <= value <= high:
            raise fail(
                f"{table}.{name}",
                f"{value!r} is out of range; expected a number in [{low}, {high}]",
            )
    return spec
