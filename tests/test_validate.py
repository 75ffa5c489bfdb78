"""``alliance validate`` (runs/validate.py, analysis/validation.py): simulated partnership dates
beside the historical record, and the MODEL.md §6 A3 targets for the Sino-Soviet scenario."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.validation import date_distribution, first_spells, input_basis, validation_report
from model.scenario import Month, load_scenario
from runs.cli import main

# --------------------------------------------------------------------------- statistics, by hand


def test_date_distribution_with_censored_runs_is_exact():
    # ten runs: ends at months 1..6, four never (-1)
    steps = np.array([3, 1, -1, 2, 6, -1, 5, 4, -1, -1])
    d = date_distribution("functional_end", steps, 10, window=(2, 4))
    assert d.occurred == 6 and d.censored == pytest.approx(0.4)
    assert d.median == 5  # the 5th of 10 sorted values: 1 2 3 4 [5] 6 inf inf inf inf
    assert d.p10 == 1
    assert d.p90 is None  # among the runs not ended by the horizon: "after"
    assert d.in_window == pytest.approx(0.3)  # 2, 3, 4


def test_runs_without_the_pair_count_as_not_ended():
    d = date_distribution("start", np.array([0, 0]), 5, window=(0, 0))
    assert d.occurred == 2 and d.in_window == pytest.approx(0.4) and d.median is None


def _spell(run_id, spell, a, b, start, functional, formal, cause):
    return {
        "run_id": run_id,
        "spell": spell,
        "state_a": a,
        "state_b": b,
        "start_step": start,
        "functional_end_step": functional,
        "formal_end_step": formal,
        "event": int(formal >= 0),
        "cause": cause if formal >= 0 else "",
    }


def test_report_uses_each_run_s_first_spell_of_the_pair():
    scenario = load_scenario("sino-soviet-1950")
    spells = pd.DataFrame(
        [
            _spell(0, 0, "USSR", "PRC", 0, 100, 360, "expiry"),
            _spell(1, 1, "PRC", "USSR", 0, 120, 200, "principles"),  # members in either order
            _spell(1, 2, "USSR", "PRC", 300, -1, -1, ""),  # a later re-formation: ignored
            _spell(2, 0, "USSR", "PRC", 0, -1, -1, ""),  # censored
            _spell(2, 1, "USSR", "DPRK", 0, 10, 20, "interest"),  # another pair
        ]
    )
    assert list(first_spells(spells, ("USSR", "PRC")).start_step) == [0, 0, 0]
    report = validation_report(scenario, spells, runs=4, steps=480, master_seed=0)
    (p,) = report.partnerships
    assert p.formed == pytest.approx(0.75)  # run 3 never partnered
    assert p.formal_causes["expiry"] == pytest.approx(0.25)
    assert p.formal_causes["abrogation"] == pytest.approx(0.25)
    assert p.formal_causes["censored"] == pytest.approx(0.25)
    assert p.formal_causes["never formed"] == pytest.approx(0.25)
    assert p.hollow_months_median == pytest.approx(170)  # runs 0 and 1 hollow 260 and 80 months
    history = scenario.history[0]
    window = (scenario.step_of(history.formal_end[0]), scenario.step_of(history.formal_end[1]))
    assert p.formal_end.window == window and p.formal_end.in_window == pytest.approx(
        0.25
    )  # 360 = 1980-02
    frame = report.to_frame()
    assert list(frame.measure) == ["start", "functional_end", "formal_end"]
    assert frame.loc[frame.measure == "formal_end", "historical"].item() == "1979-04..1980-04"


def test_input_basis_separates_record_from_judgement():
    basis = input_basis(load_scenario("sino-soviet-1950"))
    names = {d.name for d in basis.facts}
    assert {"hungary-ii", "czechoslovakia", "limited-test-ban", "partnership USSR–PRC"} <= names
    # consequences of the split are not inputs (docs/scenarios.md)
    assert not any("advisers" in d.name or "zhenbao" in d.name for d in basis.facts)
    assert (
        basis.state_numbers > 50 and basis.effect_numbers > 30 and basis.parameters_overridden == {}
    )
    assert input_basis(load_scenario("synthetic")).generated


# ------------------------------------------------------------------ the Sino-Soviet split (A3)


A3_REPLICATES = 300


@pytest.fixture(scope="module")
def sino_soviet(tmp_path_factory):
    """``alliance validate sino-soviet-1950`` with the scenario's documented numbers."""
    out = tmp_path_factory.mktemp("validate")
    result = CliRunner().invoke(
        main,
        [
            "validate",
            "sino-soviet-1950",
            "--replicates",
            str(A3_REPLICATES),
            "--workers",
            "2",
            "--seed",
            "11",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "validation.json").read_text())
    return result.stdout, report["partnerships"][0], out


def test_sino_soviet_functional_end_falls_in_1957_to_1963(sino_soviet):
    """MODEL.md §6 A3: the functional end mostly in 1957–63 (the historical rupture is
    1959-06..1960-08). Inputs are the documented ones in runs/scenarios/sino-soviet-1950.toml,
    untuned; the median must lie within 1957-01..1963-12."""
    _, pair, _ = sino_soviet
    median = Month.parse(pair["functional_end"]["median"])
    assert Month(1957, 1) <= median <= Month(1963, 12), median


def test_sino_soviet_formal_end_is_mostly_expiry_in_1980(sino_soviet):
    """A3: a hollow phase, then the formal end mostly by expiry in 1980 (the treaty lapsed in
    Apr 1980). The treaty renews only if not hollow at its term, so expiry is an outcome."""
    _, pair, _ = sino_soviet
    assert pair["formal_end"]["causes"]["expiry"] > 0.5
    assert pair["formal_end"]["median"].startswith("1980-")
    assert pair["hollow_phase"]["median_months"] >= 10 * 12


def test_validate_prints_the_table_and_writes_the_report(sino_soviet):
    stdout, pair, out = sino_soviet
    assert "USSR–PRC" in stdout and "functional end" in stdout and "1959-06..1960-08" in stdout
    assert "formal end by: expiry" in stdout and "historical record" in stdout
    assert "1956-11  hungary-ii" in stdout
    table = pd.read_csv(out / "validation.csv")
    assert list(table.measure) == ["start", "functional_end", "formal_end"]
    assert (table.runs == A3_REPLICATES).all()
    assert set(table.columns) >= {
        "median_date",
        "p10_date",
        "p90_date",
        "share_in_window",
        "share_censored",
        "historical",
    }
    spells = pd.read_csv(out / "history_spells.csv")
    assert len(spells) == A3_REPLICATES and spells.run_id.is_unique
    assert pair["functional_end"]["share_in_historical_window"] is not None


def test_russia_dprk_is_active_on_the_record_s_last_date(tmp_path):
    """The record shows the partnership formed by Sep 2023 (or by the treaty, Jun 2024, in the
    model) and active, not hollow, in Apr 2025."""
    result = CliRunner().invoke(
        main,
        ["validate", "russia-dprk-2023", "--replicates", "50", "--out", str(tmp_path), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    (pair,) = json.loads((tmp_path / "validation.json").read_text())["partnerships"]
    assert pair["formed_share"] == 1.0
    assert pair["active_through"]["share_active_and_not_hollow"] >= 0.9
    assert pair["historical"]["functional_end"] is None  # no end is known


# --------------------------------------------------------------------------- one-line errors


def fails(args: list[str], *fragments: str) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alliance: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


NO_HISTORY = """\
[scenario]
name = "tiny"
start = "2000-01"
steps = 12
norms = ["sovereignty"]
resources = ["arms"]

[[states]]
name = "Alpha"
power = 0.5
risk = 0.2
tension = 1.0

[[states]]
name = "Beta"
power = 0.5
risk = 0.2
tension = 1.0
"""


def test_validate_needs_history(tmp_path: Path):
    path = tmp_path / "tiny.toml"
    path.write_text(NO_HISTORY)
    fails(["validate", str(path)], str(path), "no [[history]] entries")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            NO_HISTORY + '\n[[history]]\nmembers = ["Alpha", "Gamma"]\n',
            ["history[0].members", "'Gamma'"],
        ),
        (
            NO_HISTORY
            + '\n[[history]]\nmembers = ["Alpha", "Beta"]\nformal_end = ["2001-05", "2001-01"]\n',
            ["history[0].formal_end", "earliest first"],
        ),
        (
            NO_HISTORY + '\n[[history]]\nmembers = ["Alpha", "Beta"]\nactive_through = "2001-13"\n',
            ["history[0].active_through", "YYYY-MM"],
        ),
        (
            NO_HISTORY + '\n[[events]]\ndate = "2000-02"\nname = "x"\nbasis = "rumour"\n'
            'effects = [{ state = "Alpha", set = "tension", value = 1.0 }]\n',
            ["events[0].basis", "fact, judgement", "'rumour'"],
        ),
    ],
)
def test_bad_history_or_basis_is_one_line(tmp_path: Path, text: str, fragments: list[str]):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    fails(["validate", str(path)], str(path), *fragments)


def test_validate_unknown_scenario_and_bad_set(tmp_path: Path):
    fails(["validate", "atlantis-1950"], "atlantis-1950", "no such scenario", "sino-soviet-1950")
    fails(["validate", "sino-soviet-1950", "--set", "alpha=lots"], "--set", "expected a number")
    blocker = tmp_path / "file"
    blocker.write_text("")
    fails(
        ["validate", "sino-soviet-1950", "--replicates", "2", "--out", str(blocker)], str(blocker)
    )
