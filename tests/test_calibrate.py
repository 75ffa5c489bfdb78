"""Calibration: the shipped targets, the distance, and `alliance calibrate` end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.calibration import distances, load_targets, target_table
from analysis.evaluation import DEFAULT_SPACE, CommonSeedExperiment, parse_space
from analysis.results import AnalysisError
from model.parameters import ParameterError, Parameters
from model.synthetic import synthetic_scenario
from runs.cli import main


def test_shipped_targets_are_model_card_a4_with_citations():
    targets = load_targets()
    values = {t.name: t.value for t in targets.targets}
    assert values == {
        "S(1)": 0.92,
        "S(2)": 0.84,
        "S(5)": 0.73,
        "S(10)": 0.56,
        "S(20)": 0.31,
        "median": 11.4,
        "abrogation_share": 0.40,
        "weibull_shape": 0.78,
    }
    assert targets.times == (1.0, 2.0, 5.0, 10.0, 20.0)
    citations = " ".join(targets.source["citations"])
    assert "Leeds" in citations and "Savun" in citations and "4.01" in citations
    for t in targets.targets:
        if t.statistic == "survival":
            assert (t.goal_low, t.goal_high) == pytest.approx((t.value - 0.05, t.value + 0.05))
    shape = next(t for t in targets.targets if t.name == "weibull_shape")
    assert shape.goal_high == 1.0


def _stats(**changes) -> pd.DataFrame:
    targets = load_targets()
    row = {t.column: t.value for t in targets.targets}
    row.update(spells=100.0, failed_runs=0)
    row.update(changes)
    return pd.DataFrame([row])


def test_distance_is_zero_at_the_targets_and_counts_standard_errors():
    targets = load_targets()
    assert distances(_stats(), targets, 40.0)[0] == pytest.approx(0.0)
    se = next(t.se for t in targets.targets if t.name == "S(10)")
    assert distances(_stats(**{"S(10)": 0.56 + 2 * se}), targets, 40.0)[0] == pytest.approx(4.0)
    # The simulation's own variance counts: a simulated s.e. equal to the target's adds 1.
    noisy = _stats(**{"S(10)": 0.56 + 2 * se, "se:S(10)": se})
    assert distances(noisy, targets, 40.0)[0] == pytest.approx(4.0 + 1.0)
    # The median has weight 0: reported, not fitted.
    assert distances(_stats(median=30.0), targets, 40.0)[0] == pytest.approx(0.0)
    assert distances(_stats(spells=0.0), targets, 40.0)[0] >= 1e6
    table = target_table(_stats(abrogation_share=0.55, weibull_shape=1.0).iloc[0], targets, 40.0)
    met = dict(zip(table["target"], table["goal_met"], strict=True))
    assert met["S(1)"] is True and met["abrogation_share"] is False
    assert met["weibull_shape"] is False  # the goal is shape < 1
    assert met["median"] is None


def test_targets_file_errors(tmp_path):
    bad = tmp_path / "t.toml"
    bad.write_text('[[target]]\nname = "S(1)"\nstatistic = "survival"\nvalue = 0.9\n')
    with pytest.raises(AnalysisError, match="se: missing"):
        load_targets(bad)
    bad.write_text('[[target]]\nname = "x"\nstatistic = "mean"\nvalue = 1\nse = 1\n')
    with pytest.raises(AnalysisError, match="statistic"):
        load_targets(bad)


def test_parameter_space_defaults_and_errors():
    assert [r.name for r in parse_space([])] == [r.name for r in DEFAULT_SPACE]
    limits = Parameters.describe()
    for r in DEFAULT_SPACE:
        assert limits[r.name]["low"] <= r.low < r.high <= limits[r.name]["high"]
    assert parse_space(["rho=0.01:0.2"])[0].high == 0.2
    for item, message in (
        ("nope=0:1", "unknown parameter"),
        ("rho=0.3:0.1", "LOW < HIGH"),
        ("rho", "NAME=LOW:HIGH"),
        ("rho=0:2", "<= 1.0"),
    ):
        with pytest.raises(ParameterError, match=message):
            parse_space([item])


def test_common_random_numbers_give_every_point_the_same_seeds():
    experiment = CommonSeedExperiment(
        scenario=synthetic_scenario(n_states=3, steps=2), points=({}, {"rho": 0.2}), replicates=3
    )
    seeds = [experiment.run(r)[2] for r in range(experiment.n_runs)]
    assert seeds[:3] == seeds[3:] and len(set(seeds[:3])) == 3


# 3 generations of 6 points x 2 replicates; then 3 finalists, 2 checks and 2 x 2 Jacobian
# points, 4 replicates each.
BUDGET = 3 * 6 * 2 + (3 + 2 + 4) * 4


def test_calibrate_end_to_end_improves_on_its_start(tmp_path):
    """Two parameters on a small world: the fitted point's distance (on the search seeds) is
    below the start's, and every output is written."""
    out = tmp_path / "calibration"
    args = [
        "calibrate",
        "--scenario",
        "synthetic:n_states=10,steps=360",
        "--burn-in",
        "60",
        "--replicates",
        "2",
        "--min-spells",
        "0",
        "--popsize",
        "3",
        "--param",
        "kappa_pact=0.2:6",
        "--param",
        "h_exo=0:0.006",
        "--budget",
        str(BUDGET),
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "calibration.json").read_text())
    assert summary["runs_used"] == BUDGET
    assert summary["generations"] == 3
    assert summary["best_distance"] < summary["start_distance"]
    assert set(summary["fitted"]) == {"kappa_pact", "h_exo"}
    parameters = pd.read_csv(out / "parameters.csv")
    assert (parameters["interval_lower"] <= parameters["fitted"]).all()
    assert (parameters["fitted"] <= parameters["interval_upper"]).all()
    assert (parameters["se_others_fixed"] <= parameters["se"] + 1e-12).all()
    targets = pd.read_csv(out / "targets.csv")
    assert list(targets["target"])[:5] == ["S(1)", "S(2)", "S(5)", "S(10)", "S(20)"]
    assert targets["simulated"].iloc[:5].notna().all()  # S(t); the Weibull fit may need more ends
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 18 and math.isclose(history["distance"].min(), summary["best_distance"])
    for name in ("calibration_fit.png", "calibration_fit.svg"):
        assert (out / "figures" / name).stat().st_size > 1000
    assert "kappa_pact" in (out / "fitted.toml").read_text()
    assert "simulated runs" in result.output


def test_calibrate_user_errors(tmp_path):
    runner = CliRunner()
    for args, text in (
        (["calibrate", "--budget", "10", "--out", str(tmp_path)], "--budget 10: too small"),
        (
            ["calibrate", "--replicates", "8", "--max-replicates", "4", "--out", str(tmp_path)],
            "--max-replicates",
        ),
        (["calibrate", "--param", "zeta=0:1", "--out", str(tmp_path)], "unknown parameter"),
        (["calibrate", "--scenario", "synthetic:n_states=1", "--out", str(tmp_path)], "n_states"),
        (["calibrate", "--burn-in", "900", "--out", str(tmp_path)], "--burn-in 900"),
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("alliance: error: ") and text in lines[0], (
            result.output
        )


def test_standard_errors_of_a_known_linear_model():
    """Targets linear in the parameters, J (already in se units) = [[2, 0], [0, 1], [0, 0]]:
    Σ = (JᵀJ)⁻¹ (1 + 365 / N_sim) = diag(1/4, 1) x 2 at N_sim = 365."""
    from analysis.calibration import _standard_errors
    from analysis.evaluation import ParameterRange

    space = (ParameterRange("a", 0.0, 10.0), ParameterRange("b", 0.0, 10.0))
    point = {"a": 5.0, "b": 5.0}
    jacobian = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    table = _standard_errors(jacobian, space, point, point, simulated_spells=365).set_index(
        "parameter"
    )
    assert table["se"].to_numpy() == pytest.approx([0.5 * math.sqrt(2), math.sqrt(2)])
    assert table.loc["a", "interval_upper"] == pytest.approx(5.0 + 1.959964 * 0.5 * math.sqrt(2))
    assert table["identified"].all()
    # One target moved by a + b: only their sum is identified, neither alone.
    table = _standard_errors(np.array([[1.0, 1.0]]), space, point, point, simulated_spells=365)
    assert not table["identified"].any() and np.isinf(table["se"]).all()
    assert table["se_others_fixed"].to_numpy() == pytest.approx([math.sqrt(2), math.sqrt(2)])
