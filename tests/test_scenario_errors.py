"""Every bad input ends in one line ``alliance: error: ...`` naming the file, the entry and the
field, exit code 2 and no traceback (STYLE.md: errors for users)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from runs.cli import main

VALID = """\
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
principles = { sovereignty = 0.9 }

[[states]]
name = "Beta"
power = 0.5
risk = 0.2
tension = 1.0
rivals = ["Alpha"]

[[events]]
date = "2000-06"
name = "crisis"
effects = [{ state = "Alpha", set = "tension", value = 2.0 }]

[counterfactuals.calm]
effects = [{ state = "Alpha", set = "tension", value = 0.1 }]
"""


def fails(args: list[str], *fragments: str) -> str:
    """Run ``alliance ARGS``; check the one-line error and return it."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit)  # not an uncaught exception
    assert result.stdout == ""
    line = result.stderr
    assert line.startswith("alliance: error: ") and line.endswith("\n"), line
    assert line.count("\n") == 1, f"expected one line, got {line!r}"
    assert "Traceback" not in line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def scenario_file(tmp_path: Path, old: str, new: str) -> str:
    assert old in VALID, old
    path = tmp_path / "tiny.toml"
    path.write_text(VALID.replace(old, new, 1))
    return str(path)


# (replace this, with this, expected fragments after the file name)
BAD_FILES = {
    "unknown key": (
        "risk = 0.2\ntension = 1.0\nprinciples",
        "risk = 0.2\ncolour = 'red'\ntension = 1.0\nprinciples",
        ["states[0].colour", "unknown field"],
    ),
    "missing field": (
        'name = "Beta"\npower = 0.5\n',
        'name = "Beta"\n',
        ["states[1].power", "missing field"],
    ),
    "wrong type": (
        "power = 0.5",
        'power = "large"',
        ["states[0].power", "expected a number", "'large'"],
    ),
    "out of range": (
        "risk = 0.2",
        "risk = 1.5",
        ["states[0].risk", "expected a number in [0.0, 1.0]", "1.5"],
    ),
    "unknown state": (
        'rivals = ["Alpha"]',
        'rivals = ["Gamma"]',
        ["states[1].rivals", "unknown state 'Gamma'"],
    ),
    "unknown norm": (
        "principles = { sovereignty = 0.9 }",
        "principles = { honesty = 0.9 }",
        ["states[0].principles.honesty", "unknown norm", "sovereignty"],
    ),
    "unknown state in an event": (
        '{ state = "Alpha", set = "tension", value = 2.0 }',
        '{ state = "Omega", set = "tension", value = 2.0 }',
        ["events[0].effects[0].state", "unknown state 'Omega'"],
    ),
    "unknown norm in an effect": (
        '{ state = "Alpha", set = "tension", value = 2.0 }',
        '{ state = "Alpha", act = "honesty" }',
        ["events[0].effects[0].act", "unknown norm 'honesty'"],
    ),
    "parameter out of range": (
        "[[states]]",
        "[parameters]\nalpha = -1\n\n[[states]]",
        ["parameters", "alpha=-1"],
    ),
    "unknown parameter": (
        "[[states]]",
        "[parameters]\nalfa = 0.1\n\n[[states]]",
        ["parameters", "'alfa'"],
    ),
    "rivals partnered": (
        "[[events]]",
        '[[partnerships]]\nmembers = ["Alpha", "Beta"]\n\n[[events]]',
        ["Alpha and Beta are rivals"],
    ),
    "malformed TOML": ('name = "tiny"', 'name = "tiny', ["not valid TOML", "line 2"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_scenario_file(tmp_path: Path, case: str) -> None:
    old, new, fragments = BAD_FILES[case]
    path = scenario_file(tmp_path, old, new)
    line = fails(["run", "--scenario", path, "--out", str(tmp_path / "out")], *fragments)
    assert line.startswith(f"alliance: error: {path}: ")
    assert not (tmp_path / "out" / "run.json").exists()


def test_missing_scenario_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere.toml")
    fails(["run", "--scenario", path], path, "cannot read the file")


def test_unknown_builtin_scenario() -> None:
    fails(["run", "--scenario", "atlantis"], "atlantis", "no such scenario", "russia-dprk-2023")


def test_unreadable_overlay(tmp_path: Path) -> None:
    path = str(tmp_path / "missing-overlay.toml")
    fails(["run", "--overlay", path], path, "cannot read the file")


def test_overlay_with_an_unknown_state(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.toml"
    overlay.write_text(
        '[[events]]\ndate = "2030-01"\nname = "x"\n'
        'effects = [{ state = "Mars", set = "risk", value = 0.5 }]\n'
    )
    fails(["run", "--overlay", str(overlay)], str(overlay), "events[0].effects[0].state", "'Mars'")


@pytest.mark.parametrize(
    ("option", "fragments"),
    [
        ("alpha=-1", ["alpha=-1.0", "expected a number in [0.0, 10.0]"]),
        ("w_init=0.1", ["w_init=0.1", "w_func"]),
        ("cooldown=2.5", ["cooldown=2.5", "whole number"]),
        ("alfa=0.1", ["unknown parameter 'alfa'", "alpha"]),
        ("alpha", ["--set 'alpha'", "NAME=VALUE"]),
        ("alpha=much", ["--set 'alpha=much'", "expected a number"]),
    ],
)
def test_bad_set_option(option: str, fragments: list[str]) -> None:
    fails(["run", "--set", option], *fragments)


@pytest.mark.parametrize(
    ("event", "fragments"),
    [
        ("2000-06:storm", ["--event 2000-06:storm", "unknown event 'storm'", "calm"]),
        ("calm", ["--event 'calm'", "DATE:NAME"]),
        ("2000-13:calm", ["--event 2000-13:calm", "YYYY-MM"]),
        ("1999-12:calm", ["--event 1999-12:calm", "outside the run", "2000-01 to 2000-12"]),
        ("2001-01:calm", ["outside the run"]),
    ],
)
def test_bad_event_option(tmp_path: Path, event: str, fragments: list[str]) -> None:
    path = scenario_file(tmp_path, "steps = 12", "steps = 12")
    line = fails(["run", "--scenario", path, "--event", event], *fragments)
    if ":" in event:
        assert path in line


def test_event_date_is_checked_against_steps_option(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "steps = 12", "steps = 12")
    fails(
        ["run", "--scenario", path, "--steps", "6", "--event", "2000-09:calm"], "2000-01 to 2000-06"
    )


def test_unwritable_results_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    fails(
        ["run", "--steps", "2", "--out", str(blocker / "out")], str(blocker / "out"), "cannot write"
    )
