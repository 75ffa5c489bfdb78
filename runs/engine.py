"""Executing runs: a chunk of runs in one process, and the engines that spread chunks.

:func:`execute_chunk` is the unit of work: runs ``first .. stop-1`` of an experiment through the
whole-run kernel (model/simulation.py), no Mesa objects, results as one table per chunk. The
engines only decide *where* chunks run:

* :class:`SerialEngine` — in this process;
* :class:`LocalEngine` — worker processes on this machine, forked once the kernel is compiled
  (from a fork server when this process has other threads, see :func:`worker_context`); a worker
  that dies has its chunk retried in a fresh pool;
* :class:`DaskEngine` — a ``dask.distributed`` cluster: a ``LocalCluster`` it starts, or an
  existing scheduler (``tcp://HOST:PORT``); the numba cache is warmed once per worker.

Results never depend on the engine or the number of workers: a run's numbers depend only on its
seed, and chunk results are assembled in chunk order.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.arrays import AGGREGATE_COLUMNS
from model.parameters import Parameters
from model.records import (
    TWIN_SPELL_COLUMNS,
    SpellRows,
    match_twins_of_runs,
    spells_frame_from_arrays,
)
from model.rng import run_seed_for
from model.scenario import build_world
from model.simulation import RunBuffers, simulate_arrays, simulate_twin_arrays
from runs.experiment import Experiment

Chunk = tuple[int, int, int]  # (chunk id, first run id, stop run id)
MAX_ATTEMPTS = 3


@dataclass
class SeriesSums:
    """Mergeable per-point sums over runs: count, Σx and Σx² per (step, column)."""

    count: int
    total: np.ndarray
    squares: np.ndarray

    def add(self, other: SeriesSums) -> None:
        self.count += other.count
        self.total += other.total
        self.squares += other.squares


@dataclass
class ChunkResult:
    chunk: int
    runs: pd.DataFrame
    spells: pd.DataFrame
    series: dict[int, SeriesSums] = field(default_factory=dict)  # point -> (T, columns)
    states: dict[int, SeriesSums] = field(default_factory=dict)  # point -> (T, N, K + 1)
    run_series: pd.DataFrame | None = None


def series_columns(experiment: Experiment) -> list[str]:
    return list(AGGREGATE_COLUMNS) + [f"credibility_{k}" for k in experiment.scenario.norms]


def execute_chunk(experiment: Experiment, chunk: Chunk) -> ChunkResult:
    """Run a chunk of runs; a run that raises is recorded with its error, the rest go on.

    Per run, only its seed, the kernel call and copies of its results: a point's world,
    parameter vector and values are made once, the runs reuse one set of arrays
    (:class:`~model.simulation.RunBuffers`), and the spell columns, twin matching and tables are
    computed once per chunk.
    """
    chunk_id, first, stop = chunk
    scenario = experiment.scenario
    steps = experiment.horizon
    names = Parameters.names()
    templates: dict[int, object] = {}
    requested: dict[int, tuple] = {}
    run_rows: list[tuple] = []
    spell_rows = SpellRows()
    twin_rows = SpellRows(TWIN_SPELL_COLUMNS)
    spell_runs: list[int] = []  # run id and seed of each run in spell_rows
    spell_seeds: list[int] = []
    frozen = experiment.twin_frozen_mask()
    series: dict[int, SeriesSums] = {}
    states: dict[int, SeriesSums] = {}
    run_series: list[pd.DataFrame] = []
    buffers = RunBuffers()
    for run_id in range(first, stop):
        point_id, replicate, seed = experiment.run(run_id)
        # The parameters the run asked for (kept in runs.csv even when they are inadmissible).
        if point_id not in requested:
            requested[point_id] = _requested_values(
                scenario.parameters, experiment.points[point_id], names
            )
        values = requested[point_id]
        try:
            if point_id not in templates:
                try:
                    point = scenario.with_parameters(**experiment.points[point_id])
                    params = point.parameters.to_array()
                    templates[point_id] = (point, build_world(point), params, tuple(params))
                except Exception as exc:  # recorded for every run of the point
                    templates[point_id] = exc
            entry = templates[point_id]
            if isinstance(entry, Exception):
                raise entry
            point, template, params, values = entry
            if experiment.twins:  # same seed, same draws, credibility frozen
                result, twin = simulate_twin_arrays(
                    point,
                    run_seed_for(seed),
                    steps,
                    frozen,
                    template=template,
                    record_states=experiment.per_state,
                    params=params,
                    buffers=buffers,
                )
            else:
                result = simulate_arrays(
                    point,
                    run_seed_for(seed),
                    steps,
                    template=template,
                    record_states=experiment.per_state,
                    params=params,
                    buffers=buffers,
                )
            spell_rows.add(result.spells)
            if experiment.twins:
                twin_rows.add(twin.spells)
            spell_runs.append(run_id)
            spell_seeds.append(seed)
            if experiment.series == "point":
                _accumulate(series, point_id, result.records.aggregate)
            elif experiment.series == "run":
                frame = pd.DataFrame(  # a copy: the records are reused by the next run
                    result.records.aggregate.copy(), columns=series_columns(experiment)
                )
                frame.insert(0, "step", np.arange(steps, dtype=np.int64))
                frame.insert(0, "run_id", run_id)
                run_series.append(frame)
            if experiment.per_state:
                rec = result.records
                stacked = np.concatenate(
                    [rec.state_credibility, rec.state_tension[:, :, None]], axis=2
                )
                _accumulate(states, point_id, stacked)
            run_rows.append((run_id, point_id, replicate, seed, "ok", "", *values))
        except Exception as exc:  # noqa: BLE001 - a failing run is data, not a crash
            message = f"{type(exc).__name__}: {exc}".replace("\n", " ")
            run_rows.append((run_id, point_id, replicate, seed, "error", message, *values))
    runs = pd.DataFrame(
        run_rows, columns=["run_id", "point_id", "replicate", "seed", "status", "error", *names]
    )
    runs["seed"] = runs["seed"].astype(np.uint64)
    arrays = spell_rows.arrays(steps)
    counts = spell_rows.counts
    run_ids = np.repeat(np.array(spell_runs, np.int64), counts)
    spells = spells_frame_from_arrays(
        scenario,
        arrays,
        run_ids,
        np.repeat(np.array(spell_seeds, np.uint64), counts),
        point_id=run_ids // experiment.replicates,
        twin_columns=(
            match_twins_of_runs(arrays, twin_rows.arrays(steps), counts, twin_rows.counts)
            if experiment.twins
            else None
        ),
    )
    return ChunkResult(
        chunk=chunk_id,
        runs=runs,
        spells=spells,
        series=series,
        states=states,
        run_series=pd.concat(run_series, ignore_index=True) if run_series else None,
    )


def _requested_values(base: Parameters, changes: dict, names: list[str]) -> tuple:
    def number(value) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return np.nan

    return tuple(number(changes.get(name, getattr(base, name))) for name in names)


def _accumulate(target: dict[int, SeriesSums], point_id: int, values: np.ndarray) -> None:
    sums = target.get(point_id)
    if sums is None:
        sums = target[point_id] = SeriesSums(0, np.zeros_like(values), np.zeros_like(values))
    sums.count += 1
    sums.total += values
    sums.squares += values * values


def warm_kernel(twins: bool = False) -> None:
    """Compile (or load from the numba cache) the kernel in this process; with ``twins``, also
    the lockstep run-and-twin kernel."""
    from model.scenario import load_scenario

    scenario = load_scenario("synthetic:n_states=3,steps=2")
    simulate_arrays(scenario, run_seed_for(0), 2)
    if twins:
        simulate_twin_arrays(scenario, run_seed_for(0), 2, np.ones(3, np.bool_))


# --------------------------------------------------------------------------- engines


def _first_done(futures):
    return cf.wait(futures, return_when=cf.FIRST_COMPLETED).done


IN_FLIGHT_PER_WORKER = 4  # chunks submitted ahead per worker: enough to keep every worker busy


def _windowed(submit, wait, function, chunks: Iterable[Chunk], workers: int, *first_args):
    """Yield ``(chunk, finished future)`` with at most ``IN_FLIGHT_PER_WORKER × workers`` chunks
    submitted at a time, and no reference kept to a future once yielded: a finished chunk's tables
    are freed (here and, for Dask, on the cluster) as soon as they are written, so memory stays
    flat however many chunks a batch has."""
    queue = list(chunks)[::-1]
    limit = IN_FLIGHT_PER_WORKER * max(1, workers)
    running: dict = {}
    while queue or running:
        while queue and len(running) < limit:
            chunk = queue.pop()
            running[submit(function, *first_args, chunk)] = chunk
        done = wait(list(running))
        for future in done:
            yield running.pop(future), future


class SerialEngine:
    name = "serial"

    def map(self, experiment: Experiment, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        for chunk in chunks:
            yield execute_chunk(experiment, chunk)

    def close(self) -> None:
        pass


_WORKER_EXPERIMENT: Experiment | None = None


def _worker_init(experiment: Experiment) -> None:
    global _WORKER_EXPERIMENT
    _WORKER_EXPERIMENT = experiment


def _worker_run(chunk: Chunk) -> ChunkResult:
    assert _WORKER_EXPERIMENT is not None
    return execute_chunk(_WORKER_EXPERIMENT, chunk)


def worker_context() -> multiprocessing.context.BaseContext:
    """How to start local workers: a plain fork when this process has a single thread (fast,
    inherits the compiled kernel, needs no ``if __name__ == "__main__"`` guard in a user's
    script); otherwise a fork server that has loaded the kernel, since forking a process with
    other threads (Dask's, a notebook's) can deadlock the child."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["runs.worker_preload"])
    return context


class LocalEngine:
    """Worker processes on this machine (``--workers N``)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))

    def map(self, experiment: Experiment, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        if self.workers == 1:
            yield from SerialEngine().map(experiment, chunks)
            return
        warm_kernel(experiment.twins)  # compile (or load) once here: forked workers inherit it
        pending = list(chunks)
        attempts = dict.fromkeys((c[0] for c in pending), 0)
        context = worker_context()
        while pending:
            with cf.ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_worker_init, initargs=(experiment,)
            ) as pool:
                broken: list[Chunk] = []

                def submit(function, chunk, pool=pool):
                    try:
                        return pool.submit(function, chunk)
                    except cf.process.BrokenProcessPool as exc:  # a worker died: retry below
                        failed: cf.Future = cf.Future()
                        failed.set_exception(exc)
                        return failed

                windows = _windowed(submit, _first_done, _worker_run, pending, self.workers)
                for chunk, future in windows:
                    try:
                        result = future.result()
                    except cf.process.BrokenProcessPool:
                        broken.append(chunk)
                        continue
                    yield result
                pending = []
                for chunk in broken:
                    attempts[chunk[0]] += 1
                    if attempts[chunk[0]] >= MAX_ATTEMPTS:
                        raise RuntimeError(
                            f"chunk {chunk[0]} (runs {chunk[1]}..{chunk[2] - 1}): a worker died "
                            f"{MAX_ATTEMPTS} times running it"
                        )
                    pending.append(chunk)

    def close(self) -> None:
        pass


class DaskEngine:
    """A dask.distributed cluster: a LocalCluster of ``workers`` processes, or ``scheduler``."""

    name = "dask"

    def __init__(self, workers: int = 2, scheduler: str | None = None) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            self.cluster = LocalCluster(
                n_workers=max(1, int(workers)),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
                env={"NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", "")},
            )
            self.client = Client(self.cluster)
        self.client.run(warm_kernel)  # the numba cache, loaded once per worker

    def map(self, experiment: Experiment, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        from distributed import wait

        if experiment.twins:
            self.client.run(warm_kernel, True)
        shared = self.client.scatter(experiment, broadcast=True)
        workers = sum(self.client.nthreads().values())  # threads across the cluster's workers

        def submit(function, *args):
            return self.client.submit(function, *args, retries=MAX_ATTEMPTS - 1, pure=False)

        def first_done(futures):
            return wait(futures, return_when="FIRST_COMPLETED").done

        for _, future in _windowed(submit, first_done, execute_chunk, chunks, workers, shared):
            yield future.result()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_engine(name: str, workers: int, scheduler: str | None = None):
    if scheduler and name != "dask":
        name = "dask"
    if name == "local":
        return LocalEngine(workers)
    if name == "serial":
        return SerialEngine()
    if name == "dask":
        return DaskEngine(workers=workers, scheduler=scheduler)
    raise ValueError(f"engine {name!r}: expected local, serial or dask")


def plan_chunks(n_runs: int, chunk_size: int) -> list[Chunk]:
    return [
        (c, first, min(first + chunk_size, n_runs))
        for c, first in enumerate(range(0, n_runs, chunk_size))
    ]
