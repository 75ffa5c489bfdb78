"""``AllianceModel``: the Mesa model that owns the arrays, the agents and the partnership graph."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mesa
import networkx as nx
import pandas as pd

from agents.state import State
from model.arrays import (
    AGG_FIXED,
    AGGREGATE_COLUMNS,
    CAUSE_NAMES,
    Records,
    SpellTable,
)
from model.kernel import STEP_DONE, step_world
from model.parameters import Parameters
from model.records import spells_frame, states_frame, timeseries_frame
from model.rng import derive_run_seed
from model.scenario import DEFAULT_SCENARIO, Scenario, build_world, load_scenario
from model.simulation import advance, initial_capacity

RECENTLY_ENDED_MONTHS = 24  # ended partnerships stay in the graph this long (for the browser view)


class AllianceModel(mesa.Model):
    """Partnerships between states held by interests and eroded by contradiction.

    Parameters
    ----------
    scenario
        A built-in scenario name, a path to a scenario TOML file, or a loaded
        :class:`~model.scenario.Scenario`. Default: the Russia–DPRK scenario.
    parameters
        Overrides of the scenario's parameters (a dict or a :class:`Parameters`).
    steps
        Months to simulate (default: the scenario's horizon). Stepping past it is allowed.
    record_states
        Keep per-state series of credibility and tension (``states_frame``).
    frozen
        States whose credibility is held fixed (``True``: all; the frozen twin of MODEL.md §3.12).
    agent_class
        The state agent class; a subclass of :class:`agents.State` with its own decision rule.
    rng
        Seed or generator, passed to :class:`mesa.Model`; the kernel's run seed is drawn from it.
    """

    def __init__(
        self,
        *,
        scenario: str | Path | Scenario = DEFAULT_SCENARIO,
        parameters: dict[str, Any] | Parameters | None = None,
        steps: int | None = None,
        record_states: bool = True,
        frozen: bool | Iterable[str] = False,
        agent_class: type[State] = State,
        rng: Any = None,
    ) -> None:
        super().__init__(rng=rng)
        spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if isinstance(parameters, Parameters):
            spec = spec.with_parameters(**parameters.as_dict())
        elif parameters:
            spec = spec.with_parameters(**parameters)
        self.scenario_spec: Scenario = spec
        self.parameters: Parameters = spec.parameters
        self.param_array = spec.parameters.to_array()
        self.run_seed = derive_run_seed(self.rng)
        self.world, self.events = build_world(spec)
        self._freeze(frozen)
        n, k = len(spec.states), len(spec.norms)
        self.spells = SpellTable.empty(initial_capacity(self.world, self.events), k)
        self.horizon = int(steps if steps is not None else spec.steps)
        if self.horizon < 1:
            raise ValueError(f"steps={self.horizon}: expected at least 1 month")
        self.records = Records.empty(self.horizon, n, k, record_states)
        self.steps_done = 0

        self.agent_class = agent_class
        self.states: list[State] = [
            agent_class(self, index=i, name=s.name) for i, s in enumerate(spec.states)
        ]
        self.graph = nx.Graph()
        self.graph.add_nodes_from(s.name for s in spec.states)
        self.datacollector = mesa.DataCollector(
            model_reporters={
                name: (lambda m, c=c: m.records.aggregate[m.steps_done - 1, c])
                for c, name in enumerate(
                    list(AGGREGATE_COLUMNS) + [f"credibility_{x}" for x in spec.norms]
                )
            }
        )
        self.running = True

    # ------------------------------------------------------------------ set-up helpers

    def _freeze(self, frozen: bool | Iterable[str]) -> None:
        names = self.scenario_spec.state_names
        if frozen is True:
            self.world.frozen[:] = True
            return
        if frozen is False:
            return
        for name in frozen:
            if name not in names:
                raise ValueError(
                    f"frozen: unknown state {name!r}; expected one of {', '.join(names)}"
                )
            self.world.frozen[names.index(name)] = True

    def _ensure_room(self, steps: int) -> None:
        if self.records.aggregate.shape[0] < steps:
            self.records = self.records.grown(max(steps, 2 * self.records.aggregate.shape[0]))

    # ------------------------------------------------------------------ stepping

    @property
    def date(self):
        """The month the next step simulates (after the last step: the month after it)."""
        return self.scenario_spec.date_of(self.steps_done)

    def partners_of(self, index: int) -> list[tuple[State, int, int]]:
        """Active partners of state ``index`` as (agent, spell row, own side)."""
        out = []
        sp = self.spells
        for row in sp.active[: sp.n_active[0]]:
            a, b = sp.member_a[row], sp.member_b[row]
            if a == index:
                out.append((self.states[b], int(row), 0))
            elif b == index:
                out.append((self.states[a], int(row), 1))
        return out

    def step(self) -> None:
        """One month: agents decide, then the kernel updates (MODEL.md §3)."""
        self.agents.do("step")
        t = self.steps_done
        self._ensure_room(t + 1)
        status = step_world(
            t,
            self.run_seed,
            self.param_array,
            self.world,
            self.spells,
            self.events,
            self.records,
            STEP_DONE,
        )
        while status != STEP_DONE:
            self.spells = self.spells.grown(2 * self.spells.capacity)
            status = step_world(
                t,
                self.run_seed,
                self.param_array,
                self.world,
                self.spells,
                self.events,
                self.records,
                status,
            )
        self.steps_done = t + 1
        self._sync_graph()
        self.datacollector.collect(self)
        if self.steps_done >= self.horizon:
            self.running = False

    def simulate(self, steps: int | None = None) -> AllianceModel:
        """Run ``steps`` months (default: to the horizon) in one compiled call.

        Gives exactly what as many :meth:`step` calls give. With a custom decision rule
        (a :class:`State` subclass that overrides it) it steps through Mesa instead.
        """
        stop = self.horizon if steps is None else self.steps_done + int(steps)
        if not self.agent_class.uses_reference_rule():
            while self.steps_done < stop:
                self.step()
            return self
        self._ensure_room(stop)
        self.spells = advance(
            self.steps_done,
            stop,
            self.run_seed,
            self.param_array,
            self.world,
            self.spells,
            self.events,
            self.records,
        )
        self.steps_done = stop
        self._sync_graph()
        if self.steps_done >= self.horizon:
            self.running = False
        return self

    def _sync_graph(self) -> None:
        """Mirror the spell table into ``self.graph`` (active and recently ended partnerships)."""
        sp, names, t = self.spells, self.scenario_spec.state_names, self.steps_done - 1
        self.graph.clear_edges()
        for row in range(int(sp.count[0])):
            end = int(sp.formal_end[row])
            if end >= 0 and t - end > RECENTLY_ENDED_MONTHS:
                continue
            a, b = names[sp.member_a[row]], names[sp.member_b[row]]
            if end >= 0 and self.graph.has_edge(a, b) and self.graph.edges[a, b]["active"]:
                continue  # the pair has re-formed; show the active spell
            self.graph.add_edge(
                a,
                b,
                spell=row,
                active=end < 0,
                strength=float(sp.strength[row]),
                since=int(sp.start[row]),
                ended=end,
                cause=CAUSE_NAMES[sp.cause[row]],
                treaty=bool(sp.treaty[row]),
            )

    # ------------------------------------------------------------------ results

    def spells_frame(self, *, run_id: int = 0, seed: int = 0) -> pd.DataFrame:
        return spells_frame(
            self.scenario_spec, self.spells, self.steps_done, run_id=run_id, seed=seed
        )

    def timeseries_frame(self) -> pd.DataFrame:
        return timeseries_frame(self.scenario_spec, self.records, self.steps_done)

    def states_frame(self) -> pd.DataFrame:
        return states_frame(self.scenario_spec, self.records, self.steps_done)

    def mean_credibility(self) -> dict[str, float]:
        """Current mean credibility per norm."""
        c = self.world.credibility.mean(axis=0)
        return dict(zip(self.scenario_spec.norms, c.tolist(), strict=True))


assert len(AGGREGATE_COLUMNS) == AGG_FIXED
