"""Running the kernel on arrays without Mesa: the shared loop of the fast paths.

``AllianceModel.simulate`` and the batch engine (runs/engine.py) both call :func:`advance`, so a
seed gives the same spells through Mesa, one whole-run call, or a batch of thousands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from model.arrays import AGG_FIXED, EV_START, EventTable, Records, SpellTable, WorldArrays
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


def packed_world(template: WorldArrays) -> tuple[np.ndarray, WorldArrays]:
    """A copy of ``template`` laid out in one byte buffer, so that a whole world is copied in one
    go: returns ``(buffer, world)``, the world's arrays being views of the buffer. Each array
    starts at a 64-byte boundary and is C-ordered, writable and aligned, as :func:`copy_world`
    makes them (the compiled kernel sees the same types: no new compilation; tested)."""
    offsets, size = [], 0
    for array in template:
        offsets.append(size)
        size += -(-array.nbytes // 64) * 64
    raw = np.zeros(size + 64, np.uint8)
    start = -raw.ctypes.data % 64
    buffer = raw[start : start + size]
    world = WorldArrays(
        *(
            buffer[offset : offset + array.nbytes].view(array.dtype).reshape(array.shape)
            for offset, array in zip(offsets, template, strict=True)
        )
    )
    for target, source in zip(world, template, strict=True):
        target[...] = source
    return buffer, world


@dataclass
class RunBuffers:
    """Arrays reused from one run to the next (the batch engine's runs of a chunk), instead of
    allocating a world, spell tables and series per run.

    A run's world is one copy of a packed copy of its template (:func:`packed_world`); a spell
    table is reset (its counters: :func:`~model.kernel.open_spell` writes every field of a new
    row, and nothing reads past the used rows and active list) and keeps the capacity that
    earlier runs grew it to; the series are overwritten step by step. So results are those of
    fresh arrays (tested), but they live in the buffers: a run's :class:`RunArrays` is valid only
    until the next run that uses the same buffers, and a template must not change while they
    hold a copy of it.
    """

    template: WorldArrays | None = None
    packed: np.ndarray | None = None  # the template, packed
    capacity: int = 0  # initial_capacity of the template
    worlds_: list = field(default_factory=list)  # (buffer, world) for the run, then its twin
    spells: SpellTable | None = None
    twin_spells: SpellTable | None = None
    records: Records | None = None
    twin_records: Records | None = None

    def worlds(
        self, template: WorldArrays, events: EventTable, count: int
    ) -> tuple[list[WorldArrays], int]:
        """``count`` fresh copies of ``template`` and :func:`initial_capacity` for it."""
        if self.template is not template:
            self.packed = packed_world(template)[0]
            self.capacity = initial_capacity(template, events)
            self.template = template
            self.worlds_ = []
        while len(self.worlds_) < count:
            self.worlds_.append(packed_world(template))
        for buffer, _ in self.worlds_[:count]:
            buffer[...] = self.packed
        return [world for _, world in self.worlds_[:count]], self.capacity


def _spell_table(table: SpellTable | None, capacity: int, n_norms: int) -> SpellTable:
    """``table`` emptied for a new run, or a new one if there is none (or it does not fit)."""
    if table is None or table.pair_complicity.shape[2] != n_norms or table.capacity < capacity:
        return SpellTable.empty(capacity, n_norms)
    table.count[0] = 0
    table.n_active[0] = 0
    return table


def _records(
    records: Records | None, steps: int, n_states: int, n_norms: int, per_state: bool
) -> Records:
    """``records`` when they have the shape a new run needs (every step's row is rewritten)."""
    if (
        records is not None
        and records.aggregate.shape == (steps, AGG_FIXED + n_norms)
        and records.state_tension.shape == (steps if per_state else 0, n_states)
    ):
        return records
    return Records.empty(steps, n_states, n_norms, per_state)


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
    params: np.ndarray | None = None,
    buffers: RunBuffers | None = None,
) -> RunArrays:
    """One whole run from the scenario's start, no Mesa objects (the batch engine's unit).

    ``params`` is ``scenario.parameters.to_array()`` if already at hand (the kernel only reads
    it); with ``buffers``, the run's arrays are those buffers (see :class:`RunBuffers`).
    """
    world, events = template if template is not None else build_world(scenario)
    k = len(scenario.norms)
    buffers = buffers or RunBuffers()  # new buffers: new arrays
    (world,), capacity = buffers.worlds(world, events, 1)
    spells = _spell_table(buffers.spells, capacity, k)
    records = buffers.records = _records(buffers.records, steps, world.n_states, k, record_states)
    if frozen is not None:
        world.frozen[:] = frozen
    if params is None:
        params = scenario.parameters.to_array()
    spells = advance(0, steps, run_seed, params, world, spells, events, records)
    buffers.spells = spells  # grown: the next run starts at this capacity
    return RunArrays(spells, records, steps)


def simulate_twin_arrays(
    scenario: Scenario,
    run_seed: np.uint64,
    steps: int,
    frozen: np.ndarray,
    *,
    template: tuple[WorldArrays, EventTable] | None = None,
    record_states: bool = False,
    params: np.ndarray | None = None,
    buffers: RunBuffers | None = None,
) -> tuple[RunArrays, RunArrays]:
    """A run and its twin with credibility frozen where ``frozen`` is true (MODEL.md §3 item
    12), stepped side by side in one compiled call that draws the drift and acts once for both.
    Each equals :func:`simulate_arrays` of its own (tested). ``params`` and ``buffers`` as for
    :func:`simulate_arrays`."""
    world, events = template if template is not None else build_world(scenario)
    k = len(scenario.norms)
    n = world.n_states
    buffers = buffers or RunBuffers()  # new buffers: new arrays
    (world, twin), capacity = buffers.worlds(world, events, 2)
    spells = _spell_table(buffers.spells, capacity, k)
    twin_spells = _spell_table(buffers.twin_spells, capacity, k)
    records = buffers.records = _records(buffers.records, steps, n, k, record_states)
    twin_records = buffers.twin_records = _records(buffers.twin_records, steps, n, k, False)
    twin.frozen[:] = frozen
    if params is None:
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
    buffers.spells, buffers.twin_spells = spells, twin_spells  # grown: the next run starts here
    return RunArrays(spells, records, steps), RunArrays(twin_spells, twin_records, steps)
