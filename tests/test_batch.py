"""``alliance batch``: same bytes whatever the engine, resumable after kill -9, failures recorded,
one-line errors for bad sweeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from model.alliance_model import AllianceModel
from model.scenario import load_scenario
from runs.batch import run_batch
from runs.cli import main
from runs.engine import DaskEngine, LocalEngine, SerialEngine
from runs.experiment import Experiment

SMALL = "synthetic:n_states=6,steps=60,world_seed=3"
TABLES = ("runs.csv", "spells.csv", "timeseries.csv")


def small_experiment(**changes) -> Experiment:
    spec = load_scenario(SMALL).with_parameters(h_exo=0.02, upkeep=0.1)
    options = dict(points=({}, {"alpha": 0.0}), replicates=6, master_seed=11)
    options.update(changes)
    return Experiment(scenario=spec, **options)


def read(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in TABLES}


def test_serial_two_workers_and_dask_give_the_same_bytes(tmp_path: Path) -> None:
    experiment = small_experiment()
    serial = run_batch(experiment, tmp_path / "serial", engine=SerialEngine(), progress=False)
    run_batch(experiment, tmp_path / "local", engine=LocalEngine(2), progress=False)
    dask = DaskEngine(workers=2)
    try:
        run_batch(experiment, tmp_path / "dask", engine=dask, progress=False)
    finally:
        dask.close()
    assert len(serial.spells) > 10 and (serial.runs["status"] == "ok").all()
    reference = read(tmp_path / "serial")
    assert read(tmp_path / "local") == reference
    assert read(tmp_path / "dask") == reference


def test_a_run_can_be_repeated_alone_from_its_row(tmp_path: Path) -> None:
    experiment = small_experiment(points=({"alpha": 0.0},), replicates=3)
    result = run_batch(experiment, tmp_path / "b", progress=False)
    row = result.runs.iloc[2]
    model = AllianceModel(
        scenario=experiment.scenario.with_parameters(alpha=0.0),
        rng=int(row["seed"]),
        record_states=False,
    )
    model.simulate()
    alone = model.spells_frame(run_id=int(row["run_id"]), seed=int(row["seed"]))
    from_batch = result.spells[result.spells["run_id"] == row["run_id"]].drop(columns="point_id")
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True), from_batch.reset_index(drop=True), check_dtype=False
    )


def test_a_failing_point_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    experiment = small_experiment(points=({}, {"w_init": 0.1}), replicates=3)  # 0.1 < w_func
    result = run_batch(experiment, tmp_path / "b", progress=False)
    failed = result.runs[result.runs["status"] == "error"]
    assert list(failed["point_id"].unique()) == [1] and len(failed) == 3
    assert failed["error"].str.contains("w_init").all()
    assert (result.runs[result.runs["point_id"] == 0]["status"] == "ok").all()
    assert set(result.spells["point_id"]) == {0}


def test_counts_and_parquet_are_streamed_from_the_chunks_and_match_the_tables(
    tmp_path: Path,
) -> None:
    experiment = small_experiment(points=({}, {"w_init": 0.1}), replicates=5)  # point 1 fails
    result = run_batch(experiment, tmp_path / "b", chunk_size=3, progress=False, parquet=True)
    runs, spells = result.runs, result.spells  # read back from the CSVs
    assert result.counts == {
        "runs": 10,
        "runs_ok": 5,
        "runs_failed": 5,
        "spells": len(spells),
        "spells_ended": int(spells["event"].sum()),
    }
    assert result.first_failure == (5, runs.loc[5, "error"]) and "w_init" in runs.loc[5, "error"]
    for name, table in (("runs", runs), ("spells", spells)):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "b" / f"{name}.parquet"), table, check_dtype=False
        )


def test_engines_keep_a_bounded_number_of_chunks_in_flight() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from runs.engine import IN_FLIGHT_PER_WORKER, _first_done, _windowed

    in_flight, peak = set(), 0

    def work(chunk):
        time.sleep(0.001)
        return chunk

    with ThreadPoolExecutor(2) as pool:

        def submit(function, chunk):
            nonlocal peak
            in_flight.add(chunk)
            peak = max(peak, len(in_flight))
            return pool.submit(function, chunk)

        seen = []
        for chunk, future in _windowed(submit, _first_done, work, range(50), 2):
            assert future.result() == chunk
            in_flight.discard(chunk)
            seen.append(chunk)
    assert sorted(seen) == list(range(50))
    assert peak == IN_FLIGHT_PER_WORKER * 2


_DEATH_MARKER: list[Path] = []  # set by the test below; forked workers inherit it


def _dies_once_on_chunk_3(chunk):
    import runs.engine as engine

    marker = _DEATH_MARKER[0]
    if chunk[0] == 3 and not marker.exists():
        marker.write_text("")
        os._exit(1)  # the worker process dies mid-batch
    return engine.execute_chunk(engine._WORKER_EXPERIMENT, chunk)


def test_a_chunk_whose_worker_dies_is_run_again(tmp_path: Path, monkeypatch) -> None:
    import multiprocessing

    import runs.engine as engine
    from runs.batch import run_experiment

    # Forked workers inherit the patched function (a fork server would import it afresh).
    monkeypatch.setattr(engine, "worker_context", lambda: multiprocessing.get_context("fork"))
    _DEATH_MARKER[:] = [tmp_path / "died"]
    monkeypatch.setattr(engine, "_worker_run", _dies_once_on_chunk_3)
    experiment = small_experiment(replicates=20)
    try:
        result = run_experiment(experiment, engine=LocalEngine(2), chunk_size=2)
    finally:
        marker = _DEATH_MARKER.pop()
    assert marker.exists()
    assert sorted(result.runs["run_id"]) == list(range(experiment.n_runs))
    assert (result.runs["status"] == "ok").all()


def _batch_command(out: Path) -> list[str]:
    alliance = str(Path(sys.executable).with_name("alliance"))
    return [alliance, "batch", "--scenario", SMALL, "--replicates", "40",
            "--grid", "alpha=0.0,0.06", "--seed", "4", "--engine", "serial", "--chunk-size", "2",
            "--quiet", "--out", str(out)]  # fmt: skip


def test_kill_9_then_resume_gives_the_uninterrupted_bytes(tmp_path: Path) -> None:
    env = {**os.environ}
    full = subprocess.run(
        _batch_command(tmp_path / "full"), env=env, capture_output=True, text=True
    )
    assert full.returncode == 0, full.stderr
    killed = tmp_path / "killed"
    process = subprocess.Popen(_batch_command(killed), env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(killed.glob("chunks/*.done"))) < 5:
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(list(killed.glob("chunks/*.done")))
    assert 0 < done < 40, f"the batch was not interrupted part-way ({done} of 40 chunks done)"
    assert not (killed / "spells.csv").exists()
    resumed = CliRunner().invoke(main, ["batch", "--resume", str(killed), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert read(killed) == read(tmp_path / "full")


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("[grid]\nalphaa = [0.1]\n", "grid.alphaa: unknown parameter"),
        ("[grid]\nalpha = [0.1, 99.0]\n", "grid.alpha: 99.0 is out of range"),
        ("[batch]\nreplicates = 0\n", "batch.replicates: expected at least 1"),
        ('[batch]\nreplicates = "many"\n', "batch.replicates: expected int"),
        ("[lhs]\nrho = [0.5, 0.1]\n", "lhs.rho: expected [low, high] with low < high"),
        ("[batch\n", "not valid TOML"),
        ("[extra]\n", "extra: unknown table"),
    ],
)
def test_bad_sweep_files_give_one_line_errors(tmp_path: Path, sweep: str, message: str) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(sweep)
    result = CliRunner().invoke(main, ["batch", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alliance: error: "), result.output
    assert message in lines[0] and str(path) in lines[0]
    assert not (tmp_path / "o").exists()


def test_resume_of_a_folder_without_a_batch_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["batch", "--resume", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("alliance: error: ") and "batch.json" in result.output


def test_an_unwritable_output_folder_fails_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["batch", "--scenario", SMALL, "--out", str(blocker / "x")])
    assert result.exit_code == 2
    assert result.output.startswith("alliance: error: ") and "cannot write" in result.output
