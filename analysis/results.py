"""Reading a results folder (docs/outputs.md) into tables, with one-line errors.

Two kinds of folder are accepted:

* a batch (``alliance batch``): ``runs.csv``, ``spells.csv``, ``timeseries.csv``,
  ``metadata.json`` and, when per-state series were asked for, ``states.csv``;
* a single run (``alliance run``): ``spells.csv``, ``timeseries.csv``, ``states.csv`` and
  ``run.json``.

Both are returned as one :class:`Results`, shaped like a batch: a single run becomes a batch of one
point and one run (``point_id`` 0, ``run_id`` 0), its parameters taken from ``run.json``. Any
missing file, missing column or value of the wrong type raises :class:`ResultsError` naming the
file, the column and (for values) the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.parameters import Parameters


class AnalysisError(ValueError):
    """A user mistake met by an analysis command; the message is one line."""


class ResultsError(AnalysisError):
    """A results folder is incomplete or does not follow docs/outputs.md."""


# Column -> expected kind. "int": whole numbers; "binary": 0/1; "float": numbers (empty = NaN);
# "str": anything (empty allowed).
SPELL_COLUMNS: dict[str, str] = {
    "run_id": "int",
    "seed": "int",
    "spell": "int",
    "state_a": "str",
    "state_b": "str",
    "kind": "str",
    "term_months": "int",
    "initial_strength": "float",
    "kappa": "float",
    "start_step": "int",
    "start_date": "str",
    "functional_end_step": "int",
    "functional_end_date": "str",
    "formal_end_step": "int",
    "formal_end_date": "str",
    "duration": "int",
    "event": "binary",
    "functional_duration": "int",
    "functional_event": "binary",
    "cause": "str",
}
RUN_COLUMNS: dict[str, str] = {
    "run_id": "int",
    "point_id": "int",
    "replicate": "int",
    "seed": "int",
    "status": "str",
}
SPELL_KINDS = ("treaty", "pact")
CAUSES = ("interest", "principles", "entrapment", "expiry", "exogenous", "scenario")


@dataclass
class Results:
    """A results folder's tables, batch-shaped (see the module docstring)."""

    path: Path
    kind: str  # "batch" or "run"
    metadata: dict[str, Any]
    runs: pd.DataFrame
    spells: pd.DataFrame
    timeseries: pd.DataFrame
    states: pd.DataFrame | None
    norms: list[str] = field(default_factory=list)

    @property
    def parameter_columns(self) -> list[str]:
        """Model parameters present in ``runs`` (one column each)."""
        return [c for c in Parameters.names() if c in self.runs.columns]

    @property
    def varying_parameters(self) -> list[str]:
        """Parameters that take more than one value across the runs."""
        return [c for c in self.parameter_columns if self.runs[c].nunique(dropna=True) > 1]


def read_results(path: str | Path) -> Results:
    """Read and validate a batch or single-run results folder."""
    root = Path(path)
    if not root.is_dir():
        raise ResultsError(
            f"{root}: not a folder; expected a results folder from `alliance batch` or "
            "`alliance run`"
        )
    if (root / "metadata.json").exists() or (root / "runs.csv").exists():
        return _read_batch(root)
    if (root / "run.json").exists():
        return _read_single(root)
    raise ResultsError(
        f"{root}: not a results folder: expected metadata.json and runs.csv (a batch) "
        "or run.json (a single run)"
    )


def _read_batch(root: Path) -> Results:
    for name in ("runs.csv", "spells.csv", "timeseries.csv", "metadata.json"):
        _require(root, name, "a batch folder")
    metadata = _read_json(root / "metadata.json")
    runs = _read_csv(root / "runs.csv", RUN_COLUMNS)
    for name in Parameters.names():
        if name in runs.columns:
            _check_column(runs, root / "runs.csv", name, "float")
    spells = _read_csv(root / "spells.csv", {"point_id": "int", **SPELL_COLUMNS})
    timeseries = _read_csv(root / "timeseries.csv", {"point_id": "int", "step": "int"})
    states = None
    if (root / "states.csv").exists():
        states = _read_csv(root / "states.csv", {"point_id": "int", "step": "int", "state": "str"})
    _check_spells(root / "spells.csv", spells)
    unknown = sorted(set(spells["run_id"]) - set(runs["run_id"]))
    if unknown:
        raise ResultsError(
            f"{root / 'spells.csv'}: column 'run_id': run {unknown[0]} is not in runs.csv"
        )
    norms = _norms(timeseries, suffix="_mean")
    return Results(root, "batch", metadata, runs, spells, timeseries, states, norms)


def _read_single(root: Path) -> Results:
    for name in ("spells.csv", "timeseries.csv", "states.csv", "run.json"):
        _require(root, name, "a single-run folder")
    metadata = _read_json(root / "run.json")
    parameters = metadata.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ResultsError(
            f"{root / 'run.json'}: field 'parameters': expected an object of name: value"
        )
    seed = metadata.get("seed", 0)
    runs = pd.DataFrame(
        [
            {
                "run_id": 0,
                "point_id": 0,
                "replicate": 0,
                "seed": seed,
                "status": "ok",
                "error": "",
                **{k: v for k, v in parameters.items() if k in Parameters.names()},
            }
        ]
    )
    spells = _read_csv(root / "spells.csv", SPELL_COLUMNS)
    spells.insert(0, "point_id", 0)
    _check_spells(root / "spells.csv", spells)
    timeseries = _read_csv(root / "timeseries.csv", {"step": "int"})
    timeseries.insert(0, "point_id", 0)
    states = _read_csv(root / "states.csv", {"step": "int", "state": "str"})
    states.insert(0, "point_id", 0)
    norms = _norms(timeseries, suffix="")
    return Results(root, "run", metadata, runs, spells, timeseries, states, norms)


def _require(root: Path, name: str, what: str) -> None:
    if not (root / name).is_file():
        raise ResultsError(f"{root / name}: missing; {what} holds it (docs/outputs.md)")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object")
    return data


def _read_csv(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """Read a CSV as text first (so that a bad value can be named), then convert the columns."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read it ({exc})") from None
    except pd.errors.EmptyDataError:
        raise ResultsError(f"{path}: empty file; expected a header row") from None
    except pd.errors.ParserError as exc:
        raise ResultsError(f"{path}: not a valid CSV ({str(exc).splitlines()[0]})") from None
    for name, kind in columns.items():
        if name not in frame.columns:
            raise ResultsError(
                f"{path}: column {name!r} is missing; expected the columns of docs/outputs.md"
            )
        _check_column(frame, path, name, kind)
    # Remaining numeric-looking columns (parameters, series, extra covariates) become numbers.
    for name in frame.columns:
        if name in columns or frame[name].dtype != object:
            continue
        converted = pd.to_numeric(frame[name].mask(frame[name] == ""), errors="coerce")
        if converted.notna().sum() == (frame[name] != "").sum():
            frame[name] = converted
    return frame


def _check_column(frame: pd.DataFrame, path: Path, name: str, kind: str) -> None:
    if kind == "str":
        frame[name] = frame[name].astype(str)
        return
    raw = frame[name]
    text = raw.astype(str) if raw.dtype == object else raw
    numbers = pd.to_numeric(text.mask(text == "") if kind == "float" else text, errors="coerce")
    bad = numbers.isna() if kind != "float" else numbers.isna() & (text.astype(str) != "")
    if kind in ("int", "binary"):
        bad |= numbers.notna() & (numbers != np.round(numbers))
    if kind == "binary":
        bad |= numbers.notna() & ~numbers.isin([0, 1])
    if name == "seed":
        bad |= numbers < 0
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        expected = {"int": "a whole number", "binary": "0 or 1", "float": "a number"}[kind]
        expected = "a whole number >= 0" if name == "seed" else expected
        raise ResultsError(
            f"{path}: column {name!r}, line {row + 2}: expected {expected}, got {raw.iloc[row]!r}"
        )
    if name == "seed":
        # Seeds reach 2**64 - 1 and lose bits as floats: keep the exact integers of the text.
        frame[name] = np.array(
            [int(float(v)) if "." in str(v) else int(v) for v in text], dtype=np.uint64
        )
    elif kind in ("int", "binary"):
        frame[name] = numbers.astype(np.int64)
    else:
        frame[name] = numbers.astype(np.float64)


def _check_spells(path: Path, spells: pd.DataFrame) -> None:
    checks = (
        ("kind", ~spells["kind"].isin(SPELL_KINDS), f"one of {', '.join(SPELL_KINDS)}"),
        ("duration", spells["duration"] < 0, "a duration >= 0 months"),
        ("functional_duration", spells["functional_duration"] < 0, "a duration >= 0 months"),
        (
            "cause",
            (spells["event"] == 1) & ~spells["cause"].isin(CAUSES),
            f"an end cause ({', '.join(CAUSES)}) on a row with event = 1",
        ),
    )
    for column, bad, expected in checks:
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ResultsError(
                f"{path}: column {column!r}, line {row + 2}: expected {expected}, "
                f"got {spells[column].iloc[row]!r}"
            )


def _norms(timeseries: pd.DataFrame, suffix: str) -> list[str]:
    prefix = "credibility_"
    out = []
    for column in timeseries.columns:
        if column.startswith(prefix) and column.endswith(suffix):
            out.append(column[len(prefix) : len(column) - len(suffix) if suffix else None])
    return out
