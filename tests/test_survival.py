"""Known answers for analysis/survival.py: spells drawn from laws with known parameters.

Every sample is drawn from its own ``np.random.default_rng(SEED)`` (no global seeding), so the
numbers are fixed; tolerances are stated per test as multiples of the estimator's standard error.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from analysis.survival import (
    abrogation_share,
    cox_covariates,
    cox_model,
    cumulative_incidence,
    duration_statistics,
    km_curves,
    survival_summary,
    weibull_table,
)


def spells_from_years(event_years, censor_years, *, causes=None, **columns) -> pd.DataFrame:
    """A spells table (docs/outputs.md columns the statistics read) from latent event times and
    independent censoring times, in years; durations in (fractional) months."""
    event_years = np.asarray(event_years, dtype=float)
    censor_years = np.asarray(censor_years, dtype=float)
    ended = event_years <= censor_years
    months = np.minimum(event_years, censor_years) * 12.0
    n = len(months)
    cause = np.where(ended, causes if causes is not None else "principles", "")
    frame = pd.DataFrame(
        {
            "run_id": np.zeros(n, dtype=int),
            "kind": "pact",
            "term_months": 0,
            "initial_strength": 0.5,
            "kappa": 2.5,
            "start_step": 200,
            "duration": months,
            "event": ended.astype(int),
            "functional_duration": months,
            "functional_event": ended.astype(int),
            "cause": cause,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_exponential_median_is_recovered_with_censoring():
    """Exp(rate 0.1 / year): median ln 2 / 0.1 = 6.93 years. n = 3000, uniform censoring on
    [0, 40] years (about a fifth censored). The KM median's s.e. is about 0.2 years here
    (s.e. of S at the median, ~0.01, over the density there, 0.05); tolerance 0.8 years = 4 s.e.,
    and the reported 95% interval must contain the true median."""
    rng = np.random.default_rng(20260501)
    n, rate = 3000, 0.1
    spells = spells_from_years(rng.exponential(1 / rate, n), rng.uniform(0, 40, n))
    assert 0.1 < (spells["event"] == 0).mean() < 0.4  # censoring really happens
    row = survival_summary(spells, ends=("formal",)).iloc[0]
    truth = math.log(2) / rate
    assert row["median_years"] == pytest.approx(truth, abs=0.8)
    assert row["median_lower"] <= truth <= row["median_upper"]
    # S(5) = exp(-0.5) = 0.607; s.e. ~0.009: tolerance 0.04.
    assert row["S(5)"] == pytest.approx(math.exp(-0.5), abs=0.04)


def test_censored_rows_are_censored_exactly_as_lifelines_treats_them():
    rng = np.random.default_rng(7)
    n = 400
    spells = spells_from_years(rng.exponential(8.0, n), rng.uniform(0, 15, n))
    spells["duration"] = np.ceil(
        spells["duration"]
    )  # monthly integers with ties, as the model writes
    curves = km_curves(spells, ends=("formal",))
    direct = KaplanMeierFitter().fit(spells["duration"] / 12.0, spells["event"])
    expected = direct.survival_function_.iloc[:, 0]
    assert np.allclose(curves["years"], expected.index.to_numpy())
    assert np.allclose(curves["survival"], expected.to_numpy())
    ci = direct.confidence_interval_survival_function_
    assert np.allclose(curves["lower"], ci.iloc[:, 0]) and np.allclose(
        curves["upper"], ci.iloc[:, 1]
    )
    # Counting the censored rows as ends would give a different, lower curve.
    naive = KaplanMeierFitter().fit(spells["duration"] / 12.0, np.ones(n))
    assert (
        naive.survival_function_at_times([10.0]).iloc[0]
        < direct.survival_function_at_times([10.0]).iloc[0] - 0.05
    )
    stats = duration_statistics(spells, weibull=False)
    assert stats["S(10)"] == pytest.approx(direct.survival_function_at_times([10.0]).iloc[0])
    assert stats["median"] == pytest.approx(direct.median_survival_time_)


@pytest.mark.parametrize(("shape", "direction"), [(0.78, "falling"), (1.5, "rising")])
def test_weibull_shape_is_recovered(shape, direction):
    """Weibull(shape k, scale 15 years), n = 3000, uniform censoring on [0, 60] years. The shape
    MLE's s.e. is about 0.78 k / sqrt(events), ~0.012 for k = 0.78 and ~0.023 for k = 1.5:
    tolerance 0.06 (>= 2.6 s.e.; 5 s.e. for 0.78). Both the report's fit and the calibration's
    (tied rows as weights) must find it."""
    rng = np.random.default_rng(1234 + int(shape * 100))
    n, scale = 3000, 15.0
    spells = spells_from_years(scale * rng.weibull(shape, n), rng.uniform(0, 60, n))
    row = weibull_table(spells).iloc[0]
    assert row["shape"] == pytest.approx(shape, abs=0.06)
    assert row["scale_years"] == pytest.approx(scale, rel=0.1)
    assert row["shape_lower"] < row["shape"] < row["shape_upper"]
    assert row["hazard"] == direction
    assert duration_statistics(spells)["weibull_shape"] == pytest.approx(row["shape"], abs=1e-3)


def test_competing_risks_match_the_analytic_cumulative_incidence():
    """Two exponential causes, rates 0.06 and 0.04 per year: CIF_a(t) = 0.6 (1 - e^{-0.1 t}).
    n = 4000, censoring uniform on [0, 50] years; at t = 10 the s.e. is ~0.01: tolerance 0.04."""
    rng = np.random.default_rng(99)
    n = 4000
    a, b = rng.exponential(1 / 0.06, n), rng.exponential(1 / 0.04, n)
    cause = np.where(a < b, "interest", "expiry")
    spells = spells_from_years(np.minimum(a, b), rng.uniform(0, 50, n), causes=cause)
    cif = cumulative_incidence(spells)
    for name, rate in (("interest", 0.06), ("expiry", 0.04)):
        part = cif[cif["cause"] == name]
        at10 = part.loc[part["years"] <= 10, "incidence"].iloc[-1]
        assert at10 == pytest.approx(rate / 0.1 * (1 - math.exp(-1.0)), abs=0.04)
    assert set(cif["cause"]) == {"interest", "expiry"}


def test_abrogation_share_and_burn_in():
    spells = pd.DataFrame(
        {
            "start_step": [0, 50, 130, 140, 150, 160, 170],
            "duration": [10, 20, 30, 40, 50, 60, 70],
            "event": [1, 1, 1, 1, 1, 1, 0],
            "cause": ["expiry", "interest", "principles", "entrapment", "expiry", "exogenous", ""],
            "kind": "pact",
        }
    )
    assert abrogation_share(spells) == pytest.approx(3 / 6)
    stats = duration_statistics(spells, burn_in=120, weibull=False)
    assert stats["spells"] == 5 and stats["events"] == 4
    assert stats["abrogation_share"] == pytest.approx(2 / 4)
    assert math.isnan(abrogation_share(spells[spells["event"] == 0]))


def test_cox_recovers_a_known_hazard_ratio_and_picks_up_extra_columns():
    """Hazard 0.1 e^{0.5 x} per year with x ~ N(0, 1), n = 2000: coefficient 0.5, s.e. ~0.025;
    tolerance 0.1. ``x`` is an extra spells.csv column; a constant column is left out."""
    rng = np.random.default_rng(5)
    n = 2000
    x = rng.normal(size=n)
    spells = spells_from_years(
        rng.exponential(1 / (0.1 * np.exp(0.5 * x))),
        rng.uniform(0, 30, n),
        complementarity=x,
        constant_column=1.0,
    )
    assert {"complementarity", "constant_column"} <= set(cox_covariates(spells).columns)
    result = cox_model(spells)
    assert "complementarity" in result.covariates
    assert result.dropped["constant_column"] == "constant"
    coef = result.summary.set_index("covariate").loc["complementarity", "coef"]
    assert coef == pytest.approx(0.5, abs=0.1)


def test_groups_split_the_curves():
    rng = np.random.default_rng(3)
    n = 600
    fast = spells_from_years(rng.exponential(2.0, n), np.full(n, 50.0))
    slow = spells_from_years(rng.exponential(20.0, n), np.full(n, 50.0))
    spells = pd.concat([fast.assign(group="fast"), slow.assign(group="slow")], ignore_index=True)
    summary = survival_summary(spells, "group").set_index(["end", "group"])
    # Exponential medians 2 ln 2 = 1.39 and 20 ln 2 = 13.9 years; s.e. ~6% of the median.
    assert summary.loc[("formal", "fast"), "median_years"] == pytest.approx(1.39, rel=0.25)
    assert summary.loc[("formal", "slow"), "median_years"] == pytest.approx(13.9, rel=0.25)
    assert summary.loc[("functional", "slow"), "spells"] == n


def test_standard_errors_of_the_calibration_statistics():
    """Without censoring Greenwood's variance of S(t) is binomial, S(1 - S) / n; the s.e. from
    lifelines' (log-log) 95% interval matches it within 5% at n = 3000. The share's s.e. is
    binomial over the ended spells."""
    rng = np.random.default_rng(11)
    n = 3000
    causes = np.where(rng.uniform(size=n) < 0.4, "interest", "expiry")
    spells = spells_from_years(rng.exponential(10.0, n), np.full(n, 1e9), causes=causes)
    stats = duration_statistics(spells, weibull=False)
    for t in (1.0, 5.0, 20.0):
        s = stats[f"S({t:g})"]
        assert stats[f"se:S({t:g})"] == pytest.approx(math.sqrt(s * (1 - s) / n), rel=0.05)
    share = stats["abrogation_share"]
    assert stats["se:abrogation_share"] == pytest.approx(math.sqrt(share * (1 - share) / n))
    assert 0 < stats["se:median"] < 0.5
