"""Batches: sweeps × replicates, written chunk by chunk, resumable (``alliance batch``).

Layout of a results folder (docs/outputs.md):

* ``batch.json`` — the plan (scenario text, sweep, seeds, chunk size), written before any work;
  ``--resume`` reads it back and refuses a folder whose plan differs.
* ``chunks/NNNNNN.*`` — each finished chunk's tables, written atomically, then a ``.done`` marker.
  A crash or ``kill -9`` loses at most the chunks in flight; ``--resume`` runs only the chunks
  without a marker.
* ``runs.csv``, ``spells.csv``, ``timeseries.csv`` (``states.csv``, ``run_series.csv``) and
  ``metadata.json`` — assembled from the chunks in chunk order when all are done, so the bytes do
  not depend on the engine, the number of workers or interruptions.

:func:`run_experiment` is the same work in memory (for calibration and sensitivity analysis).
"""

from __future__ import annotations

import errno
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from model.parameters import Parameters
from runs.engine import (
    ChunkResult,
    SerialEngine,
    SeriesSums,
    plan_chunks,
    series_columns,
)
from runs.experiment import Experiment
from runs.output import (
    FORMAT_VERSION,
    OutputError,
    atomic_write_bytes,
    atomic_write_json,
    csv_bytes,
    git_revision,
    now_utc,
    prepare_output_dir,
    versions,
)

# No tqdm monitor thread: the local engine forks its workers only from a single-threaded process.
tqdm.monitor_interval = 0

PLAN_FILE = "batch.json"
CHUNK_DIR = "chunks"


@dataclass
class BatchResult:
    """A finished experiment: its counts, series, and its runs and spells tables.

    From :func:`run_experiment` the tables are in memory. From :func:`run_batch` they stay on disk
    (a million-run batch has tens of millions of spell rows) and ``runs``/``spells`` read the CSV
    the first time they are asked for; the counts never need them.
    """

    timeseries: pd.DataFrame | None
    states: pd.DataFrame | None = None
    counts: dict[str, int] = field(default_factory=dict)  # runs, runs_ok, runs_failed, spells, ...
    folder: Path | None = None
    first_failure: tuple[int, str] | None = None  # (run id, error) of the first failed run
    _runs: pd.DataFrame | None = None
    _spells: pd.DataFrame | None = None

    @property
    def runs(self) -> pd.DataFrame:
        if self._runs is None:
            self._runs = read_runs_csv(self.folder / "runs.csv")
        return self._runs

    @property
    def spells(self) -> pd.DataFrame:
        if self._spells is None:
            self._spells = read_spells_csv(self.folder / "spells.csv")
        return self._spells


def read_runs_csv(path: Path, **options) -> pd.DataFrame:
    numbers = {name: [""] for name in Parameters.names()}  # an empty cell is a missing number
    return pd.read_csv(
        path,
        dtype={"seed": np.uint64, "error": str},
        keep_default_na=False,
        na_values=numbers,
        **options,
    )


def read_spells_csv(path: Path, **options) -> pd.DataFrame:
    return pd.read_csv(
        path,
        dtype={"seed": np.uint64},
        keep_default_na=False,
        na_values={"initial_strength": [""], "kappa": [""]},
        **options,
    )


def table_counts(runs: pd.DataFrame, spells: pd.DataFrame) -> dict[str, int]:
    """What the batch summary line and metadata.json report, from (parts of) the two tables."""
    return {
        "runs": len(runs),
        "runs_ok": int((runs["status"] == "ok").sum()),
        "runs_failed": int((runs["status"] != "ok").sum()),
        "spells": len(spells),
        "spells_ended": int(spells["event"].sum()),
    }


def default_chunk_size(n_runs: int) -> int:
    """Chunks big enough to amortise overhead, small enough to balance and checkpoint.

    A function of the batch alone, never of the engine or the worker count: the per-point
    series are float sums reduced chunk by chunk, so the chunking fixes their last bits.
    """
    return int(min(500, max(1, n_runs // 16)))


def _plan(experiment: Experiment, chunk_size: int) -> dict:
    scenario = experiment.scenario
    return {
        "format_version": FORMAT_VERSION,
        "scenario": scenario.name,
        "scenario_text": scenario.text,
        "overlays": list(scenario.applied_overlays),
        "sweep_text": experiment.sweep_text,
        "points": [dict(p) for p in experiment.points],
        "replicates": experiment.replicates,
        "steps": experiment.horizon,
        "master_seed": experiment.master_seed,
        "twins": experiment.twins,
        "frozen_states": list(experiment.frozen_states),
        "series": experiment.series,
        "per_state": experiment.per_state,
        "n_runs": experiment.n_runs,
        "chunk_size": chunk_size,
    }


def read_plan(out: Path) -> dict:
    path = Path(out) / PLAN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(
            f"{out}: not a batch results folder (no {PLAN_FILE}); nothing to resume"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputError(f"{path}: unreadable batch plan ({exc})") from None


def _chunk_path(out: Path, chunk: int, suffix: str) -> Path:
    return out / CHUNK_DIR / f"{chunk:06d}.{suffix}"


def _write_chunk(out: Path, result: ChunkResult) -> None:
    c = result.chunk
    atomic_write_bytes(_chunk_path(out, c, "runs.csv"), csv_bytes(result.runs))
    atomic_write_bytes(_chunk_path(out, c, "spells.csv"), csv_bytes(result.spells))
    if result.run_series is not None:
        atomic_write_bytes(_chunk_path(out, c, "run_series.csv"), csv_bytes(result.run_series))
    for kind, sums in (("series", result.series), ("states", result.states)):
        if sums:
            buffer = io.BytesIO()
            points = sorted(sums)
            np.savez(
                buffer,
                points=np.array(points),
                count=np.array([sums[p].count for p in points]),
                total=np.stack([sums[p].total for p in points]),
                squares=np.stack([sums[p].squares for p in points]),
            )
            atomic_write_bytes(_chunk_path(out, c, f"{kind}.npz"), buffer.getvalue())
    atomic_write_bytes(_chunk_path(out, c, "done"), b"")


def run_batch(
    experiment: Experiment,
    out: Path,
    *,
    engine=None,
    chunk_size: int | None = None,
    resume: bool = False,
    progress: bool = True,
    parquet: bool = False,
) -> BatchResult:
    """Run (or finish) ``experiment`` into the results folder ``out``; returns its tables."""
    engine = engine or SerialEngine()
    out = Path(out)
    if resume:
        plan = read_plan(out)
        chunk_size = int(plan["chunk_size"])
        if plan != _plan(experiment, chunk_size):
            raise OutputError(
                f"{out}: the folder holds a different batch (scenario, sweep, seeds or options "
                "differ); resume with the same arguments or use a new --out"
            )
    else:
        prepare_output_dir(out)
        if (out / PLAN_FILE).exists():
            raise OutputError(
                f"{out}: already holds a batch; use --resume {out} to finish it, or another --out"
            )
        chunk_size = chunk_size or default_chunk_size(experiment.n_runs)
        (out / CHUNK_DIR).mkdir(exist_ok=True)
        atomic_write_json(out / PLAN_FILE, _plan(experiment, chunk_size))
    chunks = plan_chunks(experiment.n_runs, chunk_size)
    done = {c for c, _, _ in chunks if _chunk_path(out, c, "done").exists()}
    pending = [c for c in chunks if c[0] not in done]
    already = sum(stop - first for c, first, stop in chunks if c in done)
    with tqdm(
        total=experiment.n_runs,
        initial=already,
        unit="run",
        disable=not progress,
        desc="runs",
        smoothing=0.1,
        dynamic_ncols=True,
    ) as bar:
        try:
            for result in engine.map(experiment, pending):
                _write_chunk(out, result)
                bar.update(len(result.runs))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise OutputError(
                    f"{out}: no space left on the device; finished chunks are kept, free some "
                    f"space and run: alliance batch --resume {out}"
                ) from None
            raise
    return assemble(experiment, out, chunks, parquet=parquet)


def assemble(experiment: Experiment, out: Path, chunks, *, parquet: bool = False) -> BatchResult:
    """Concatenate the chunk tables in chunk order and reduce the per-point series."""
    for name in ("runs", "spells", "run_series"):
        parts = [_chunk_path(out, c, f"{name}.csv") for c, _, _ in chunks]
        if name == "run_series" and experiment.series != "run":
            continue
        _concatenate_csv(parts, out / f"{name}.csv")
    timeseries = states = None
    if experiment.series == "point":
        timeseries = _reduce_series(experiment, out, chunks, "series")
        atomic_write_bytes(out / "timeseries.csv", csv_bytes(timeseries))
    if experiment.per_state:
        states = _reduce_series(experiment, out, chunks, "states")
        atomic_write_bytes(out / "states.csv", csv_bytes(states))
    # Counts and Parquet files one chunk at a time: memory stays flat for any number of runs.
    counts = dict.fromkeys(("runs", "runs_ok", "runs_failed", "spells", "spells_ended"), 0)
    first_failure = None
    for c, _, _ in chunks:
        runs = read_runs_csv(_chunk_path(out, c, "runs.csv"), usecols=["run_id", "status", "error"])
        spells = read_spells_csv(_chunk_path(out, c, "spells.csv"), usecols=["event"])
        for key, value in table_counts(runs, spells).items():
            counts[key] += value
        failed = runs[runs["status"] != "ok"]
        if first_failure is None and len(failed):
            first_failure = (int(failed["run_id"].iloc[0]), str(failed["error"].iloc[0]))
    if parquet:
        for name, read in (("runs", read_runs_csv), ("spells", read_spells_csv)):
            parts = [_chunk_path(out, c, f"{name}.csv") for c, _, _ in chunks]
            _concatenate_parquet(parts, read, out / f"{name}.parquet")
        if timeseries is not None:
            timeseries.to_parquet(out / "timeseries.parquet", index=False)
    metadata = {
        **_plan(experiment, chunks[0][2] - chunks[0][1]),
        "kind": "batch",
        "runs_ok": counts["runs_ok"],
        "runs_failed": counts["runs_failed"],
        "spells": counts["spells"],
        "spells_ended": counts["spells_ended"],
        "versions": versions(),
        "git_revision": git_revision(),
        "created": now_utc(),
    }
    atomic_write_json(out / "metadata.json", metadata)
    return BatchResult(
        timeseries=timeseries,
        states=states,
        counts=counts,
        folder=out,
        first_failure=first_failure,
    )


def _concatenate_parquet(parts: list[Path], read, target: Path) -> None:
    """Stream chunk CSVs into one Parquet file, one row group per chunk, with the first chunk's
    column types for all (a chunk's CSV alone may not show a column's type, e.g. all empty)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = target.with_name(f".{target.name}.tmp")
    writer = None
    try:
        for part in parts:
            table = pa.Table.from_pandas(read(part), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(target)


def _concatenate_csv(parts: list[Path], target: Path) -> None:
    """Stream chunk CSVs into one (header once); memory stays flat for any batch size."""
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as sink:
        for n, part in enumerate(parts):
            with open(part, "rb") as source:
                header = source.readline()
                if n == 0:
                    sink.write(header)
                shutil.copyfileobj(source, sink, 1 << 20)
    tmp.replace(target)


def _reduce_series(experiment: Experiment, out: Path, chunks, kind: str) -> pd.DataFrame:
    sums: dict[int, SeriesSums] = {}
    for c, _, _ in chunks:
        path = _chunk_path(out, c, f"{kind}.npz")
        if not path.exists():
            continue  # every run of the chunk failed
        with np.load(path) as data:
            for i, point in enumerate(data["points"]):
                part = SeriesSums(int(data["count"][i]), data["total"][i], data["squares"][i])
                if int(point) in sums:
                    sums[int(point)].add(part)
                else:
                    sums[int(point)] = part
    return series_table(experiment, sums, kind)


def series_table(experiment: Experiment, sums: dict[int, SeriesSums], kind: str) -> pd.DataFrame:
    """Mean and standard deviation over runs, per point and month (and state, for ``states``)."""
    scenario = experiment.scenario
    frames = []
    for point in sorted(sums):
        s = sums[point]
        mean = s.total / s.count
        var = (s.squares - s.total * s.total / s.count) / max(s.count - 1, 1)
        sd = np.sqrt(np.maximum(var, 0.0))
        steps = mean.shape[0]
        if kind == "series":
            columns = series_columns(experiment)
            frame = pd.DataFrame({"point_id": point, "step": np.arange(steps), "runs": s.count})
            for j, col in enumerate(columns):
                frame[f"{col}_mean"] = mean[:, j]
                frame[f"{col}_sd"] = sd[:, j]
        else:
            n = mean.shape[1]
            columns = [f"credibility_{k}" for k in scenario.norms] + ["tension"]
            frame = pd.DataFrame(
                {
                    "point_id": point,
                    "step": np.repeat(np.arange(steps), n),
                    "state": np.tile(np.array(scenario.state_names, dtype=object), steps),
                    "runs": s.count,
                }
            )
            for j, col in enumerate(columns):
                frame[f"{col}_mean"] = mean[:, :, j].reshape(-1)
                frame[f"{col}_sd"] = sd[:, :, j].reshape(-1)
        frame.insert(2, "date", [str(scenario.date_of(int(t))) for t in frame["step"]])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_experiment(
    experiment: Experiment, *, engine=None, chunk_size: int | None = None, progress: bool = False
) -> BatchResult:
    """The same work as :func:`run_batch`, in memory (no files), in run order."""
    engine = engine or SerialEngine()
    chunk_size = chunk_size or default_chunk_size(experiment.n_runs)
    chunks = plan_chunks(experiment.n_runs, chunk_size)
    results: dict[int, ChunkResult] = {}
    with tqdm(total=experiment.n_runs, unit="run", disable=not progress, desc="runs") as bar:
        for result in engine.map(experiment, chunks):
            results[result.chunk] = result
            bar.update(len(result.runs))
    ordered = [results[c] for c, _, _ in chunks]
    sums: dict[int, SeriesSums] = {}
    state_sums: dict[int, SeriesSums] = {}
    for result in ordered:
        for target, source in ((sums, result.series), (state_sums, result.states)):
            for point, part in source.items():
                if point in target:
                    target[point].add(part)
                else:
                    target[point] = SeriesSums(part.count, part.total.copy(), part.squares.copy())
    runs = pd.concat([r.runs for r in ordered], ignore_index=True)
    spells = pd.concat([r.spells for r in ordered], ignore_index=True)
    return BatchResult(
        timeseries=series_table(experiment, sums, "series") if sums else None,
        states=series_table(experiment, state_sums, "states") if state_sums else None,
        counts=table_counts(runs, spells),
        _runs=runs,
        _spells=spells,
    )
