"""`alliance analyze` on real results folders (a small batch and a single run), and its errors."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from model.synthetic import synthetic_scenario
from runs.batch import run_batch
from runs.cli import main
from runs.experiment import Experiment
from runs.single import run_single

FIGURES = ("survival", "causes", "weibull", "cox", "credibility", "partnerships")
TABLES = (
    "survival_summary",
    "km_curves",
    "cumulative_incidence",
    "end_causes",
    "weibull",
    "cox",
    "credibility",
    "partnerships",
)
# Ends happen within the short horizon: some exogenous ends, cheap abrogation.
ACTIVE = {"h_exo": 0.004, "upkeep": 0.1}


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory) -> Path:
    """2 points x 3 replicates of an 8-state synthetic world over 20 years, per-state series."""
    out = tmp_path_factory.mktemp("batch") / "results"
    scenario = synthetic_scenario(n_states=8, steps=240)
    experiment = Experiment(
        scenario=scenario,
        points=(
            {**ACTIVE, "kappa_pact": 1.0},
            {**ACTIVE, "kappa_pact": 3.0, "treaty_share": 0.5, "treaty_term_years": 5.0},
        ),
        replicates=3,
        per_state=True,
    )
    run_batch(experiment, out, progress=False)
    return out


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.references.append(value)


def _check_report(report: Path) -> _References:
    parser = _References()
    parser.feed(report.read_text(encoding="utf-8"))
    parser.close()
    assert {"html", "body", "img", "table"} <= set(parser.tags)
    local = [r for r in parser.references if not r.startswith(("data:", "#", "http:", "https:"))]
    assert local, "the report links its SVGs and CSVs"
    for reference in local:
        assert (report.parent / reference).is_file(), reference
    assert sum(r.startswith("data:image/png;base64,") for r in parser.references) >= 5
    return parser


def test_analyze_batch_writes_every_figure_table_and_a_report(batch_dir, tmp_path):
    out = tmp_path / "analysis"
    result = CliRunner().invoke(
        main, ["analyze", str(batch_dir), "--by", "kappa_pact", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in FIGURES:
        for suffix in ("png", "svg"):
            assert (out / "figures" / f"{name}.{suffix}").stat().st_size > 1000, name
    for name in TABLES:
        assert (out / "tables" / f"{name}.csv").is_file(), name
    parser = _check_report(out / "report.html")
    assert any(r.endswith("tables/cox.csv") for r in parser.references)
    summary = pd.read_csv(out / "tables" / "survival_summary.csv")
    assert set(summary["end"]) == {"formal", "functional"}
    assert set(summary["group"]) == {"kappa_pact=1.0", "kappa_pact=3.0"}
    spells = pd.read_csv(batch_dir / "spells.csv")
    assert summary.loc[summary["end"] == "formal", "spells"].sum() == len(spells)
    assert summary.loc[summary["end"] == "formal", "events"].sum() == spells["event"].sum()
    credibility = pd.read_csv(out / "tables" / "credibility.csv")
    assert credibility["mean"].between(0, 1).all()
    assert credibility["lower"].le(credibility["mean"] + 1e-12).all()
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "master_seed" in text and "Weibull" in text and "Aalen" in text


def test_analyze_single_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    scenario = synthetic_scenario(n_states=6, steps=240).with_parameters(**ACTIVE)
    run_single(scenario, seed=3, out=run_dir)
    result = CliRunner().invoke(main, ["analyze", str(run_dir), "--by", "kind", "--state", "S0"])
    assert result.exit_code == 0, result.output
    out = run_dir / "analysis"
    _check_report(out / "report.html")
    credibility = pd.read_csv(out / "tables" / "credibility.csv")
    assert set(credibility["state"]) == {"S0"}
    assert credibility["lower"].isna().all()  # one run: no band


def _copy(batch_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(batch_dir, target, ignore=shutil.ignore_patterns("chunks", "analysis"))
    return target


def _fails(args: list[str], *expected: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alliance: error: "), result.output
    for text in expected:
        assert text in lines[0], lines[0]


def test_missing_file_is_a_one_line_error(batch_dir, tmp_path):
    folder = _copy(batch_dir, tmp_path)
    (folder / "spells.csv").unlink()
    _fails(["analyze", str(folder)], "spells.csv", "missing")


def test_missing_column_is_a_one_line_error(batch_dir, tmp_path):
    folder = _copy(batch_dir, tmp_path)
    spells = pd.read_csv(folder / "spells.csv", dtype=str, keep_default_na=False)
    spells.rename(columns={"duration": "length"}).to_csv(folder / "spells.csv", index=False)
    _fails(["analyze", str(folder)], "spells.csv", "'duration'")


def test_wrong_value_is_a_one_line_error_naming_the_line(batch_dir, tmp_path):
    folder = _copy(batch_dir, tmp_path)
    spells = pd.read_csv(folder / "spells.csv", dtype=str, keep_default_na=False)
    spells.loc[2, "event"] = "2"
    spells.to_csv(folder / "spells.csv", index=False)
    _fails(["analyze", str(folder)], "spells.csv", "'event'", "line 4", "0 or 1")


def test_not_a_results_folder_and_unknown_group(batch_dir, tmp_path):
    _fails(["analyze", str(tmp_path)], "not a results folder")
    _fails(
        ["analyze", str(batch_dir), "--by", "no_such_parameter", "--out", str(tmp_path / "x")],
        "--by no_such_parameter",
        "kappa_pact",
    )
