"""Figures (matplotlib's Agg backend, seaborn styling), each written as PNG and SVG.

Every function takes the tables that :mod:`analysis.survival`, :mod:`analysis.calibration` or
:mod:`analysis.sensitivity` produce and returns a ``matplotlib.figure.Figure``;
:func:`save_figure` writes it. Nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: figures are files

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

plt.rcParams["svg.hashsalt"] = "alliance-durability"  # stable SVG ids from run to run
sns.set_theme(style="whitegrid", context="notebook")

END_TITLES = {
    "formal": "Formal end (treaty abrogated, expired or ended)",
    "functional": "Functional end (partnership hollow)",
}


def save_figure(fig, out_dir: Path, stem: str) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` into ``out_dir``; close the figure."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=110, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return paths


def _palette(names: Sequence[str]) -> dict[str, tuple]:
    colours = sns.color_palette("colorblind", max(len(names), 1))
    return dict(zip(names, colours, strict=False))


def _step(ax, x, y, lower=None, upper=None, *, colour, label=None, linestyle="-"):
    ax.step(x, y, where="post", color=colour, label=label, linestyle=linestyle, linewidth=1.6)
    if lower is not None and upper is not None:
        ax.fill_between(x, lower, upper, step="post", color=colour, alpha=0.18, linewidth=0)


def survival_figure(curves: pd.DataFrame, summary: pd.DataFrame | None = None):
    """Kaplan–Meier curves with 95% bands: formal and functional ends side by side, by group."""
    ends = [e for e in ("formal", "functional") if e in set(curves["end"])] or ["formal"]
    groups = list(dict.fromkeys(curves["group"]))
    colours = _palette(groups)
    fig, axes = plt.subplots(
        1, len(ends), figsize=(6.2 * len(ends), 4.4), sharey=True, squeeze=False
    )
    for ax, end in zip(axes[0], ends, strict=True):
        for group in groups:
            part = curves[(curves["end"] == end) & (curves["group"] == group)]
            if part.empty:
                continue
            label = group
            if summary is not None:
                row = summary[(summary["end"] == end) & (summary["group"] == group)]
                if len(row):
                    med = row["median_years"].iloc[0]
                    label = (
                        f"{group} (median {med:.1f} y)"
                        if np.isfinite(med)
                        else f"{group} (median not reached)"
                    )
            _step(
                ax,
                part["years"],
                part["survival"],
                part["lower"],
                part["upper"],
                colour=colours[group],
                label=label,
            )
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(END_TITLES[end], fontsize=11)
        ax.set_xlabel("years since formation")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8, loc="upper right")
    axes[0][0].set_ylabel("share of partnerships surviving")
    fig.suptitle("Kaplan–Meier survival of partnership spells (95% bands)", fontsize=12)
    return fig


def incidence_figure(cif: pd.DataFrame):
    """Cumulative incidence of each cause of ending (Aalen–Johansen), one panel per group."""
    groups = list(dict.fromkeys(cif["group"])) or ["all spells"]
    causes = sorted(set(cif["cause"]))
    colours = _palette(causes)
    cols = min(3, len(groups))
    rows = int(np.ceil(len(groups) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.6 * cols, 4.0 * rows), sharey=True, squeeze=False
    )
    for ax, group in zip(axes.flat, groups, strict=False):
        for cause in causes:
            part = cif[(cif["group"] == group) & (cif["cause"] == cause)]
            if len(part):
                _step(
                    ax,
                    part["years"],
                    part["incidence"],
                    part["lower"],
                    part["upper"],
                    colour=colours[cause],
                    label=cause,
                )
        ax.set_title(group, fontsize=11)
        ax.set_xlabel("years since formation")
        ax.legend(fontsize=8, loc="upper left")
    for ax in list(axes.flat)[len(groups) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("cumulative incidence")
    fig.suptitle("Causes of ending as competing risks (Aalen–Johansen, 95% bands)", fontsize=12)
    return fig


def weibull_figure(curves: pd.DataFrame, fits: dict, table: pd.DataFrame):
    """Kaplan–Meier (formal end) with the fitted Weibull curve; the Weibull hazard by age."""
    formal = curves[curves["end"] == "formal"]
    groups = [g for g in dict.fromkeys(formal["group"]) if fits.get(g) is not None]
    colours = _palette(groups)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    horizon = float(formal["years"].max()) if len(formal) else 1.0
    grid = np.linspace(horizon / 400, max(horizon, 1e-3), 400)
    for group in groups:
        part = formal[formal["group"] == group]
        fit = fits[group]
        shape = table.loc[table["group"] == group, "shape"].iloc[0]
        _step(left, part["years"], part["survival"], colour=colours[group], label=f"{group}: KM")
        left.plot(
            grid,
            fit.survival_function_at_times(grid).to_numpy(),
            color=colours[group],
            linestyle="--",
            label=f"{group}: Weibull, shape {shape:.2f}",
        )
        right.plot(
            grid,
            fit.hazard_at_times(grid).to_numpy(),
            color=colours[group],
            label=f"{group}: shape {shape:.2f}",
        )
    left.set_xlabel("years since formation")
    left.set_ylabel("share surviving (formal end)")
    left.set_ylim(0, 1.02)
    left.legend(fontsize=8)
    left.set_title("Kaplan–Meier and Weibull fit", fontsize=11)
    right.set_xlabel("years since formation")
    right.set_ylabel("hazard per year")
    right.set_title("Weibull hazard: shape < 1 falls with age, > 1 rises", fontsize=11)
    right.legend(fontsize=8)
    if groups:
        top = max(fits[g].hazard_at_times(grid).to_numpy()[len(grid) // 40 :].max() for g in groups)
        right.set_ylim(0, top * 1.1 if np.isfinite(top) and top > 0 else 1)
    return fig


def cox_figure(summary: pd.DataFrame):
    """Forest plot: hazard ratio per unit of each covariate with its 95% interval (log scale)."""
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * max(len(summary), 2) + 1.2))
    if summary.empty:
        ax.text(0.5, 0.5, "Cox model not estimable", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ordered = summary.iloc[::-1]
    y = np.arange(len(ordered))
    ratio = ordered["exp(coef)"].to_numpy()
    lower = ordered["exp(coef) lower 95%"].to_numpy()
    upper = ordered["exp(coef) upper 95%"].to_numpy()
    ax.errorbar(
        ratio,
        y,
        xerr=[ratio - lower, upper - ratio],
        fmt="o",
        color="#0173b2",
        ecolor="#0173b2",
        capsize=3,
    )
    ax.axvline(1.0, color="grey", linestyle=":")
    ax.set_yticks(y, ordered["covariate"])
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("hazard ratio of the formal end per unit (log scale; > 1 ends sooner)")
    ax.set_title("Cox model of spell-level drivers (95% intervals)", fontsize=11)
    return fig


def credibility_figure(frame: pd.DataFrame):
    """Credibility per norm over time for named states: mean with a band (± 1 s.d. over runs).

    ``frame``: point, state, norm, year, mean, lower, upper (lower/upper NaN for a single run).
    """
    norms = list(dict.fromkeys(frame["norm"]))
    points = list(dict.fromkeys(frame["point"]))
    states = list(dict.fromkeys(frame["state"]))
    colours = _palette(states)
    fig, axes = plt.subplots(
        len(points),
        len(norms),
        figsize=(4.4 * len(norms), 3.4 * len(points)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for r, point in enumerate(points):
        for c, norm in enumerate(norms):
            ax = axes[r][c]
            for state in states:
                part = frame[
                    (frame["point"] == point) & (frame["norm"] == norm) & (frame["state"] == state)
                ]
                if part.empty:
                    continue
                ax.plot(
                    part["year"], part["mean"], color=colours[state], label=state, linewidth=1.4
                )
                if part["lower"].notna().any():
                    ax.fill_between(
                        part["year"],
                        part["lower"],
                        part["upper"],
                        color=colours[state],
                        alpha=0.15,
                        linewidth=0,
                    )
            title = norm if len(points) == 1 else f"{point}: {norm}"
            ax.set_title(title, fontsize=10)
            ax.set_ylim(-0.02, 1.02)
            if c == 0:
                ax.set_ylabel("credibility")
            if r == len(points) - 1:
                ax.set_xlabel("year")
    axes[0][-1].legend(fontsize=8, loc="lower left")
    fig.suptitle(
        "Credibility of each state's stance per norm (mean and ± 1 s.d. band over runs)",
        fontsize=12,
    )
    return fig


def partnerships_figure(frame: pd.DataFrame):
    """Active and hollow partnerships over time (mean with ± 1 s.d. band), one line per point."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharex=True)
    points = list(dict.fromkeys(frame["point"]))
    colours = _palette(points)
    for ax, column, title in (
        (axes[0], "active_partnerships", "Active partnerships"),
        (axes[1], "hollow_partnerships", "Hollow partnerships (W < w_func)"),
    ):
        for point in points:
            part = frame[frame["point"] == point]
            ax.plot(
                part["year"],
                part[f"{column}_mean"],
                color=colours[point],
                label=point,
                linewidth=1.3,
            )
            sd = part.get(f"{column}_sd")
            if sd is not None and sd.notna().any():
                ax.fill_between(
                    part["year"],
                    part[f"{column}_mean"] - sd,
                    part[f"{column}_mean"] + sd,
                    color=colours[point],
                    alpha=0.15,
                    linewidth=0,
                )
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("year")
    if len(points) > 1:
        axes[1].legend(fontsize=8)
    return fig


def calibration_figure(
    curves: pd.DataFrame, targets, checks: dict[str, pd.DataFrame], life_table: dict
):
    """Simulated Kaplan–Meier curves (start and fitted, fresh seeds) over the empirical targets,
    the per-target standardised differences, and the hazard by age."""
    fig, axes = plt.subplots(
        1, 3, figsize=(18, 4.8), gridspec_kw={"width_ratios": [1.3, 1, 1], "wspace": 0.35}
    )
    left, middle, right = axes
    styles = {"start": ("#949494", "--"), "fitted": ("#0173b2", "-")}
    for label, part in curves.groupby("group", sort=False):
        colour, style = styles.get(label, ("#de8f05", "-"))
        _step(
            left,
            part["years"],
            part["survival"],
            part["lower"],
            part["upper"],
            colour=colour,
            label=f"simulated, {label}",
            linestyle=style,
        )
    surv = [t for t in targets.targets if t.statistic == "survival"]
    xs = [t.years for t in surv]
    ys = [t.value for t in surv]
    lows = [t.value - t.goal_low if t.goal_low is not None else 0 for t in surv]
    highs = [t.goal_high - t.value if t.goal_high is not None else 0 for t in surv]
    left.errorbar(
        xs,
        ys,
        yerr=[lows, highs],
        fmt="s",
        color="#d55e00",
        capsize=4,
        label="ATOP v4.01 (goal band ± 0.05)",
        zorder=5,
    )
    left.set_xlim(0, max(30, max(xs) * 1.4))
    left.set_ylim(0, 1.02)
    left.set_xlabel("years since formation")
    left.set_ylabel("share of alliances surviving")
    left.set_title("Survival: simulated (95% band) vs ATOP", fontsize=11)
    left.legend(fontsize=8, loc="upper right")

    names = list(checks["fitted"]["target"])
    y = np.arange(len(names))
    for offset, (label, table) in zip((-0.18, 0.18), checks.items(), strict=False):
        colour = styles.get(label, ("#de8f05", "-"))[0]
        difference = table["simulated"] - table["empirical"]
        # Measured against the goal band's edge on the side it falls (bands may be one-sided).
        edge = np.where(
            difference >= 0,
            table["goal_high"] - table["empirical"],
            table["empirical"] - table["goal_low"],
        )
        scaled = difference / pd.Series(edge, index=table.index).where(lambda e: e > 0)
        middle.barh(y + offset, scaled.clip(-3, 3), height=0.34, color=colour, label=label)
    middle.axvspan(-1, 1, color="#029e73", alpha=0.12, label="within goal")
    middle.axvline(0, color="grey", linewidth=0.8)
    middle.set_yticks(y, names)
    middle.set_xlim(-3.2, 3.2)
    middle.set_xlabel("(simulated − ATOP) / distance to the goal's edge")
    middle.set_title("Per target (inside ±1: goal met; clipped at ±3)", fontsize=11)
    middle.legend(fontsize=8, loc="lower right")
    middle.invert_yaxis()

    if life_table:
        ages = life_table.get("ages", [])
        rates = life_table.get("annual_end_rate", [])
        bounds = [tuple(float(v) for v in a.split("-")) for a in ages]
        mids = [(a + b) / 2 for a, b in bounds]
        right.plot(
            mids, rates, "s:", color="#d55e00", alpha=0.6, label="ATOP life table (reported)"
        )
    cuts = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0]
    mids = [(a + b) / 2 for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    by_year = {t.years: t.value for t in surv}
    if all(c in by_year for c in cuts[1:]):
        s = np.array([1.0] + [by_year[c] for c in cuts[1:]])
        right.plot(
            mids,
            1.0 - (s[1:] / s[:-1]) ** (1.0 / np.diff(cuts)),
            "s-",
            color="#d55e00",
            label="ATOP, from the S(t) targets",
        )
    for label, part in curves.groupby("group", sort=False):
        colour, style = styles.get(label, ("#de8f05", "-"))
        years = part["years"].to_numpy()
        index = np.searchsorted(years, cuts, side="right") - 1  # the step function's value
        s = np.where(index >= 0, part["survival"].to_numpy()[np.maximum(index, 0)], 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = 1.0 - (s[1:] / s[:-1]) ** (1.0 / np.diff(cuts))
        right.plot(mids, rate, "o", linestyle=style, color=colour, label=f"simulated, {label}")
    right.set_xlabel("age of the alliance (years, interval midpoints)")
    right.set_ylabel("share ending per year")
    right.set_title("Hazard by age (share ending per year of age)", fontsize=11)
    right.set_ylim(bottom=0)
    right.legend(fontsize=8)
    return fig


def sensitivity_figure(indices: pd.DataFrame, method: str):
    """Morris μ* (with σ) or Sobol S1/ST, one panel per output, parameters ranked."""
    outputs = list(dict.fromkeys(indices["output"]))
    fig, axes = plt.subplots(
        1,
        len(outputs),
        figsize=(6.4 * len(outputs), 0.42 * indices["parameter"].nunique() + 2),
        squeeze=False,
    )
    for ax, output in zip(axes[0], outputs, strict=True):
        part = indices[indices["output"] == output]
        if method == "morris":
            part = part.sort_values("mu_star")
            y = np.arange(len(part))
            ax.barh(
                y,
                part["mu_star"],
                xerr=part["mu_star_conf"],
                color="#0173b2",
                alpha=0.85,
                label="μ* (mean |elementary effect|)",
            )
            ax.plot(part["sigma"], y, "D", color="#de8f05", label="σ (interactions, non-linearity)")
            ax.set_xlabel("effect on the output over the parameter's range")
        else:
            part = part.sort_values("ST")
            y = np.arange(len(part))
            ax.barh(
                y - 0.18,
                part["S1"],
                xerr=part["S1_conf"],
                height=0.34,
                color="#0173b2",
                label="first order S1",
            )
            ax.barh(
                y + 0.18,
                part["ST"],
                xerr=part["ST_conf"],
                height=0.34,
                color="#de8f05",
                label="total ST",
            )
            ax.set_xlabel("share of the output's variance")
        ax.set_yticks(y, part["parameter"])
        ax.set_title(output, fontsize=11)
        ax.legend(fontsize=8, loc="lower right")
    title = "Morris screening" if method == "morris" else "Sobol indices"
    fig.suptitle(f"Global sensitivity ({title})", fontsize=12)
    return fig
