"""Credibility-frozen twins and pivotality (MODEL.md §3 item 12, issue 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from model.records import TWIN_COLUMNS
from model.scenario import load_scenario
from runs.batch import run_experiment
from runs.cli import main
from runs.engine import LocalEngine
from runs.experiment import Experiment

RD_WAR_ENDS = load_scenario("russia-dprk-2023").with_counterfactual("2026-01", "war-ends")


def pair(spells, a, b):
    return spells[(spells["state_a"] == a) & (spells["state_b"] == b)]


def test_the_factual_run_of_a_twin_pair_is_the_run_without_twins() -> None:
    spec = RD_WAR_ENDS.with_parameters(h_exo=0.002)
    plain = run_experiment(Experiment(scenario=spec, replicates=8, steps=240, master_seed=2))
    twinned = run_experiment(
        Experiment(scenario=spec, replicates=8, steps=240, master_seed=2, twins=True)
    )
    assert twinned.spells.drop(columns=list(TWIN_COLUMNS)).equals(plain.spells)
    assert twinned.timeseries.equals(plain.timeseries)


def test_a_run_and_its_twin_in_lockstep_equal_the_two_runs_made_apart() -> None:
    """The lockstep kernel shares the drift and acts; each run must still be exactly its own,
    including through spell-table growth (a small first table, many spells)."""
    from model.simulation import simulate_arrays, simulate_twin_arrays

    spec = load_scenario("synthetic:n_states=16,steps=240,world_seed=2").with_parameters(
        rho=0.5, u_form=-1.0, benefit_floor=0.0, cooldown=0, h_exo=0.05
    )
    for frozen in (np.ones(16, np.bool_), np.arange(16) < 3):
        for seed in (1, 2):
            run, twin = simulate_twin_arrays(spec, np.uint64(seed), 240, frozen)
            apart = simulate_arrays(spec, np.uint64(seed), 240)
            twin_apart = simulate_arrays(spec, np.uint64(seed), 240, frozen=frozen)
            assert min(int(run.spells.count[0]), int(twin.spells.count[0])) > 256  # both grew
            for mine, theirs in ((run, apart), (twin, twin_apart)):
                n = int(theirs.spells.count[0])
                assert int(mine.spells.count[0]) == n
                for name, column in theirs.spells._asdict().items():
                    if column.ndim and column.shape[0] == theirs.spells.capacity:
                        np.testing.assert_array_equal(getattr(mine.spells, name)[:n], column[:n])
                np.testing.assert_array_equal(mine.records.aggregate, theirs.records.aggregate)


def test_with_alpha_zero_the_twin_is_the_factual_run() -> None:
    spec = RD_WAR_ENDS.with_parameters(alpha=0.0)
    spells = run_experiment(
        Experiment(scenario=spec, replicates=8, master_seed=3, twins=True)
    ).spells
    assert (spells["twin_duration"] == spells["duration"]).all()
    assert (spells["twin_event"] == spells["event"]).all()
    assert spells["pivotal"].fillna(0).sum() == 0


def test_without_contradictions_no_end_is_pivotal_and_the_twin_is_the_run() -> None:
    # The control upholds every principle: H = 0, so credibility stays 1 with or without freezing.
    spec = load_scenario("consistent-control").with_parameters(h_exo=0.01)
    spells = run_experiment(
        Experiment(scenario=spec, replicates=10, master_seed=4, twins=True)
    ).spells
    assert spells["event"].sum() > 0  # exogenous ends happen, so the check below can fail
    assert (spells["twin_duration"] == spells["duration"]).all()
    ended = spells[spells["event"] == 1]
    assert (ended["pivotal"] == 0).all() and (ended["reverse"] == 0).all()


def test_the_control_does_not_split_where_russia_dprk_mostly_does() -> None:
    # 100 runs each over 40 years. Russia–DPRK with the war ending in 2026: most first spells end
    # (the reference form gives about 0.6-0.8). The control with the same interests and the same
    # fading interest but shared, upheld principles: none may end. Margin: >= 50 vs 0 of 100.
    engine = LocalEngine(2)
    rd = run_experiment(
        Experiment(scenario=RD_WAR_ENDS, replicates=100, master_seed=5), engine=engine
    )
    control = run_experiment(
        Experiment(scenario=load_scenario("consistent-control"), replicates=100, master_seed=5),
        engine=engine,
    )
    rd_first = pair(rd.spells, "Russia", "DPRK").groupby("run_id").head(1)
    control_first = pair(control.spells, "Patron", "Client").groupby("run_id").head(1)
    assert len(rd_first) == 100 and len(control_first) == 100
    assert rd_first["event"].sum() >= 50
    assert control_first["event"].sum() == 0


def test_russia_dprk_ends_are_credibility_pivotal_above_the_noise_floor() -> None:
    spells = run_experiment(
        Experiment(scenario=RD_WAR_ENDS, replicates=60, master_seed=6, twins=True)
    ).spells
    ended = pair(spells, "Russia", "DPRK").query("event == 1")
    assert len(ended) >= 20
    assert ended["pivotal"].mean() > ended["reverse"].mean() + 0.3


def test_freezing_one_state_freezes_only_its_credibility() -> None:
    from model.alliance_model import AllianceModel

    model = AllianceModel(scenario=RD_WAR_ENDS, frozen=["DPRK"], rng=1, steps=120)
    start = model.world.credibility.copy()
    model.simulate()
    dprk = RD_WAR_ENDS.state_names.index("DPRK")
    russia = RD_WAR_ENDS.state_names.index("Russia")
    assert np.array_equal(
        model.records.state_credibility[:, dprk], np.broadcast_to(start[dprk], (120, 3))
    )
    assert model.records.state_credibility[-1, russia].min() < 0.9  # the others still move


def test_alliance_pivotality_reports_shares_and_writes_its_figure(tmp_path: Path) -> None:
    out = tmp_path / "p"
    result = CliRunner().invoke(main, [
        "pivotality", "--event", "2026-01:war-ends", "--pair", "Russia,DPRK", "--replicates", "20",
        "--steps", "240", "--workers", "1", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = (out / "pivotality.csv").read_text().splitlines()
    assert table[0].startswith("frozen,spells,ended") and len(table) == 4  # all, Russia, DPRK
    assert (out / "survival_factual_vs_twin.png").stat().st_size > 1000
    assert "pivotal" in result.output
    bad = CliRunner().invoke(main, ["pivotality", "--pair", "Russia,Narnia", "--out", str(out)])
    assert bad.exit_code == 2 and bad.output.startswith("alliance: error: ")


def test_match_twins_on_a_hand_made_table() -> None:
    from model.records import match_twins

    def table(rows):  # (a, b, start, duration, event), in formation order
        a, b, start, duration, event = (
            np.array(c, dtype=np.int64) for c in zip(*rows, strict=True)
        )
        return {"spell": np.arange(len(rows)), "member_a": a, "member_b": b,
                "start_step": start, "duration": duration, "event": event}  # fmt: skip

    factual = table([
        (0, 1, 10, 40, 1),  # twin of the same pair starts 4 months later and lasts 70: pivotal
        (0, 2, 10, 40, 1),  # twins start 5 months before and 5 after: the earlier wins, ends at 20
        (1, 2, 10, 40, 1),  # the only twin starts 13 months later: no twin
        (0, 1, 90, 30, 0),  # censored: twin columns, no flags
        (2, 3, 5, 60, 1),   # twin still active at the end: pivotal
    ])  # fmt: skip
    twin = table([
        (0, 1, 14, 70, 1), (0, 2, 5, 20, 1), (0, 2, 15, 90, 1), (1, 2, 23, 10, 1),
        (0, 1, 88, 32, 0), (2, 3, 5, 100, 0),
    ])  # fmt: skip
    out = match_twins(factual, twin)
    assert out["twin_duration"].tolist() == [70, 20, -1, 32, 100]
    assert out["twin_event"].tolist() == [1, 1, -1, 0, 0]
    assert out["pivotal"].tolist() == [1, 0, -1, -1, 1]
    assert out["reverse"].tolist() == [0, 1, -1, -1, 0]


def test_validate_acceptance_prints_every_behaviour_beside_its_target(tmp_path: Path) -> None:
    out = tmp_path / "acc"
    arguments = ["validate", "--acceptance", "--replicates", "10", "--workers", "1"]
    result = CliRunner().invoke(main, [*arguments, "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("  [")]
    assert len(rows) == 12 and sum("A2" in r for r in rows) == 1
    table = (out / "acceptance.csv").read_text().splitlines()
    assert table[0] == "behaviour,target,measured,met" and len(table) == 13
    missing = CliRunner().invoke(main, ["validate"])
    assert missing.exit_code == 2 and missing.output.startswith("alliance: error: ")


def test_validate_acceptance_set_changes_every_scenario_alike(tmp_path: Path) -> None:
    """--set with --acceptance is a candidate set of defaults, applied to every scenario alike:
    with no erosion (alpha = 0) credibility after three years is back at its start (1.00)."""
    arguments = ["validate", "--acceptance", "--replicates", "4", "--workers", "1"]
    result = CliRunner().invoke(main, [*arguments, "--set", "alpha=0"])
    assert result.exit_code == 0, result.output
    assert "parameters changed in every scenario alike: alpha=0" in result.output
    credibility = [line for line in result.output.splitlines() if "credibility on" in line]
    assert len(credibility) == 2 and all(line.endswith("measured 1.00") for line in credibility)
    for bad in (["--set", "nonsense=1"], ["--set", "alpha=-1"], ["sino-soviet-1950"]):
        wrong = CliRunner().invoke(main, [*arguments, *bad])
        assert wrong.exit_code == 2 and wrong.output.startswith("alliance: error: "), bad
        assert len(wrong.output.strip().splitlines()) == 1, wrong.output
