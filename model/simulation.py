"""Running the kernel on arrays without Mesa: the shared loop of the fast paths.

``AllianceModel.simulate`` and the batch engine (runs/engine.py) both call :func:`advance`, so a
seed gives the same spells through Mesa, one whole-run call, or a batch of thousands.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from model.arrays import EV_START, EventTable, Records, SpellTable, WorldArrays
from model.kernel import STEP_DONE, run_steps, run_twin_steps
from model.scenario import Scenario, build_world


def initial_capacity(world: WorldArrays, events: EventTable) -> int:
    """Spell rows to allocate up front (the table doubles when a run needs more)."""
    starts = int(np.count_nonzero(events.kind == EV_START))
    return max(64, 2 * world.n_states + starts)


def advance(
    t: int,
    stop: int,
    run_seed: np.uint64,
    params: np.ndarray,
    world: WorldArrays,
    spells: SpellTable,
    events: EventTable,
    records: Records,
) -> SpellTable:
    """Run steps ``t .. stop-1`` in compiled code; returns the (possibly grown) spell table."""
    resume = STEP_DONE
    while t < stop:
        status, t = run_steps(t, stop, run_seed, params, world, spells, events, records, resume)
        if status == STEP_DONE:
            break
        spells = spells.grown(2 * spells.capacity)
        resume = status
    return spells


def copy_world(template: WorldArrays) -> WorldArrays:
    return WorldArrays(*(a.copy() for a in template))


class RunArrays(NamedTuple):
    """What one run leaves behind, as arrays (cheap to collect over many runs)."""

    spells: SpellTable
    records: Records
    steps_done: int


def simulate_arrays(
    scenario: Scenario,
    run_seed: np.uint64,
    steps: int,
    *,
    frozen: np.ndarray | None = None,
    record_states: bool = False,
    template: tuple[WorldArrays, EventTable] | None = None,
) -> RunArrays:
    """One whole run from the scenario's start, no Mesa objects (the batch engine's unit)."""
    world, events = template if template is not None else build_world(scenario)
    world = copy_world(world)
    if frozen is not None:
        world.frozen[:] = frozen
    spells = SpellTable.empty(initial_capacity(world, events), len(scenario.norms))
    records = Records.empty(steps, world.n_states, len(scenario.norms), record_states)
    params = scenario.parameters.to_array()
    spells = advance(0, steps, run_seed, params, world, spells, events, records)
    return RunArrays(spells, records, steps)


def simulate_twin_arrays(
    scenario: Scenario,
    run_seed: np.uint64,
    steps: int,
    frozen: np.ndarray,
    *,
    template: tuple[WorldArrays, EventTable] | None = None,
    record_states: bool = False,
) -> tuple[RunArrays, RunArrays]:
    """A run and its twin with credibility frozen where ``frozen`` is true (MODEL.md §3 item
    12), stepped side by side in one compiled call that draws the drift and acts once for both.
    Each equals :func:`simulate_arrays` of its own (tested)."""
    world, events = template if template is not None else build_world(scenario)
    world, twin = copy_world(world), copy_world(world)
    twin.frozen[:] = frozen
    k = len(scenario.norms)
    spells = SpellTable.empty(initial_capacity(world, events), k)
    twin_spells = SpellTable.empty(initial_capacity(world, events), k)
    records = Records.empty(steps, world.n_states, k, record_states)
    twin_records = Records.empty(steps, world.n_states, k, False)
    params = scenario.parameters.to_array()
    t, resume, resume_twin = 0, STEP_DONE, STEP_DONE
    while t < steps:
        status, t, which = run_twin_steps(
            t, steps, run_seed, params, world, spells, records,
            twin, twin_spells, twin_records, events, resume, resume_twin,
        )  # fmt: skip
        if status == STEP_DONE:
            break
        if which == 0:
            spells = spells.grown(2 * spells.capacity)
            resume, resume_twin = status, STEP_DONE
        else:
            twin_spells = twin_spells.grown(2 * twin_spells.capacity)
            resume, resume_twin = STEP_DONE, status
    return RunArrays(spells, records, steps), RunArrays(twin_spells, twin_records, steps)
