"""Survival statistics of partnership spells, all estimated with lifelines.

A spells table (docs/outputs.md) is lifelines-ready: ``duration`` (months) and ``event``
(1 = formally ended, 0 = right-censored), and the same for the functional end
(``functional_duration``, ``functional_event``). Everything here reports time in **years**
(months / 12), the unit of the empirical targets (MODEL.md §6 A4).

* :func:`kaplan_meier`, :func:`median_survival`, :func:`km_curves`, :func:`survival_summary` —
  Kaplan–Meier curves with confidence bands, medians with their intervals, by group and end;
* :func:`cumulative_incidence` — causes of ending as competing risks (Aalen–Johansen);
* :func:`weibull_fit`, :func:`weibull_table` — is the hazard rising or falling with age?
* :func:`cox_model` — spell-level drivers (Cox proportional hazards); extra numeric columns in
  the spells table are picked up as covariates without code changes;
* :func:`duration_statistics` — the summary a calibration or sensitivity analysis compares with
  the ATOP targets (S(t), median, abrogation share, Weibull shape).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

MONTHS_PER_YEAR = 12.0
ABROGATION_CAUSES = ("interest", "principles", "entrapment")
ENDS = {
    "formal": ("duration", "event"),
    "functional": ("functional_duration", "functional_event"),
}
DEFAULT_TIMES = (1.0, 2.0, 5.0, 10.0, 20.0)
ALL = "all spells"
Z_95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)

# Spell columns that are bookkeeping, not covariates (the rest of the numeric columns are).
NON_COVARIATES = frozenset(
    {
        "point_id",
        "run_id",
        "seed",
        "spell",
        "state_a",
        "state_b",
        "kind",
        "term_months",
        "start_step",
        "start_date",
        "functional_end_step",
        "functional_end_date",
        "formal_end_step",
        "formal_end_date",
        "duration",
        "event",
        "functional_duration",
        "functional_event",
        "cause",
        "group",
        "replicate",
        "status",
        "error",
        # A frozen twin's outcome is a consequence of the spell, not a driver of it.
        "twin_duration",
        "twin_event",
        "pivotal",
        "reverse",
        "binding_state",
    }
)


def kaplan_meier(durations, events, *, label: str = ALL, alpha: float = 0.05):
    """A fitted ``lifelines.KaplanMeierFitter`` (durations in the unit given, events 0/1)."""
    from lifelines import KaplanMeierFitter

    return KaplanMeierFitter(alpha=alpha).fit(
        np.asarray(durations, dtype=float), np.asarray(events, dtype=bool), label=label
    )


@dataclass(frozen=True)
class MedianEstimate:
    """Median survival and its confidence interval (inf where the curve never reaches 0.5)."""

    median: float
    lower: float
    upper: float


def median_survival(kmf) -> MedianEstimate:
    """Median of a fitted Kaplan–Meier curve with lifelines' interval for it."""
    from lifelines.utils import median_survival_times

    interval = median_survival_times(kmf.confidence_interval_)
    return MedianEstimate(
        float(kmf.median_survival_time_), float(interval.iloc[0, 0]), float(interval.iloc[0, 1])
    )


def survival_at(kmf, times: Sequence[float]) -> np.ndarray:
    """S(t) of a fitted Kaplan–Meier curve at ``times``."""
    return kmf.survival_function_at_times(list(times)).to_numpy(dtype=float)


def _groups(spells: pd.DataFrame, group: str | None) -> Iterable[tuple[str, pd.DataFrame]]:
    if group is None or group not in spells.columns:
        yield ALL, spells
        return
    for name, part in spells.groupby(group, sort=True, observed=True):
        yield str(name), part


def km_curves(
    spells: pd.DataFrame,
    group: str | None = None,
    ends: Sequence[str] = ("formal", "functional"),
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Kaplan–Meier curves in long form: end, group, years, survival, lower, upper, at_risk."""
    frames = []
    for end in ends:
        duration, event = ENDS[end]
        for name, part in _groups(spells, group):
            if part.empty:
                continue
            kmf = kaplan_meier(
                part[duration] / MONTHS_PER_YEAR, part[event], label=name, alpha=alpha
            )
            ci = kmf.confidence_interval_survival_function_
            frame = pd.DataFrame(
                {
                    "end": end,
                    "group": name,
                    "years": kmf.survival_function_.index.to_numpy(dtype=float),
                    "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
                    "lower": ci.iloc[:, 0].to_numpy(),
                    "upper": ci.iloc[:, 1].to_numpy(),
                    "at_risk": kmf.event_table["at_risk"]
                    .reindex(kmf.survival_function_.index)
                    .fillna(0)
                    .astype(int)
                    .to_numpy(),
                }
            )
            frames.append(frame)
    columns = ["end", "group", "years", "survival", "lower", "upper", "at_risk"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def survival_summary(
    spells: pd.DataFrame,
    group: str | None = None,
    ends: Sequence[str] = ("formal", "functional"),
    times: Sequence[float] = DEFAULT_TIMES,
    *,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per end and group: spells, events, censored, median (years) with its interval, S(t)."""
    rows = []
    for end in ends:
        duration, event = ENDS[end]
        for name, part in _groups(spells, group):
            if part.empty:
                continue
            kmf = kaplan_meier(
                part[duration] / MONTHS_PER_YEAR, part[event], label=name, alpha=alpha
            )
            med = median_survival(kmf)
            row = {
                "end": end,
                "group": name,
                "spells": len(part),
                "events": int(part[event].sum()),
                "censored": int((part[event] == 0).sum()),
                "median_years": med.median,
                "median_lower": med.lower,
                "median_upper": med.upper,
            }
            for t, s in zip(times, survival_at(kmf, times), strict=True):
                row[f"S({t:g})"] = s
            rows.append(row)
    return pd.DataFrame(rows)


def cumulative_incidence(
    spells: pd.DataFrame,
    group: str | None = None,
    causes: Sequence[str] | None = None,
    *,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Cumulative incidence of each cause of ending, competing with the others (Aalen–Johansen).

    Censored spells (``event`` 0) are censored for every cause. lifelines breaks ties between
    events by a tiny jitter; ``seed`` fixes it so that the table is reproducible.
    """
    from lifelines import AalenJohansenFitter

    present = sorted(set(spells.loc[spells["event"] == 1, "cause"]) - {""})
    causes = [c for c in (causes or present) if c in present]
    codes = {cause: n + 1 for n, cause in enumerate(causes)}
    frames = []
    for name, part in _groups(spells, group):
        ended = part["event"].to_numpy() == 1
        code = np.where(ended, part["cause"].map(codes).fillna(0).to_numpy(), 0).astype(int)
        years = part["duration"].to_numpy(dtype=float) / MONTHS_PER_YEAR
        for cause in causes:
            if not (code == codes[cause]).any():
                continue
            ajf = AalenJohansenFitter(alpha=alpha, seed=seed, calculate_variance=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "tied event times were detected": jittered
                ajf.fit(years, code, event_of_interest=codes[cause], label=cause)
            cif = ajf.cumulative_density_
            ci = ajf.confidence_interval_cumulative_density_
            frames.append(
                pd.DataFrame(
                    {
                        "group": name,
                        "cause": cause,
                        "years": cif.index.to_numpy(dtype=float),
                        "incidence": cif.iloc[:, 0].to_numpy(),
                        "lower": ci.iloc[:, 0].to_numpy(),
                        "upper": ci.iloc[:, 1].to_numpy(),
                    }
                )
            )
    columns = ["group", "cause", "years", "incidence", "lower", "upper"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def weibull_fit(durations_years, events, *, alpha: float = 0.05):
    """A fitted ``lifelines.WeibullFitter``: S(t) = exp(-(t/λ)^ρ); ρ < 1 is a falling hazard.

    A zero duration (a spell censored in the month it formed) has zero likelihood under a
    Weibull law; it is placed at half a month, the middle of its month.
    """
    from lifelines import WeibullFitter

    t = np.asarray(durations_years, dtype=float)
    t = np.where(t <= 0, 0.5 / MONTHS_PER_YEAR, t)
    return WeibullFitter(alpha=alpha).fit(t, np.asarray(events, dtype=bool))


def hazard_direction(shape: float, lower: float, upper: float) -> str:
    """'falling', 'rising' or 'not distinguishable from constant', from the shape's interval."""
    if upper < 1.0:
        return "falling"
    if lower > 1.0:
        return "rising"
    return "not distinguishable from constant"


def weibull_by_group(
    spells: pd.DataFrame, group: str | None = None, *, alpha: float = 0.05
) -> tuple[pd.DataFrame, dict[str, object | None]]:
    """Per group: Weibull shape ρ and scale λ (years) with intervals and the hazard's direction
    (formal end); and the fitted ``WeibullFitter`` of each group (None where not estimable)."""
    rows = []
    fits: dict[str, object | None] = {}
    for name, part in _groups(spells, group):
        row: dict = {"group": name, "spells": len(part), "events": int(part["event"].sum())}
        fits[name] = None
        if row["events"] < 2:
            row["note"] = "fewer than 2 ended spells: not estimable"
            rows.append(row)
            continue
        try:
            fit = weibull_fit(part["duration"] / MONTHS_PER_YEAR, part["event"], alpha=alpha)
        except Exception as exc:  # noqa: BLE001 - lifelines' ConvergenceError and friends
            row["note"] = f"did not converge ({type(exc).__name__})"
            rows.append(row)
            continue
        ci = fit.summary  # rows lambda_, rho_; columns "coef lower 95%", "coef upper 95%"
        lower, upper = (
            ci.columns[ci.columns.str.startswith("coef lower")][0],
            ci.columns[ci.columns.str.startswith("coef upper")][0],
        )
        shape_lo, shape_hi = float(ci.loc["rho_", lower]), float(ci.loc["rho_", upper])
        scale_lo, scale_hi = float(ci.loc["lambda_", lower]), float(ci.loc["lambda_", upper])
        row.update(
            shape=float(fit.rho_),
            shape_lower=shape_lo,
            shape_upper=shape_hi,
            scale_years=float(fit.lambda_),
            scale_lower=scale_lo,
            scale_upper=scale_hi,
            median_years=float(fit.median_survival_time_),
            aic=float(fit.AIC_),
            hazard=hazard_direction(float(fit.rho_), shape_lo, shape_hi),
            note="",
        )
        fits[name] = fit
        rows.append(row)
    return pd.DataFrame(rows), fits


def weibull_table(
    spells: pd.DataFrame, group: str | None = None, *, alpha: float = 0.05
) -> pd.DataFrame:
    """The table of :func:`weibull_by_group`."""
    return weibull_by_group(spells, group, alpha=alpha)[0]


@dataclass
class CoxResult:
    """A Cox model's summary table, the covariates it used and why others were left out."""

    summary: pd.DataFrame
    covariates: list[str]
    dropped: dict[str, str]
    fitter: object | None
    note: str = ""


def cox_covariates(spells: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Candidate covariates of each spell (one row per spell, numeric columns).

    * from the spell: ``treaty`` (1 for a treaty), ``initial_strength``, ``kappa``,
      ``term_years``, and **every other numeric column** of the spells table that is not
      bookkeeping (so covariates added to spells.csv later are used as they appear);
    * from its run (joined on ``run_id``): the model parameters in ``runs``.
    """
    from model.parameters import Parameters

    frame = pd.DataFrame(index=spells.index)
    frame["treaty"] = (spells["kind"] == "treaty").astype(float)
    for column in ("initial_strength", "kappa"):
        if column in spells.columns:
            frame[column] = pd.to_numeric(spells[column], errors="coerce")
    if "term_months" in spells.columns:
        frame["term_years"] = spells["term_months"] / MONTHS_PER_YEAR
    for column in spells.columns:
        if column in NON_COVARIATES or column in frame.columns:
            continue
        if pd.api.types.is_numeric_dtype(spells[column]) and not pd.api.types.is_bool_dtype(
            spells[column]
        ):
            frame[column] = spells[column].astype(float)
    if runs is not None and "run_id" in spells.columns:
        parameters = [c for c in Parameters.names() if c in runs.columns and c not in frame.columns]
        joined = spells[["run_id"]].merge(runs[["run_id", *parameters]], on="run_id", how="left")
        for column in parameters:
            frame[column] = joined[column].to_numpy(dtype=float)
    return frame


def _usable_covariates(frame: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Columns with variance, no missing values, and not a linear combination of earlier ones."""
    kept: list[str] = []
    dropped: dict[str, str] = {}
    for column in frame.columns:
        values = frame[column]
        if values.isna().any():
            dropped[column] = "missing values"
            continue
        if values.nunique() < 2:
            dropped[column] = "constant"
            continue
        trial = frame[[*kept, column]].to_numpy(dtype=float)
        trial = (trial - trial.mean(axis=0)) / trial.std(axis=0)
        if np.linalg.matrix_rank(trial, tol=1e-8 * len(trial)) < trial.shape[1]:
            dropped[column] = "collinear with " + ", ".join(kept)
            continue
        kept.append(column)
    return kept, dropped


def cox_model(
    spells: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    *,
    alpha: float = 0.05,
    penalizer: float = 0.0,
) -> CoxResult:
    """Cox proportional-hazards model of the formal end on the spell's covariates.

    Durations in years. Constant, incomplete and collinear covariates are left out (named in
    ``dropped``). If the unpenalised fit does not converge (separation, e.g. a covariate that
    predicts every end), a small ridge penalty (0.1) is used and said in ``note``.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    candidates = cox_covariates(spells, runs)
    covariates, dropped = _usable_covariates(candidates)
    empty = pd.DataFrame()
    if int(spells["event"].sum()) < 2 or not covariates:
        why = (
            "fewer than 2 ended spells" if int(spells["event"].sum()) < 2 else "no covariate varies"
        )
        return CoxResult(empty, covariates, dropped, None, note=f"not estimable: {why}")
    data = candidates[covariates].copy()
    data["years"] = spells["duration"].to_numpy(dtype=float) / MONTHS_PER_YEAR
    data["event"] = spells["event"].to_numpy(dtype=int)
    note = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fitter = CoxPHFitter(alpha=alpha, penalizer=penalizer).fit(data, "years", "event")
        except ConvergenceError:
            fitter = CoxPHFitter(alpha=alpha, penalizer=0.1).fit(data, "years", "event")
            note = "unpenalised fit did not converge; ridge penalty 0.1 used"
    summary = fitter.summary.reset_index().rename(columns={"covariate": "covariate"})
    return CoxResult(summary, covariates, dropped, fitter, note=note)


def abrogation_share(spells: pd.DataFrame) -> float:
    """Share of formally ended spells whose cause is an abrogation (interest, principles or
    entrapment); NaN if none ended."""
    ended = spells["event"].to_numpy() == 1
    if not ended.any():
        return float("nan")
    return float(spells.loc[ended, "cause"].isin(ABROGATION_CAUSES).mean())


def duration_statistics(
    spells: pd.DataFrame,
    *,
    burn_in: int = 0,
    times: Sequence[float] = DEFAULT_TIMES,
    weibull: bool = True,
) -> dict[str, float]:
    """What calibration and sensitivity compare: spells formed at or after ``burn_in`` (months),
    durations in years, censoring respected.

    Keys: ``S(t)`` for each time, ``median`` (years; inf if S never reaches 0.5),
    ``abrogation_share``, ``weibull_shape`` (NaN when not estimable or ``weibull`` is False),
    ``spells``, ``events``; and ``se:<key>``, the standard error of each statistic in this
    sample (from lifelines' 95% intervals: width / 3.92; binomial for the share), which tells a
    calibration how much of a difference is simulation noise.
    """
    part = spells[spells["start_step"] >= burn_in]
    out: dict[str, float] = {"spells": float(len(part)), "events": float(part["event"].sum())}
    nan = float("nan")
    keys = [f"S({t:g})" for t in times] + ["median", "abrogation_share", "weibull_shape"]
    out.update({key: nan for key in keys})
    out.update({f"se:{key}": nan for key in keys})
    if part.empty:
        return out
    years = part["duration"].to_numpy(dtype=float) / MONTHS_PER_YEAR
    events = part["event"].to_numpy(dtype=int)
    kmf = kaplan_meier(years, events)
    band = kmf.confidence_interval_survival_function_
    index = np.searchsorted(band.index.to_numpy(dtype=float), np.asarray(times, float), "right") - 1
    for t, s, i in zip(times, survival_at(kmf, times), index, strict=True):
        out[f"S({t:g})"] = float(s)
        if i >= 0:
            out[f"se:S({t:g})"] = float(band.iloc[i, 1] - band.iloc[i, 0]) / (2 * Z_95)
    median = median_survival(kmf)
    out["median"] = median.median
    out["se:median"] = (median.upper - median.lower) / (2 * Z_95)
    out["abrogation_share"] = share = abrogation_share(part)
    if np.isfinite(share):
        out["se:abrogation_share"] = float(np.sqrt(share * (1 - share) / max(events.sum(), 1)))
    if weibull and events.sum() >= 2:
        try:
            # Tied (duration, event) pairs as weights: the same likelihood, fewer rows.
            counts = (
                pd.DataFrame({"years": years, "event": events}).value_counts().reset_index(name="n")
            )
            from lifelines import WeibullFitter

            t = np.where(counts["years"] <= 0, 0.5 / MONTHS_PER_YEAR, counts["years"])
            fit = WeibullFitter().fit(t, counts["event"].astype(bool), weights=counts["n"])
            out["weibull_shape"] = float(fit.rho_)
            out["se:weibull_shape"] = float(fit.summary.loc["rho_", "se(coef)"])
        except Exception:  # noqa: BLE001 - non-convergence leaves NaN
            pass
    return out
