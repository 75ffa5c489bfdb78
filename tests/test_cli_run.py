"""``alliance run`` and ``runs.single.run_single``: the files of docs/outputs.md, byte-identical
for one seed, different for another."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from model.records import SPELL_COLUMNS
from model.scenario import load_scenario
from runs.cli import main
from runs.single import run_single

FILES = ("spells.csv", "timeseries.csv", "states.csv")


def test_same_seed_gives_byte_identical_files_and_another_seed_other_spells(tmp_path: Path) -> None:
    spec = load_scenario().with_parameters(upkeep=0.2, h_exo=0.01, rho=0.3)
    first = run_single(spec, seed=5, steps=96, out=tmp_path / "a")
    run_single(spec, seed=5, steps=96, out=tmp_path / "b")
    other = run_single(spec, seed=6, steps=96, out=tmp_path / "c")
    assert len(first.spells) > 3
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a = pd.read_csv(tmp_path / "a" / "spells.csv").drop(columns="seed")
    c = pd.read_csv(tmp_path / "c" / "spells.csv").drop(columns="seed")
    assert not a.equals(c)
    assert int(other.model.run_seed) != int(first.model.run_seed)


def test_alliance_run_writes_the_documented_results(tmp_path: Path) -> None:
    def args(out: Path) -> list[str]:
        return ["run", "--steps", "36", "--seed", "3", "--set", "h_exo=0.01",
                "--event", "2024-06:war-ends", "--out", str(out)]  # fmt: skip

    out = tmp_path / "results"
    result = CliRunner().invoke(main, args(out))
    assert result.exit_code == 0, result.output
    assert "Russia and North Korea" in result.stdout and str(out) in result.stdout
    spells = pd.read_csv(out / "spells.csv", keep_default_na=False)
    assert tuple(spells.columns) == SPELL_COLUMNS
    assert (spells.seed == 3).all() and (spells.run_id == 0).all()
    assert {"United States", "South Korea"} <= set(spells.state_a) | set(spells.state_b)
    series = pd.read_csv(out / "timeseries.csv")
    assert (
        len(series) == 36 and series.date.iloc[0] == "2023-01" and series.date.iloc[-1] == "2025-12"
    )
    states = pd.read_csv(out / "states.csv")
    assert len(states) == 36 * len(load_scenario().states)  # one row per month and state
    meta = json.loads((out / "run.json").read_text())
    assert meta["kind"] == "run" and meta["seed"] == 3 and meta["steps"] == 36
    assert meta["parameters"]["h_exo"] == 0.01
    assert meta["overlays"] == ["2024-06:war-ends"]
    assert "[[states]]" in meta["scenario_text"]

    # The same command again: the same bytes (run.json differs only in its creation time).
    again = tmp_path / "again"
    assert CliRunner().invoke(main, args(again)).exit_code == 0
    for name in FILES:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    meta_again = json.loads((again / "run.json").read_text())
    assert {k: v for k, v in meta.items() if k != "created"} == {
        k: v for k, v in meta_again.items() if k != "created"
    }


def test_quiet_run_prints_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--steps", "2", "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 0 and result.output == ""
    assert (tmp_path / "run.json").exists()


def test_click_usage_errors_are_one_line_naming_the_option_and_the_help(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    cases = {
        ("run", "--out", str(a_file)): ("'--out'", "alliance run --help"),
        ("batch", "--replicates", "x"): ("'--replicates'", "alliance batch --help"),
        ("nosuch",): ("nosuch", "alliance --help"),
    }
    for args, (what, where) in cases.items():
        result = CliRunner().invoke(main, list(args), prog_name="alliance")
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("alliance: error: "), result.output
        assert what in lines[0] and where in lines[0]
