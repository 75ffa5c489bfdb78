"""``alliance analyze``: survival statistics, figures, tables and an HTML report of results.

:func:`analyze_results` reads a batch or single-run folder (:mod:`analysis.results`), computes
the statistics (:mod:`analysis.survival`), draws the figures (:mod:`analysis.figures`) and writes

* ``tables/*.csv`` — survival summary, Kaplan–Meier curves, cumulative incidence, end causes,
  Weibull fits, the Cox model, credibility trajectories;
* ``figures/*.png`` and ``figures/*.svg``;
* ``report.html`` — self-contained (figures embedded as PNG), linking the SVGs and CSVs by
  relative paths, with the run metadata.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.results import Results, ResultsError, read_results
from analysis.survival import (
    ABROGATION_CAUSES,
    ALL,
    NON_COVARIATES,
    abrogation_share,
    cox_model,
    cumulative_incidence,
    km_curves,
    survival_summary,
    weibull_by_group,
)

MAX_GROUP_VALUES = 6  # a numeric --by column with more distinct values is cut into quartiles
MAX_POINTS_SHOWN = 4
DEFAULT_STATES_SHOWN = 4
OUTCOME_COLUMNS = {
    "duration",
    "event",
    "functional_duration",
    "functional_event",
    "cause",
    "formal_end_step",
    "formal_end_date",
    "functional_end_step",
    "functional_end_date",
}


@dataclass
class AnalysisOutput:
    out: Path
    report: Path
    figures: list[Path] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- groups


def assign_groups(results: Results, by: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """The spells with a ``group`` label from the ``--by`` columns (joined from runs.csv when
    the column is a run's), and notes on how groups were formed."""
    spells = results.spells.copy()
    notes: list[str] = []
    if not by:
        spells["group"] = ALL
        return spells, notes
    labels = []
    for column in by:
        if column in OUTCOME_COLUMNS:
            raise ResultsError(
                f"--by {column}: an outcome of the spell cannot group it; expected "
                "point_id, a spell attribute such as kind, or a run parameter"
            )
        if column in spells.columns:
            values = spells[column]
        elif column in results.runs.columns:
            values = spells[["run_id"]].merge(
                results.runs[["run_id", column]], on="run_id", how="left"
            )[column]
            values.index = spells.index
        else:
            choices = ["point_id", "kind"] + results.varying_parameters
            raise ResultsError(
                f"--by {column}: no such column in {results.path}/spells.csv or runs.csv; "
                f"expected one of: {', '.join(choices)}"
                + (" (or another parameter in runs.csv)" if results.parameter_columns else "")
            )
        distinct = values.nunique()
        if pd.api.types.is_numeric_dtype(values) and distinct > MAX_GROUP_VALUES:
            values = pd.qcut(values, 4, duplicates="drop").astype(str)
            notes.append(f"--by {column}: {distinct} distinct values, grouped into quartile bins")
        labels.append(column + "=" + values.astype(str))
    group = labels[0]
    for more in labels[1:]:
        group = group + ", " + more
    spells["group"] = group.to_numpy()
    return spells, notes


# --------------------------------------------------------------------------- series tables


def _years(dates: pd.Series) -> np.ndarray:
    """'YYYY-MM' -> decimal year (January = .0)."""
    parts = dates.astype(str).str.split("-", n=1, expand=True)
    return parts[0].astype(float).to_numpy() + (parts[1].astype(float).to_numpy() - 1) / 12.0


def credibility_table(
    results: Results, states: Sequence[str] | None = None, max_states: int = DEFAULT_STATES_SHOWN
) -> tuple[pd.DataFrame, list[str]]:
    """Long table point, state, norm, step, date, year, mean, lower, upper (band = ± 1 s.d. over
    runs, clipped to [0, 1]; NaN for a single run) for the chosen states."""
    notes: list[str] = []
    frame = results.states
    if frame is None or frame.empty:
        return pd.DataFrame(), [
            "no per-state series in this folder (states.csv): credibility "
            "trajectories need a batch run with per-state series"
        ]
    batch = results.kind == "batch"
    available = list(dict.fromkeys(frame["state"]))
    if states:
        unknown = [s for s in states if s not in available]
        if unknown:
            raise ResultsError(
                f"--state {unknown[0]}: not a state in {results.path}/states.csv; expected one of: "
                + ", ".join(available[:12])
                + (" ..." if len(available) > 12 else "")
            )
        chosen = list(states)
    else:
        suffix = "_mean" if batch else ""
        columns = [
            f"credibility_{k}{suffix}" for k in results.norms if f"credibility_{k}{suffix}" in frame
        ]
        if not columns:
            return pd.DataFrame(), ["states.csv has no credibility columns"]
        first, last = frame["step"].min(), frame["step"].max()
        start = frame[frame["step"] == first].groupby("state")[columns].mean()
        end = frame[frame["step"] == last].groupby("state")[columns].mean()
        loss = (start - end).max(axis=1).sort_values(ascending=False, kind="stable")
        chosen = list(loss.index[:max_states])
        notes.append(
            f"states shown: the {len(chosen)} with the largest credibility loss on any norm "
            "(choose others with --state)"
        )
    points = list(dict.fromkeys(frame["point_id"]))
    if len(points) > MAX_POINTS_SHOWN:
        notes.append(f"credibility shown for the first {MAX_POINTS_SHOWN} of {len(points)} points")
        points = points[:MAX_POINTS_SHOWN]
    part = frame[frame["state"].isin(chosen) & frame["point_id"].isin(points)]
    rows = []
    for norm in results.norms:
        if batch:
            mean_col, sd_col = f"credibility_{norm}_mean", f"credibility_{norm}_sd"
            if mean_col not in part:
                continue
            mean = part[mean_col].to_numpy(dtype=float)
            sd = (
                part[sd_col].to_numpy(dtype=float) if sd_col in part else np.full(len(part), np.nan)
            )
        else:
            mean_col = f"credibility_{norm}"
            if mean_col not in part:
                continue
            mean = part[mean_col].to_numpy(dtype=float)
            sd = np.full(len(part), np.nan)
        rows.append(
            pd.DataFrame(
                {
                    "point": "point " + part["point_id"].astype(str).to_numpy(),
                    "state": part["state"].to_numpy(),
                    "norm": norm,
                    "step": part["step"].to_numpy(),
                    "date": part["date"].to_numpy() if "date" in part else "",
                    "year": _years(part["date"])
                    if "date" in part
                    else part["step"].to_numpy() / 12,
                    "mean": mean,
                    "lower": np.clip(mean - sd, 0, 1),
                    "upper": np.clip(mean + sd, 0, 1),
                }
            )
        )
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return out, notes


def partnership_series(results: Results) -> pd.DataFrame:
    frame = results.timeseries
    points = list(dict.fromkeys(frame["point_id"]))[:MAX_POINTS_SHOWN]
    frame = frame[frame["point_id"].isin(points)]
    out = pd.DataFrame({"point": "point " + frame["point_id"].astype(str)})
    out["year"] = _years(frame["date"]) if "date" in frame else frame["step"] / 12
    for column in ("active_partnerships", "hollow_partnerships"):
        if f"{column}_mean" in frame:
            out[f"{column}_mean"] = frame[f"{column}_mean"]
            out[f"{column}_sd"] = frame.get(f"{column}_sd", np.nan)
        elif column in frame:
            out[f"{column}_mean"] = frame[column]
            out[f"{column}_sd"] = np.nan
        else:
            return pd.DataFrame()
    return out


def cause_table(spells: pd.DataFrame) -> pd.DataFrame:
    """Per group: counts of each end cause, censored spells, and the abrogation share."""
    rows = []
    for name, part in spells.groupby("group", sort=True):
        row = {"group": name, "spells": len(part), "censored": int((part["event"] == 0).sum())}
        counts = part.loc[part["event"] == 1, "cause"].value_counts()
        for cause, n in counts.items():
            row[cause] = int(n)
        row["abrogation_share"] = abrogation_share(part)
        ended = part[part["event"] == 1]
        for column in ("pivotal", "reverse"):  # with --twins (MODEL.md §3 item 12)
            if column in part.columns and len(ended):
                row[f"{column}_share"] = float(pd.to_numeric(ended[column], errors="coerce").mean())
        rows.append(row)
    table = pd.DataFrame(rows)
    causes = [c for c in (*ABROGATION_CAUSES, "expiry", "exogenous", "scenario") if c in table]
    table[causes] = table[causes].fillna(0).astype(int)
    shares = [c for c in ("abrogation_share", "pivotal_share", "reverse_share") if c in table]
    return table[["group", "spells", "censored", *causes, *shares]]


# --------------------------------------------------------------------------- the pipeline


def analyze_results(
    path: str | Path,
    *,
    by: Sequence[str] = (),
    out: str | Path | None = None,
    states: Sequence[str] | None = None,
) -> AnalysisOutput:
    """Read ``path``, write tables, figures and ``report.html`` into ``out``
    (default: ``path/analysis``)."""
    from analysis import figures
    from runs.output import atomic_write_csv, atomic_write_text, prepare_output_dir

    results = read_results(path)
    out_dir = prepare_output_dir(Path(out) if out is not None else Path(path) / "analysis")
    table_dir, figure_dir = out_dir / "tables", out_dir / "figures"
    table_dir.mkdir(exist_ok=True)
    figure_dir.mkdir(exist_ok=True)
    output = AnalysisOutput(out=out_dir, report=out_dir / "report.html")
    spells, notes = assign_groups(results, by)
    output.notes.extend(notes)
    has_spells = len(spells) > 0
    if not has_spells:
        output.notes.append("this folder holds no partnership spell: survival statistics are empty")

    def table(name: str, frame: pd.DataFrame) -> Path:
        target = table_dir / f"{name}.csv"
        atomic_write_csv(target, frame)
        output.tables.append(target)
        return target

    def figure(name: str, fig) -> Path:
        png, svg = figures.save_figure(fig, figure_dir, name)
        output.figures.extend([png, svg])
        return png

    sections: list[str] = []

    # Survival: formal and functional ends side by side.
    summary = survival_summary(spells) if not by else survival_summary(spells, "group")
    curves = km_curves(spells, "group")
    t_summary = table("survival_summary", summary)
    t_curves = table("km_curves", curves)
    f_survival = figure("survival", figures.survival_figure(curves, summary))
    sections.append(
        _section(
            "Survival of partnership spells",
            "Kaplan–Meier estimates, right-censoring respected (spells still active at the last "
            "month count as survivors up to it). Formal end: the treaty is abrogated, expires or "
            "ends otherwise. Functional end: the partnership turns hollow (strength below w_func), "
            "which can precede the formal end by years. Medians in years with 95% intervals "
            "(inf: the curve does not reach 0.5).",
            f_survival,
            out_dir,
            [t_summary, t_curves],
            summary,
        )
    )

    # Competing risks.
    cif = cumulative_incidence(spells, "group")
    causes = cause_table(spells) if has_spells else pd.DataFrame()
    t_cif = table("cumulative_incidence", cif)
    t_causes = table("end_causes", causes)
    f_cif = figure("causes", figures.incidence_figure(cif))
    sections.append(
        _section(
            "Causes of ending (competing risks)",
            "Cumulative incidence of each cause (Aalen–Johansen): the probability of having ended "
            "by that cause by each age, with the other causes competing. Abrogations are labelled "
            "by the component of value that fell most on the binding side (interest, principles, "
            "entrapment); expiry and exogenous ends are their own causes. Abrogation share: share "
            "of ended spells ended by abrogation.",
            f_cif,
            out_dir,
            [t_cif, t_causes],
            causes,
        )
    )

    # Weibull.
    weibull, fits = weibull_by_group(spells, "group")
    t_weibull = table("weibull", weibull)
    f_weibull = figure("weibull", figures.weibull_figure(curves, fits, weibull))
    sections.append(
        _section(
            "Weibull fit: does the hazard rise or fall with age?",
            "S(t) = exp(−(t/λ)^ρ) fitted to the formal end (lifelines). Shape ρ < 1: the hazard "
            "falls with age, as in ATOP's alliances (ρ ≈ 0.78); ρ > 1: it rises. 'hazard' says "
            "which, from the 95% interval of ρ.",
            f_weibull,
            out_dir,
            [t_weibull],
            weibull,
        )
    )

    # Cox.
    cox = cox_model(spells, results.runs)
    cox_table = cox.summary
    if not cox_table.empty:
        keep = ["covariate", "coef", "exp(coef)", "exp(coef) lower 95%", "exp(coef) upper 95%", "p"]
        cox_table = cox_table[[c for c in keep if c in cox_table.columns]]
    t_cox = table("cox", cox_table)
    f_cox = figure("cox", figures.cox_figure(cox_table))
    extra = [
        c
        for c in cox.covariates
        if c not in {"treaty", "initial_strength", "kappa", "term_years"}
        and c in spells.columns
        and c not in NON_COVARIATES
    ]
    dropped = "; ".join(f"{k} ({v})" for k, v in cox.dropped.items()) or "none"
    sections.append(
        _section(
            "Cox model of spell-level drivers",
            "Proportional hazards of the formal end (years). Covariates: the spell's legal form "
            "(treaty = 1), initial strength, legal inertia κ, treaty term (years), every extra "
            "numeric column of spells.csv, and the run's parameters (joined from runs.csv) — each "
            "used only if it varies and is not collinear with the others. Hazard ratio > 1: ends "
            f"sooner. Left out: {dropped}."
            + (f" Extra spell columns used: {', '.join(extra)}." if extra else "")
            + (f" {cox.note}." if cox.note else ""),
            f_cox,
            out_dir,
            [t_cox],
            cox_table,
        )
    )

    # Credibility.
    cred, cred_notes = credibility_table(results, states)
    output.notes.extend(cred_notes)
    if not cred.empty:
        t_cred = table("credibility", cred)
        f_cred = figure("credibility", figures.credibility_figure(cred))
        band = (
            "± 1 s.d. over the point's runs" if results.kind == "batch" else "a single run: no band"
        )
        sections.append(
            _section(
                "Credibility trajectories per norm",
                f"Credibility of each named state's stance on each norm, mean over runs ({band}). "
                + " ".join(cred_notes),
                f_cred,
                out_dir,
                [t_cred],
                None,
            )
        )
    else:
        sections.append(
            "<section><h2>Credibility trajectories per norm</h2>"
            f"<p>{html.escape(' '.join(cred_notes))}</p></section>"
        )

    series = partnership_series(results)
    if not series.empty:
        t_series = table("partnerships", series)
        f_series = figure("partnerships", figures.partnerships_figure(series))
        sections.append(
            _section(
                "Partnerships over time",
                "Active and hollow partnerships per month (mean ± 1 s.d. over runs for a batch).",
                f_series,
                out_dir,
                [t_series],
                None,
            )
        )

    page = _page(results, by, output.notes, sections)
    atomic_write_text(output.report, page)
    return output


# --------------------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.files { font-size: 0.9em; color: #555; } .note { color: #8a5a00; }
pre { background: #f8f8f8; padding: 0.8em; overflow-x: auto; font-size: 0.8em; max-height: 30em; }
"""


def _html_table(frame: pd.DataFrame, max_rows: int = 40) -> str:
    if frame is None or frame.empty:
        return "<p><em>(empty)</em></p>"
    shown = frame.head(max_rows)
    text = shown.to_html(index=False, border=0, na_rep="", float_format=lambda v: f"{v:.4g}")
    if len(frame) > max_rows:
        text += f"<p class='files'>first {max_rows} of {len(frame)} rows; all in the CSV</p>"
    return text


def _section(
    title: str, text: str, png: Path, out_dir: Path, csvs: list[Path], frame: pd.DataFrame | None
) -> str:
    encoded = base64.b64encode(png.read_bytes()).decode("ascii")
    svg = png.with_suffix(".svg").relative_to(out_dir).as_posix()
    links = [f"<a href='{html.escape(svg)}'>figure (SVG)</a>"] + [
        f"<a href='{html.escape(p.relative_to(out_dir).as_posix())}'>{html.escape(p.name)}</a>"
        for p in csvs
    ]
    parts = [
        "<section>",
        f"<h2>{html.escape(title)}</h2>",
        f"<p>{html.escape(text)}</p>",
        f"<img alt='{html.escape(title)}' src='data:image/png;base64,{encoded}'>",
        f"<p class='files'>Files: {' · '.join(links)}</p>",
    ]
    if frame is not None:
        parts.append(_html_table(frame))
    parts.append("</section>")
    return "\n".join(parts)


def _metadata_rows(results: Results) -> list[tuple[str, str]]:
    meta = results.metadata
    rows = [
        ("results folder", str(results.path)),
        ("kind", "batch" if results.kind == "batch" else "single run"),
    ]
    for key in (
        "scenario",
        "scenario_source",
        "start",
        "steps",
        "master_seed",
        "seed",
        "run_seed",
        "replicates",
        "runs_ok",
        "runs_failed",
        "twins",
        "created",
        "git_revision",
    ):
        if key in meta and meta[key] not in (None, ""):
            rows.append((key, str(meta[key])))
    if "points" in meta:
        rows.append(("points", f"{len(meta['points'])} (parameters per run in runs.csv)"))
    rows.append(("spells", str(len(results.spells))))
    varying = results.varying_parameters
    if varying:
        rows.append(("parameters that vary", ", ".join(varying)))
    return rows


def _page(results: Results, by: Sequence[str], notes: list[str], sections: list[str]) -> str:
    meta = results.metadata
    title = f"Alliance durability: analysis of {results.path.name}"
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _metadata_rows(results)
    )
    params = meta.get("parameters")
    if not isinstance(params, dict) and results.parameter_columns:
        params = {
            c: results.runs[c].iloc[0]
            for c in results.parameter_columns
            if c not in results.varying_parameters
        }
    param_html = ""
    if params:
        param_rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in params.items()
        )
        fixed = " (fixed across runs)" if results.kind == "batch" else ""
        param_html = (
            f"<details><summary>Parameters{fixed}</summary><table>{param_rows}</table></details>"
        )
    versions = meta.get("versions")
    version_html = ""
    if isinstance(versions, dict):
        version_html = (
            "<details><summary>Versions</summary><pre>"
            + html.escape(json.dumps(versions, indent=1))
            + "</pre></details>"
        )
    scenario_html = ""
    if meta.get("scenario_text"):
        scenario_html = (
            "<details><summary>Scenario text</summary><pre>"
            + html.escape(str(meta["scenario_text"]))
            + "</pre></details>"
        )
    if meta.get("sweep_text"):
        scenario_html += (
            "<details><summary>Sweep</summary><pre>"
            + html.escape(str(meta["sweep_text"]))
            + "</pre></details>"
        )
    note_html = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
    grouping = (
        f"Grouped by {html.escape(', '.join(by))}."
        if by
        else "All spells together (use --by to compare groups)."
    )
    made = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Made by <code>alliance analyze</code> on {made}. Durations in years. {grouping}</p>
{note_html}
<section>
<h2>Run metadata</h2>
<table>{rows}</table>
{param_html}
{version_html}
{scenario_html}
</section>
{"".join(sections)}
</body>
</html>
"""
