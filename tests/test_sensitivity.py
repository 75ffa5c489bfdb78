"""Sensitivity analysis: SALib wiring checked on analytic functions, and the command end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.evaluation import ParameterRange
from analysis.sensitivity import indices, outputs_of, sample, sobol_base_samples
from runs.cli import main

# MODEL.md §3's ATOP-fitted column: partnerships that form and end within a short horizon.
LIVELY = [
    f"--set={item}"
    for item in (
        "upkeep=0.12",
        "gamma=0.44",
        "w_init=0.33",
        "w_func=0.31",
        "rho=0.18",
        "u_form=0.045",
    )
]
PI_SPACE = tuple(ParameterRange(f"x{i}", -np.pi, np.pi) for i in (1, 2, 3))


def test_sobol_indices_of_the_ishigami_function():
    """Ishigami (a = 7, b = 0.1): S1 = 0.314, 0.442, 0; ST = 0.558, 0.442, 0.244 (analytic).
    N = 2048 base samples: bootstrap intervals ~0.03-0.05; tolerance 0.06."""
    X = sample(PI_SPACE, "sobol", 2048, seed=1)
    y = np.sin(X[:, 0]) + 7 * np.sin(X[:, 1]) ** 2 + 0.1 * X[:, 2] ** 4 * np.sin(X[:, 0])
    table = indices(PI_SPACE, "sobol", X, pd.DataFrame({"y": y}), seed=1).set_index("parameter")
    assert table["S1"].to_numpy() == pytest.approx([0.314, 0.442, 0.0], abs=0.06)
    assert table["ST"].to_numpy() == pytest.approx([0.558, 0.442, 0.244], abs=0.06)


def test_morris_effects_of_a_linear_function_are_its_slopes():
    """y = 3 x1 - 2 x2 on [0, 1]^3: every elementary effect of x1 is 3, of x2 is -2, of x3 is 0."""
    space = tuple(ParameterRange(f"x{i}", 0.0, 1.0) for i in (1, 2, 3))
    X = sample(space, "morris", 12, seed=2)
    y = 3 * X[:, 0] - 2 * X[:, 1]
    table = indices(space, "morris", X, pd.DataFrame({"y": y}), seed=2).set_index("parameter")
    assert table["mu_star"].to_numpy() == pytest.approx([3.0, 2.0, 0.0], abs=1e-9)
    assert table["mu"].to_numpy() == pytest.approx([3.0, -2.0, 0.0], abs=1e-9)
    assert table["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def test_outputs_cap_unreached_medians_and_impute_undefined_shares():
    stats = pd.DataFrame(
        {
            "median": [5.0, np.inf, 8.0],
            "abrogation_share": [0.2, np.nan, 0.4],
            "failed_runs": [0, 0, 0],
        }
    )
    outputs, imputed = outputs_of(stats, window_years=39.9)
    assert outputs["median_years"].tolist() == [5.0, 39.9, 8.0]
    assert outputs["abrogation_share"].tolist() == pytest.approx([0.2, 0.3, 0.4])
    assert imputed == {"median_years": 0, "abrogation_share": 1}
    assert sobol_base_samples(100) == 128 and sobol_base_samples(64) == 64


def test_sensitivity_command_end_to_end(tmp_path):
    out = tmp_path / "sens"
    args = [
        "sensitivity",
        "--method",
        "morris",
        "--samples",
        "2",
        "--replicates",
        "2",
        "--min-spells",
        "0",
        "--scenario",
        "synthetic:n_states=10,steps=360",
        "--burn-in",
        "60",
        "--param",
        "h_exo=0.003:0.008",
        "--param",
        "kappa_pact=0.5:5",
        *LIVELY,
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "sensitivity.csv")
    assert set(table["output"]) == {"median_years", "abrogation_share"}
    assert set(table["parameter"]) == {"h_exo", "kappa_pact"}
    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 2 * 3  # trajectories x (parameters + 1)
    meta = json.loads((out / "sensitivity.json").read_text())
    assert meta["runs_used"] == 12
    assert (out / "figures" / "sensitivity.png").stat().st_size > 1000
    bad = CliRunner().invoke(main, ["sensitivity", "--method", "fast", "--out", str(out)])
    assert bad.exit_code == 2
