"""Scenario files: loading, validation, counterfactual overlays, and the kernel's arrays.

A scenario is a TOML file (format: docs/scenarios.md). :func:`load_scenario` validates all of it
and raises :class:`ScenarioError` with a one-line message naming the file, the entry, the field
and what was expected. :func:`build_world` turns a valid :class:`Scenario` into the kernel's
arrays (model/arrays.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.resources
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.arrays import (
    EV_ACT,
    EV_END,
    EV_SET_CONDUCT,
    EV_SET_NEED,
    EV_SET_PRINCIPLE,
    EV_SET_RISK,
    EV_SET_SUPPLY,
    EV_SET_TENSION,
    EV_START,
    FLAG_RENEW,
    FLAG_TREATY,
    NEVER,
    EventTable,
    WorldArrays,
)
from model.parameters import ParameterError, Parameters

DEFAULT_SCENARIO = "russia-dprk-2023"
BASES = ("fact", "judgement")  # an event's or partnership's basis: dated record, or assumption
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIRED = object()


class ScenarioError(ValueError):
    """A scenario (or overlay) is unreadable or invalid; the message is one line for the user."""


def builtin_scenario_dir() -> Path:
    """Folder of the scenario files shipped with the package (runs/scenarios)."""
    return Path(str(importlib.resources.files("runs") / "scenarios"))


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios (file stems)."""
    return sorted(p.stem for p in builtin_scenario_dir().glob("*.toml"))


# --------------------------------------------------------------------------- months as steps


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month; steps are months counted from the scenario's start."""

    year: int
    month: int

    @classmethod
    def parse(cls, value: Any) -> Month:
        if isinstance(value, dt.date):
            return cls(value.year, value.month)
        if isinstance(value, str):
            m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", value.strip())
            if m and 1 <= int(m.group(2)) <= 12:
                return cls(int(m.group(1)), int(m.group(2)))
        raise ValueError(f'expected a month as "YYYY-MM", got {value!r}')

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def minus(self, other: Month) -> int:
        return (self.year - other.year) * 12 + (self.month - other.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


# --------------------------------------------------------------------------- the scenario


@dataclass(frozen=True)
class StateSpec:
    name: str
    power: float
    risk: float
    tension: float  # T̄, the baseline
    tension_initial: float
    principles: np.ndarray  # (K,)
    conduct: np.ndarray  # (K,)
    needs: np.ndarray  # (M,) D̄, the baseline
    needs_initial: np.ndarray  # (M,)
    supply: np.ndarray  # (M,)
    credibility: np.ndarray  # (K,)
    rivals: tuple[str, ...]


@dataclass(frozen=True)
class EventRow:
    """One effect of a dated event, in the kernel's event-row vocabulary (model/arrays.py)."""

    step: int
    kind: int
    a: int
    b: int
    value: float
    months: int
    flag: int
    label: str  # the event's name, for reports and the browser view

    def as_tuple(self) -> tuple[int, int, int, int, float, int, int]:
        return (self.step, self.kind, self.a, self.b, self.value, self.months, self.flag)


@dataclass(frozen=True)
class HistoricalRecord:
    """Dated facts about a partnership, for ``alliance validate``."""

    members: tuple[str, str]
    functional_end: tuple[Month, Month] | None
    formal_end: tuple[Month, Month] | None
    note: str
    start: tuple[Month, Month] | None = None  # when the partnership formed, [earliest, latest]
    active_through: Month | None = None  # last month the record shows it active (not hollow)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str
    source: str  # file path, or "generated: ..." for synthetic worlds
    text: str  # the TOML text (or the generator call) for run metadata
    start: Month
    steps: int
    norms: tuple[str, ...]
    resources: tuple[str, ...]
    states: tuple[StateSpec, ...]
    implicates: np.ndarray  # (M, K)
    parameters: Parameters
    events: tuple[EventRow, ...]
    counterfactuals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    history: tuple[HistoricalRecord, ...] = ()
    applied_overlays: tuple[str, ...] = ()

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    def date_of(self, step: int) -> Month:
        return self.start.plus(step)

    def step_of(self, month: Month) -> int:
        return month.minus(self.start)

    def with_parameters(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, parameters=self.parameters.replace(**changes))

    def with_counterfactual(self, date: str, name: str, *, steps: int | None = None) -> Scenario:
        """Add the scenario's named counterfactual ``name`` at ``date`` (``--event DATE:NAME``)."""
        where = f"{self.source}: --event {date}:{name}"
        if name not in self.counterfactuals:
            known = ", ".join(sorted(self.counterfactuals)) or "none defined"
            raise ScenarioError(f"{where}: unknown event {name!r}; expected one of: {known}")
        horizon = self.steps if steps is None else steps
        try:
            month = Month.parse(date)
        except ValueError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        step = self.step_of(month)
        if not 0 <= step < horizon:
            raise ScenarioError(
                f"{where}: date {month} is outside the run; expected {self.start} to "
                f"{self.date_of(horizon - 1)}"
            )
        parser = _Parser(self.source, self.norms, self.resources, self.state_names, self.start)
        rows = []
        for n, effect in enumerate(self.counterfactuals[name]):
            rows += parser.effect(effect, f"counterfactuals.{name}.effects[{n}]", step, name)
        return dataclasses.replace(
            self,
            events=self.events + tuple(rows),
            applied_overlays=self.applied_overlays + (f"{month}:{name}",),
        )

    def with_overlay(self, path: str | Path, *, steps: int | None = None) -> Scenario:
        """Add the dated ``[[events]]`` of an overlay TOML file (each dated within the run:
        the scenario's horizon, or ``steps`` months)."""
        data, text = _read_toml(path)
        spec = self.with_overlay_text(text, source=str(path), data=data)
        horizon = self.steps if steps is None else steps
        for n, entry in enumerate(data.get("events", [])):
            month = Month.parse(entry["date"])  # valid: with_overlay_text checked it
            if self.step_of(month) >= horizon:
                raise ScenarioError(
                    f"{path}: events[{n}].date: {month} is outside the run; expected "
                    f"{self.start} to {self.date_of(horizon - 1)}"
                )
        return spec

    def with_overlay_text(self, text: str, *, source: str = "<overlay>", data=None) -> Scenario:
        """Add the dated ``[[events]]`` of an overlay given as TOML text."""
        if data is None:
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
        parser = _Parser(source, self.norms, self.resources, self.state_names, self.start)
        top = _Table(data, source, "")
        events = parser.events(top.get("events", list, default=[]))
        top.done()
        return dataclasses.replace(
            self,
            events=self.events + tuple(events),
            applied_overlays=self.applied_overlays + (text,),
        )

    def with_overlays(self, overlays: tuple[str, ...]) -> Scenario:
        """Re-apply recorded overlays (``applied_overlays`` of another scenario object)."""
        spec = self
        for item in overlays:
            match = re.fullmatch(r"(\d{4}-\d{2}):(.+)", item)
            if match:
                spec = spec.with_counterfactual(match.group(1), match.group(2))
            else:
                spec = spec.with_overlay_text(item)
        return spec


def scenario_from_text(text: str, overlays: tuple[str, ...] = (), *, source: str) -> Scenario:
    """A scenario from its recorded TOML text and overlays (run.json, batch.json)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: recorded scenario is not valid TOML: {exc}") from None
    return parse_scenario(data, text=text, source=source).with_overlays(tuple(overlays))


# --------------------------------------------------------------------------- validation helpers


class _Table:
    """A TOML table being validated; remembers the keys read so that :meth:`done` can reject
    unknown ones."""

    def __init__(self, data: Any, path: str, where: str):
        self.path = path
        self.where = where
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: {where or 'top level'}: expected a table")
        self.data = data
        self.read: set[str] = set()

    def fail(self, key: str, message: str) -> ScenarioError:
        at = f"{self.where}.{key}" if self.where else key
        return ScenarioError(f"{self.path}: {at}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], *, default: Any = _REQUIRED) -> Any:
        self.read.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise self.fail(key, "missing field")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"expected {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(key, f"expected {_kind_name(kinds)}, got {value!r}")
        return value

    def number(self, key: str, low: float, high: float, *, default: Any = _REQUIRED) -> float:
        value = self.get(key, (int, float), default=default)
        if value is default and default is not _REQUIRED:
            return value
        if not np.isfinite(value) or not low <= value <= high:
            raise self.fail(key, f"expected a number in [{low}, {high}], got {value!r}")
        return float(value)

    def integer(self, key: str, low: int, high: int, *, default: Any = _REQUIRED) -> int:
        value = self.get(key, int, default=default)
        if not low <= value <= high:
            raise self.fail(key, f"expected a whole number in [{low}, {high}], got {value!r}")
        return int(value)

    def month(self, key: str, *, default: Any = _REQUIRED) -> Month:
        value = self.get(key, (str, dt.date), default=default)
        if isinstance(value, Month) or value is None:  # a default
            return value
        try:
            return Month.parse(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None

    def choice(self, key: str, options: tuple[str, ...], *, default: Any = _REQUIRED) -> str:
        value = self.get(key, str, default=default)
        if value not in options:
            raise self.fail(key, f"expected one of {', '.join(options)}, got {value!r}")
        return value

    def names(self, key: str, known: tuple[str, ...], what: str, *, default: Any = _REQUIRED):
        value = self.get(key, list, default=default)
        for item in value:
            if item not in known:
                raise self.fail(key, f"unknown {what} {item!r}; expected one of {', '.join(known)}")
        return tuple(value)

    def vector(self, key: str, names: tuple[str, ...], what: str, fill: float) -> np.ndarray:
        """A {name = value in [0, 1]} table over ``names``; missing names take ``fill``."""
        sub = _Table(self.get(key, dict, default={}), self.path, f"{self.where}.{key}")
        out = np.full(len(names), fill, dtype=np.float64)
        for name in sub.data:
            if name not in names:
                raise sub.fail(name, f"unknown {what}; expected one of {', '.join(names)}")
            out[names.index(name)] = sub.number(name, 0.0, 1.0)
        return out

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            expected = ", ".join(sorted(self.read)) or "no fields"
            raise self.fail(unknown[0], f"unknown field; expected one of: {expected}")


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
        bool: "true or false",
        dt.date: "a date",
    }
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: cannot read the file: expected UTF-8 text") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None


_SETTABLE = {
    "needs": EV_SET_NEED,
    "supply": EV_SET_SUPPLY,
    "principles": EV_SET_PRINCIPLE,
    "conduct": EV_SET_CONDUCT,
    "tension": EV_SET_TENSION,
    "risk": EV_SET_RISK,
}


class _Parser:
    """Parses events and effects against a scenario's names (shared by files and overlays)."""

    def __init__(self, path, norms, resources, states, start):
        self.path = path
        self.norms = tuple(norms)
        self.resources = tuple(resources)
        self.states = tuple(states)
        self.start = start

    def state(self, table: _Table, key: str) -> int:
        name = table.get(key, str)
        if name not in self.states:
            raise table.fail(
                key, f"unknown state {name!r}; expected one of {', '.join(self.states)}"
            )
        return self.states.index(name)

    def pair(self, table: _Table, key: str) -> tuple[int, int]:
        members = table.names(key, self.states, "state")
        if len(members) != 2 or members[0] == members[1]:
            raise table.fail(key, f"expected two different states, got {list(members)!r}")
        a, b = sorted(self.states.index(m) for m in members)
        return a, b

    def events(self, entries: list[Any]) -> list[EventRow]:
        rows: list[EventRow] = []
        for n, entry in enumerate(entries):
            where = f"events[{n}]"
            table = _Table(entry, self.path, where)
            month = table.month("date")
            step = month.minus(self.start)
            if step < 0:
                raise table.fail("date", f"{month} is before the scenario's start {self.start}")
            name = table.get("name", str)
            table.get("description", str, default="")
            table.get("source", str, default="")
            table.choice("basis", BASES, default="judgement")  # reported by alliance validate
            effects = table.get("effects", list)
            if not effects:
                raise table.fail("effects", "expected at least one effect")
            for e, effect in enumerate(effects):
                rows += self.effect(effect, f"{where}.effects[{e}]", step, name)
            table.done()
        return rows

    def partnership(self, table: _Table, step: int, label: str) -> EventRow:
        """Fields of a partnership start (shared by [[partnerships]] and start effects)."""
        a, b = self.pair(table, "members")
        kind = table.choice("kind", ("treaty", "pact"), default="pact")
        term_years = table.number("term_years", 0.0, 200.0, default=0.0)
        renewal = table.get("renewal", bool, default=False)
        strength = table.number("strength", 0.0, 1.0, default=-1.0)
        if kind == "pact" and term_years > 0:
            raise table.fail("term_years", 'a pact has no term; expected kind = "treaty"')
        flag = (FLAG_TREATY if kind == "treaty" else 0) | (FLAG_RENEW if renewal else 0)
        return EventRow(step, EV_START, a, b, strength, int(round(term_years * 12)), flag, label)

    def effect(self, entry: Any, where: str, step: int, label: str) -> list[EventRow]:
        table = _Table(entry, self.path, where)
        if "set" in table.data:
            i = self.state(table, "state")
            target = table.get("set", str)
            field_name, _, dim = target.partition(".")
            if field_name not in _SETTABLE:
                raise table.fail(
                    "set", f"unknown field {field_name!r}; expected one of {', '.join(_SETTABLE)}"
                )
            kind = _SETTABLE[field_name]
            if field_name in ("tension", "risk"):
                if dim:
                    raise table.fail(
                        "set", f"{field_name} has no dimension; expected {field_name!r}"
                    )
                high = 1e6 if field_name == "tension" else 1.0
                value = table.number("value", 0.0, high)
                b = 0
            else:
                names = self.resources if field_name in ("needs", "supply") else self.norms
                if dim not in names:
                    raise table.fail(
                        "set",
                        f"unknown {field_name} dimension {dim!r}; expected one of "
                        + ", ".join(f"{field_name}.{x}" for x in names),
                    )
                value = table.number("value", 0.0, 1.0)
                b = names.index(dim)
            table.done()
            return [EventRow(step, kind, i, b, value, 0, 0, label)]
        if "act" in table.data:
            i = self.state(table, "state")
            norm = table.get("act", str)
            if norm not in self.norms:
                raise table.fail(
                    "act", f"unknown norm {norm!r}; expected one of {', '.join(self.norms)}"
                )
            intensity = table.number("intensity", 1.0, 1000.0, default=-1.0)
            months = table.integer("months", 1, 10_000, default=1)
            table.done()
            # intensity < 0 means "the parameter's default"; resolved in build_world.
            return [EventRow(step, EV_ACT, i, self.norms.index(norm), intensity, months, 0, label)]
        if "partnership" in table.data:
            action = table.choice("partnership", ("start", "end"))
            if action == "end":
                a, b = self.pair(table, "members")
                table.done()
                return [EventRow(step, EV_END, a, b, 0.0, 0, 0, label)]
            row = self.partnership(table, step, label)
            table.done()
            return [row]
        raise ScenarioError(
            f"{self.path}: {where}: expected an effect with one of the fields "
            "set (with state, value), act (with state), or partnership (with members)"
        )


# --------------------------------------------------------------------------- loading


def resolve_scenario_path(name_or_path: str | Path) -> Path:
    """A built-in scenario's name, or a path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return candidate
    builtin = builtin_scenario_dir() / f"{name_or_path}.toml"
    if builtin.exists():
        return builtin
    raise ScenarioError(
        f"{name_or_path}: no such scenario; expected a path to a .toml file or one of: "
        + ", ".join(builtin_scenarios() + ["synthetic"])
    )


def load_scenario(name_or_path: str | Path = DEFAULT_SCENARIO) -> Scenario:
    """Load and validate a scenario by built-in name or file path."""
    name = str(name_or_path)
    if name == "synthetic" or name.startswith("synthetic:"):
        from model.synthetic import SyntheticWorld, synthetic_scenario

        return synthetic_scenario(SyntheticWorld.parse(name.removeprefix("synthetic").lstrip(":")))
    path = resolve_scenario_path(name_or_path)
    data, text = _read_toml(path)
    return parse_scenario(data, text=text, source=str(path))


def parse_scenario(data: dict[str, Any], *, text: str, source: str) -> Scenario:
    top = _Table(data, source, "")
    head = _Table(top.get("scenario", dict), source, "scenario")
    name = head.get("name", str)
    title = head.get("title", str, default=name)
    description = head.get("description", str, default="")
    start = head.month("start")
    steps = head.integer("steps", 1, 100_000)
    head.choice("step", ("month",), default="month")
    norms = _identifiers(head, "norms")
    resources = _identifiers(head, "resources")
    head.done()

    try:
        parameters = Parameters().replace(**top.get("parameters", dict, default={}))
    except ParameterError as exc:
        raise ScenarioError(f"{source}: parameters: {exc}") from None

    implicates = np.zeros((len(resources), len(norms)))
    g_table = _Table(top.get("implicates", dict, default={}), source, "implicates")
    for resource in g_table.data:
        if resource not in resources:
            raise g_table.fail(
                resource, f"unknown resource; expected one of {', '.join(resources)}"
            )
        implicates[resources.index(resource)] = g_table.vector(resource, norms, "norm", 0.0)
    g_table.done()

    raw_states = top.get("states", list)
    if len(raw_states) < 2:
        raise top.fail("states", f"expected at least two states, got {len(raw_states)}")
    names = []
    for n, entry in enumerate(raw_states):
        table = _Table(entry, source, f"states[{n}]")
        state_name = table.get("name", str)
        if state_name in names:
            raise table.fail("name", f"duplicate state name {state_name!r}")
        names.append(state_name)
    names_t = tuple(names)
    states = tuple(
        _state(entry, n, source, norms, resources, names_t) for n, entry in enumerate(raw_states)
    )
    for s in states:
        for r in s.rivals:
            if r == s.name:
                raise ScenarioError(
                    f"{source}: states[{names.index(s.name)}].rivals: a state is not its own rival"
                )

    parser = _Parser(source, norms, resources, names_t, start)
    events: list[EventRow] = []
    for n, entry in enumerate(top.get("partnerships", list, default=[])):
        table = _Table(entry, source, f"partnerships[{n}]")
        month = table.month("start", default=start)
        if month < start:
            raise table.fail("start", f"{month} is before the scenario's start {start}")
        table.get("source", str, default="")
        table.choice("basis", BASES, default="judgement")
        row = parser.partnership(table, month.minus(start), "partnership")
        table.done()
        events.append(row)
    events += parser.events(top.get("events", list, default=[]))
    rivals = {(a.name, b) for a in states for b in a.rivals}
    for row in events:
        if row.kind == EV_START and (names_t[row.a], names_t[row.b]) in rivals | {
            (b, a) for a, b in rivals
        }:
            raise ScenarioError(
                f"{source}: {row.label}: {names_t[row.a]} and {names_t[row.b]} are rivals; "
                "rivals never partner"
            )

    counterfactuals = {}
    cf_table = _Table(top.get("counterfactuals", dict, default={}), source, "counterfactuals")
    for cf_name in cf_table.data:
        cf = _Table(cf_table.get(cf_name, dict), source, f"counterfactuals.{cf_name}")
        cf.get("description", str, default="")
        effects = cf.get("effects", list)
        cf.done()
        for e, effect in enumerate(effects):  # validate now, date comes from the command line
            parser.effect(effect, f"counterfactuals.{cf_name}.effects[{e}]", 0, cf_name)
        counterfactuals[cf_name] = effects
    cf_table.done()

    history = []
    for n, entry in enumerate(top.get("history", list, default=[])):
        table = _Table(entry, source, f"history[{n}]")
        members = table.names("members", names_t, "state")
        if len(members) != 2:
            raise table.fail("members", "expected two states")
        functional = _month_range(table, "functional_end")
        formal = _month_range(table, "formal_end")
        note = table.get("note", str, default="")
        formed = _month_range(table, "start")
        active_through = table.month("active_through", default=None)
        table.done()
        history.append(
            HistoricalRecord(
                (members[0], members[1]), functional, formal, note, formed, active_through
            )
        )

    top.done()
    return Scenario(
        name=name,
        title=title,
        description=description,
        source=source,
        text=text,
        start=start,
        steps=steps,
        norms=norms,
        resources=resources,
        states=states,
        implicates=implicates,
        parameters=parameters,
        events=tuple(events),
        counterfactuals=counterfactuals,
        history=tuple(history),
    )


def _identifiers(top: _Table, key: str) -> tuple[str, ...]:
    values = top.get(key, list)
    if not values:
        raise top.fail(key, "expected at least one name")
    for v in values:
        if not isinstance(v, str) or not _IDENTIFIER.match(v):
            raise top.fail(key, f'expected lower-case names like "non_proliferation", got {v!r}')
    if len(set(values)) != len(values):
        raise top.fail(key, "duplicate name")
    return tuple(values)


def _month_range(table: _Table, key: str) -> tuple[Month, Month] | None:
    value = table.get(key, list, default=None)
    if value is None:
        return None
    if len(value) != 2:
        raise table.fail(key, "expected [earliest, latest] months")
    try:
        lo, hi = Month.parse(value[0]), Month.parse(value[1])
    except ValueError as exc:
        raise table.fail(key, str(exc)) from None
    if hi < lo:
        raise table.fail(key, "expected [earliest, latest] with earliest first")
    return lo, hi


def _state(entry, n, source, norms, resources, names) -> StateSpec:
    table = _Table(entry, source, f"states[{n}]")
    name = table.get("name", str)
    table.get("source", str, default="")
    power = table.number("power", 0.0, 1.0)
    if power <= 0:
        raise table.fail("power", "expected a capability share > 0")
    tension = table.number("tension", 0.0, 1e6)
    tension_initial = table.number("tension_initial", 0.0, 1e6, default=tension)
    needs = table.vector("needs", resources, "resource", 0.0)
    needs_initial = table.vector("needs_initial", resources, "resource", np.nan)
    needs_initial = np.where(np.isnan(needs_initial), needs, needs_initial)
    spec = StateSpec(
        name=name,
        power=power,
        risk=table.number("risk", 0.0, 1.0),
        tension=tension,
        tension_initial=tension_initial,
        principles=table.vector("principles", norms, "norm", 0.0),
        conduct=table.vector("conduct", norms, "norm", 0.0),
        needs=needs,
        needs_initial=needs_initial,
        supply=table.vector("supply", resources, "resource", 0.0),
        credibility=table.vector("credibility", norms, "norm", 1.0),
        rivals=table.names("rivals", names, "state", default=[]),
    )
    table.done()
    return spec


# --------------------------------------------------------------------------- arrays


def build_world(scenario: Scenario) -> tuple[WorldArrays, EventTable]:
    """Fresh kernel arrays for ``scenario`` at its start (nothing shared between calls)."""
    states = scenario.states
    n, k = len(states), len(scenario.norms)
    rivals = np.zeros((n, n), np.bool_)
    index = {s.name: i for i, s in enumerate(states)}
    for i, s in enumerate(states):
        for r in s.rivals:
            rivals[i, index[r]] = rivals[index[r], i] = True
    world = WorldArrays(
        power=np.array([s.power for s in states]),
        principles=np.array([s.principles for s in states]),
        conduct=np.array([s.conduct for s in states]),
        needs=np.array([s.needs_initial for s in states]),
        needs_baseline=np.array([s.needs for s in states]),
        supply=np.array([s.supply for s in states]),
        credibility=np.array([s.credibility for s in states]),
        tension=np.array([s.tension_initial for s in states]),
        tension_baseline=np.array([s.tension for s in states]),
        risk=np.array([s.risk for s in states]),
        rivals=rivals,
        implicates=np.array(scenario.implicates, dtype=np.float64).reshape(
            len(scenario.resources), k
        ),
        acts=np.zeros((n, k)),
        recent_conduct=np.array([s.conduct for s in states]),  # x̄ starts at the propensity
        contradiction=np.zeros((n, k)),
        endorsed=np.zeros((n, k)),
        complicity=np.zeros((n, k)),
        inv_agenda=np.zeros(n),
        calm=np.zeros(n),
        interest_weight=np.zeros(n),
        frozen=np.zeros(n, np.bool_),
        pair_spell=np.full((n, n), -1, np.int32),
        pair_last_end=np.full((n, n), NEVER, np.int32),
        zeros_k=np.zeros(k),
        normals=np.zeros(n * max(len(scenario.resources), 1)),
        probabilities=np.zeros(n * max(len(scenario.resources), 1)),
    )
    intensity = scenario.parameters.intensity
    rows = [
        r.as_tuple()
        if not (r.kind == EV_ACT and r.value < 0)
        else dataclasses.replace(r, value=intensity).as_tuple()
        for r in scenario.events
    ]
    return world, EventTable.from_rows(rows)
