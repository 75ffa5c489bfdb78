"""Components of the browser view (runs/app.py): what the page shows of an ``AllianceModel``.

Two kinds of code live here, kept apart so the second can be tested without a browser:

* Solara components, each a function of the model that Mesa's ``SolaraViz`` re-renders after
  every step (each subscribes to Mesa's ``update_counter``);
* plain functions that turn the model into what the components draw (``network_figure``,
  ``partnership_series``, ``spell_table``, ``fired_events``, ...).

:class:`BrowserModel` is the model as the page builds it. Mesa's Reset re-creates the model from
the sidebar's control values (``type(model)(**values)``), so its keywords are those controls, and
a combination the model rejects (``w_init < w_func``, a seed that is not a number) becomes a
readable message on the page instead of an exception that would break it.

The page uses no Markdown: Solara's Markdown loads KaTeX from a CDN, which breaks offline.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import matplotlib.dates as mdates
import networkx as nx
import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from mesa.visualization import Slider
from mesa.visualization.utils import update_counter

from model.alliance_model import RECENTLY_ENDED_MONTHS, AllianceModel
from model.arrays import EV_END, EV_START
from model.parameters import ParameterError, Parameters
from model.scenario import (
    DEFAULT_SCENARIO,
    Scenario,
    ScenarioError,
    builtin_scenarios,
    load_scenario,
)

SCENARIO_ENV = "ALLIANCE_SCENARIO"  # set by `alliance viz --scenario`; read when the app loads
LAYOUT_SEED = 7  # the network layout depends only on the scenario and this seed

# The parameters shown as sliders: label, and the part of the admissible range worth sliding
# over, with the slider's step. Parameters.describe() gives the admissible range; some of its
# ends (t_half up to 1e6) are limits of validity, not values a user explores.
SLIDERS: dict[str, tuple[str, float, float, float]] = {
    "alpha": ("alpha · erosion", 0.0, 0.5, 0.005),
    "beta": ("beta · recovery", 0.0, 0.05, 0.001),
    "lambda_brink": ("lambda · brinkmanship", 0.0, 1.0, 0.01),
    "eta_trap": ("eta · entrapment", 0.0, 2.0, 0.01),
    "t_half": ("T½ · tension midpoint", 0.1, 5.0, 0.05),
    "upkeep": ("upkeep", 0.0, 0.5, 0.005),
    "gamma": ("gamma · strength rate", 0.0, 1.0, 0.01),
    "w_init": ("w_init · new strength", 0.0, 1.0, 0.01),
    "w_func": ("w_func · hollow below", 0.0, 1.0, 0.01),
    "kappa_treaty": ("kappa · treaty", 0.0, 1.0, 0.01),
    "kappa_pact": ("kappa · pact", 0.0, 5.0, 0.05),
    "rho": ("rho · formation", 0.0, 1.0, 0.01),
    "u_form": ("u_form · formation bar", -0.5, 0.5, 0.01),
    "h_exo": ("h_exo · exogenous end", 0.0, 0.01, 0.0001),
}

CREDIBILITY_CMAP = "RdYlGn"
ACTIVE_EDGE_COLOUR = "#3b4a6b"
ENDED_EDGE_COLOUR = "#9a9a9a"
FIGURE_WIDTH = 5.8  # inches at 100 dpi: fits half of the page's grid at 1280 px and wider
# Figures are laid out by hand: matplotlib's constrained layout triples the time of a redraw,
# and every step redraws every figure.
CARD_STYLE = {"height": "100%", "overflow": "auto"}  # content scrolls inside its grid cell


def starting_scenario() -> str:
    """The scenario the page opens with: ``$ALLIANCE_SCENARIO`` or the default scenario."""
    return os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO


def scenario_choices(start: str) -> list[str]:
    """The scenario selector's options: the built-in scenarios, plus ``start`` if it is a file."""
    names = builtin_scenarios()
    return names if start in names else [*names, start]


# --------------------------------------------------------------------------- the model as built


class BrowserModel(AllianceModel):
    """``AllianceModel`` built from the page's controls; a rejected combination is a message.

    Parameters
    ----------
    scenario_name
        Built-in scenario name or path to a scenario TOML file.
    seed
        Random seed: a whole number >= 0 (the seed box gives text).
    alpha, beta, lambda_brink, eta_trap, t_half, upkeep, gamma, w_init, w_func, kappa_treaty, \
kappa_pact, rho, u_form, h_exo
        The slider parameters (:data:`SLIDERS`); ``None`` keeps the scenario's value.

    When the scenario, seed or parameters are rejected, :attr:`rejected` holds the one-line
    reason; the model then holds the scenario with its own parameters at seed 0 and does not
    step, until the user fixes the controls and presses Reset.
    """

    def __init__(
        self,
        *,
        scenario_name: str = DEFAULT_SCENARIO,
        seed: int | str = 0,
        alpha: float | None = None,
        beta: float | None = None,
        lambda_brink: float | None = None,
        eta_trap: float | None = None,
        t_half: float | None = None,
        upkeep: float | None = None,
        gamma: float | None = None,
        w_init: float | None = None,
        w_func: float | None = None,
        kappa_treaty: float | None = None,
        kappa_pact: float | None = None,
        rho: float | None = None,
        u_form: float | None = None,
        h_exo: float | None = None,
    ) -> None:
        # Spelled out, not **kwargs: Mesa's Reset adds its own `scenario` object to the keywords
        # of a model that takes **kwargs, and it checks each control's name against this list.
        chosen = {
            "alpha": alpha,
            "beta": beta,
            "lambda_brink": lambda_brink,
            "eta_trap": eta_trap,
            "t_half": t_half,
            "upkeep": upkeep,
            "gamma": gamma,
            "w_init": w_init,
            "w_func": w_func,
            "kappa_treaty": kappa_treaty,
            "kappa_pact": kappa_pact,
            "rho": rho,
            "u_form": u_form,
            "h_exo": h_exo,
        }
        overrides = {name: value for name, value in chosen.items() if value is not None}
        self.rejected: str | None = None
        try:
            rng = parse_seed(seed)
            base = load_scenario(scenario_name)
            spec = base.with_parameters(**overrides)
        except (ScenarioError, ParameterError) as exc:
            self.rejected = str(exc)
            rng = 0
            base = spec = _fallback_scenario(scenario_name)
        super().__init__(scenario=spec, rng=rng)
        self.seed = rng
        self.scenario_parameters = base.parameters  # the scenario's own values, to show changes
        if self.rejected:
            self.running = False

    def step(self) -> None:
        """One month; nothing while the controls are rejected."""
        if self.rejected:
            self.running = False
            return
        super().step()


def parse_seed(value: int | str) -> int:
    """The seed box's text as a seed; :class:`ParameterError` if it is not a whole number >= 0."""
    text = str(value).strip()
    if not text.isdigit():
        raise ParameterError(f"seed {text!r}: expected a whole number >= 0, e.g. 0 or 42")
    return int(text)


def _fallback_scenario(name: str) -> Scenario:
    try:
        return load_scenario(name)
    except ScenarioError:
        return load_scenario(DEFAULT_SCENARIO)


def changed_parameters(model: AllianceModel) -> dict[str, tuple[float, float]]:
    """Parameters the controls changed from the scenario's own: name -> (scenario's, used)."""
    own = getattr(model, "scenario_parameters", model.parameters).as_dict()
    used = model.parameters.as_dict()
    return {
        name: (own[name], used[name])
        for name in used
        if not math.isclose(used[name], own[name], rel_tol=1e-9, abs_tol=1e-12)
    }


def model_params(start: str) -> dict[str, Any]:
    """The sidebar's controls for ``SolaraViz(model_params=...)``: scenario, seed, sliders.

    Sliders start at the starting scenario's own parameter values; on Reset every control is
    applied to the chosen scenario.
    """
    values = load_scenario(start).parameters.as_dict()
    described = Parameters.describe()
    controls: dict[str, Any] = {
        "scenario_name": {
            "type": "Select",
            "label": "scenario",
            "value": start,
            "values": scenario_choices(start),
        },
        "seed": {"type": "InputText", "label": "seed (Enter, then Reset)", "value": "0"},
    }
    for name, (label, low, high, step) in SLIDERS.items():
        admissible = described[name]
        value = float(values[name])
        # The sliding range, widened to the scenario's own value so that Reset never clips it.
        low = min(max(low, admissible["low"]), value)
        high = max(min(high, admissible["high"]), value)
        controls[name] = Slider(label, value=value, min=low, max=high, step=step, dtype=float)
    return controls


# --------------------------------------------------------------------------- what is drawn


def network_layout(spec: Scenario) -> dict[str, np.ndarray]:
    """Node positions that depend only on the scenario (stable while edges come and go).

    A seeded spring layout of the non-rival pairs, each pulled together by the principles the
    two states share, so that like-minded states sit near each other and rivals apart.
    """
    graph = nx.Graph()
    graph.add_nodes_from(spec.state_names)
    for i, a in enumerate(spec.states):
        for b in spec.states[i + 1 :]:
            if b.name in a.rivals or a.name in b.rivals:
                continue
            graph.add_edge(a.name, b.name, weight=0.2 + float(np.dot(a.principles, b.principles)))
    return nx.spring_layout(graph, seed=LAYOUT_SEED, weight="weight")


def edge_style(data: dict[str, Any], last_step: int) -> dict[str, Any]:
    """How a ``model.graph`` edge is drawn: an active partnership solid, width by strength; a
    recently ended one dashed grey, fading out over ``RECENTLY_ENDED_MONTHS``."""
    if data["active"]:
        return {
            "width": 1.0 + 7.0 * data["strength"],
            "style": "solid",
            "color": ACTIVE_EDGE_COLOUR,
            "alpha": 0.9,
        }
    age = max(0, last_step - data["ended"])
    fade = 1.0 - age / (RECENTLY_ENDED_MONTHS + 1)
    return {"width": 1.5, "style": "dashed", "color": ENDED_EDGE_COLOUR, "alpha": 0.25 + 0.6 * fade}


def network_figure(model: AllianceModel, norm: str, layout: dict[str, np.ndarray]) -> Figure:
    """The partnership network: node colour = credibility on ``norm``, node size = power, edge
    width = strength, dashed = ended within the last two years; state names as labels."""
    spec = model.scenario_spec
    credibility = model.world.credibility[:, spec.norms.index(norm)]
    power = model.world.power
    sizes = 120.0 + 1300.0 * np.sqrt(power / max(float(power.max()), 1e-12))

    fig = Figure(figsize=(FIGURE_WIDTH, 3.4))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.9)
    ax = fig.subplots()
    last_step = model.steps_done - 1
    for a, b, data in model.graph.edges(data=True):
        style = edge_style(data, last_step)
        (xa, ya), (xb, yb) = layout[a], layout[b]
        ax.plot(
            [xa, xb],
            [ya, yb],
            linewidth=style["width"],
            linestyle=style["style"],
            color=style["color"],
            alpha=style["alpha"],
            zorder=1,
            solid_capstyle="round",
        )
    xy = np.array([layout[name] for name in spec.state_names])
    nodes = ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=sizes,
        c=credibility,
        cmap=CREDIBILITY_CMAP,
        vmin=0.0,
        vmax=1.0,
        edgecolors="#333333",
        linewidths=0.8,
        zorder=2,
    )
    for name, (x, y), size in zip(spec.state_names, xy, sizes, strict=True):
        below = math.sqrt(size) / 2 + 2  # points: just under the node's edge
        ax.annotate(
            name,
            (x, y),
            xytext=(0, -below),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=8,
            zorder=3,
        )
    fig.colorbar(nodes, ax=ax, shrink=0.85, label=f"credibility: {norm.replace('_', ' ')}")
    ax.legend(
        handles=[
            Line2D(
                [], [], color=ACTIVE_EDGE_COLOUR, linewidth=3, label="partnership (width: strength)"
            ),
            Line2D(
                [], [], color=ENDED_EDGE_COLOUR, linestyle="dashed", label="ended, last 2 years"
            ),
        ],
        loc="upper left",
        bbox_to_anchor=(0.0, 1.08),
        fontsize=7,
        frameon=False,
        ncols=2,
    )
    ax.margins(0.15)
    ax.set_axis_off()
    return fig


def months(spec: Scenario, steps: np.ndarray) -> np.ndarray:
    """Steps as calendar months (``datetime64[M]``), for time axes."""
    return np.datetime64(str(spec.start), "M") + np.asarray(steps).astype("timedelta64[M]")


def _date_axis(ax, spec: Scenario, steps: int, ticks: int = 6) -> None:
    """Calendar x axis over at least the first two years (so early steps read as months)."""
    ax.set_xlim(months(spec, 0), months(spec, max(steps, 24)))
    locator = mdates.AutoDateLocator(minticks=2, maxticks=ticks)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def credibility_figure(model: AllianceModel, states: list[str]) -> Figure:
    """Credibility per norm over time (one panel per norm) for the selected states."""
    spec = model.scenario_spec
    # The recorded series that model.states_frame() tabulates, read without building a table.
    series = model.records.state_credibility[: model.steps_done]
    x = months(spec, np.arange(model.steps_done))
    fig = Figure(figsize=(FIGURE_WIDTH, 2.7))
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.16, top=0.9, wspace=0.2)
    axes = np.atleast_1d(fig.subplots(1, len(spec.norms), sharey=True))
    for k, (ax, norm) in enumerate(zip(axes, spec.norms, strict=True)):
        for state in states:
            ax.plot(x, series[:, spec.state_names.index(state), k], label=state)
        ax.set_title(norm.replace("_", " "), fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        _date_axis(ax, spec, model.steps_done, ticks=3)
    axes[0].set_ylabel("credibility", fontsize=8)
    if states and model.steps_done:
        axes[0].legend(fontsize=7, frameon=False, loc="lower left")
    return fig


def partnership_series(model: AllianceModel) -> pd.DataFrame:
    """Per step: number of active partnerships and their mean age in years.

    A spell is active at step t when ``start <= t < formal_end`` (or it has not ended), the rule
    of the kernel's own count (``timeseries_frame().active_partnerships``).
    """
    spells, n, steps = model.spells, int(model.spells.count[0]), model.steps_done
    t = np.arange(steps)[:, None]
    start = spells.start[:n].astype(np.int64)[None, :]
    end = spells.formal_end[:n].astype(np.int64)[None, :]
    active = (start <= t) & ((end < 0) | (t < end))
    count = active.sum(axis=1)
    age_sum = np.where(active, t - start, 0).sum(axis=1)
    mean_age = np.divide(age_sum, 12.0 * count, out=np.full(steps, np.nan), where=count > 0)
    return pd.DataFrame(
        {
            "step": np.arange(steps),
            "date": [str(model.scenario_spec.date_of(s)) for s in range(steps)],
            "active_partnerships": count,
            "mean_age_years": mean_age,
        }
    )


def partnership_figure(model: AllianceModel) -> Figure:
    """Number of active partnerships and their mean age over time."""
    series = partnership_series(model)
    x = months(model.scenario_spec, series["step"].to_numpy())
    fig = Figure(figsize=(FIGURE_WIDTH, 3.0))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.97, hspace=0.12)
    count_ax, age_ax = fig.subplots(2, 1, sharex=True)
    count_ax.step(x, series["active_partnerships"], where="post", color=ACTIVE_EDGE_COLOUR)
    count_ax.set_ylabel("number", fontsize=8)
    count_ax.set_ylim(0, 1.2 * max(1, int(series["active_partnerships"].to_numpy().max(initial=0))))
    count_ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    age_ax.plot(x, series["mean_age_years"], color="#b05a2b")
    age_ax.set_ylabel("mean age (y)", fontsize=8)
    age_ax.set_ylim(bottom=0)
    for ax in (count_ax, age_ax):
        _date_axis(ax, model.scenario_spec, model.steps_done)
    return fig


def spell_table(model: AllianceModel) -> pd.DataFrame:
    """One row per spell: who, since when, strength now (or at its end), and whether it is
    active, hollow or how it ended. Active spells first, then the most recently ended."""
    frame = model.spells_frame()
    strength = model.spells.strength[: len(frame)]
    status = []
    for row in frame.itertuples():
        if row.formal_end_step >= 0:
            status.append(f"ended {row.formal_end_date}: {row.cause}")
        elif row.functional_end_step >= 0:
            status.append(f"hollow since {row.functional_end_date}")
        else:
            status.append("active")
    table = pd.DataFrame(
        {
            "partners": frame["state_a"] + " – " + frame["state_b"],
            "kind": frame["kind"],
            "since": frame["start_date"],
            "strength": np.round(strength, 2),
            "status": status,
        }
    )
    ended = frame["formal_end_step"].to_numpy()
    order = np.argsort(-np.where(ended < 0, np.iinfo(np.int64).max, ended), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def _event_lines(spec: Scenario) -> list[tuple[int, str]]:
    """(step, line) per event. An event has one row per effect: group them by (step, name)
    and name the partnerships it starts or ends."""
    grouped: dict[tuple[int, str], list[str]] = {}
    names = spec.state_names
    for row in sorted(spec.events, key=lambda r: r.step):
        pairs = grouped.setdefault((row.step, row.label), [])
        if row.kind in (EV_START, EV_END):
            verb = "starts" if row.kind == EV_START else "ends"
            pairs.append(f"{names[row.a]}–{names[row.b]} {verb}")
    return [
        (step, f"{spec.date_of(step)} {label}" + (f" ({', '.join(pairs)})" if pairs else ""))
        for (step, label), pairs in grouped.items()
    ]


def fired_events(model: AllianceModel) -> list[str]:
    """The scenario's events that have fired (their step is done), one line each."""
    return [line for step, line in _event_lines(model.scenario_spec) if step < model.steps_done]


def next_event(model: AllianceModel) -> str | None:
    """The first event still to come, as a line, or None."""
    upcoming = [
        line for step, line in _event_lines(model.scenario_spec) if step >= model.steps_done
    ]
    return upcoming[0] if upcoming else None


def date_line(model: AllianceModel) -> str:
    """'Date: 2023-04 · 3 of 480 months simulated · seed 0' (the date the next step simulates)."""
    return (
        f"Date: {model.date} · {model.steps_done} of {model.horizon} months simulated "
        f"· seed {getattr(model, 'seed', '?')}"
    )


# --------------------------------------------------------------------------- components


@solara.component
def ScenarioStatus(model: AllianceModel) -> None:
    """The date, the scenario, a rejected-controls message, and the events fired so far."""
    update_counter.get()
    rejected = getattr(model, "rejected", None)
    changed = changed_parameters(model)
    upcoming = next_event(model)
    with solara.Card(model.scenario_spec.title, classes=["alliance-status"], style=CARD_STYLE):
        if rejected:
            solara.Error(
                f"The model rejects these settings: {rejected}. Change the controls and press "
                "Reset; until then the page holds the scenario with its own parameters and does "
                "not step.",
                classes=["alliance-rejected"],
            )
        solara.Text(
            date_line(model),
            classes=["alliance-date"],
            style={"font-size": "1.15em", "font-weight": "500"},
        )
        if changed:
            solara.Div(
                children=[
                    "Changed from the scenario: "
                    + ", ".join(
                        f"{name} = {used:g} (scenario: {own:g})"
                        for name, (own, used) in changed.items()
                    )
                ],
                style={"margin-top": "0.5em"},
            )
        solara.Div(children=["Events so far"], style={"margin-top": "0.8em", "font-weight": "500"})
        with solara.v.Html(tag="ul", class_="alliance-events"):
            for line in fired_events(model) or ["none yet"]:
                solara.v.Html(tag="li", children=[line])
        if upcoming:
            solara.Div(children=[f"Next: {upcoming}"])


@solara.component
def PartnershipNetwork(model: AllianceModel) -> None:
    """The partnership network, coloured by credibility on a selectable norm."""
    update_counter.get()
    spec = model.scenario_spec
    norm, set_norm = solara.use_state(spec.norms[0])
    if norm not in spec.norms:  # Reset chose another scenario
        norm = spec.norms[0]
    # Keyed on the text: Reset reloads the file, which may have changed meanwhile.
    layout = solara.use_memo(
        lambda: network_layout(spec), dependencies=[spec.text, spec.state_names]
    )
    with solara.Card(classes=["alliance-network"], style=CARD_STYLE):
        solara.Select(
            "partnerships · node colour = credibility on",
            values=list(spec.norms),
            value=norm,
            on_value=set_norm,
            dense=True,
        )
        solara.FigureMatplotlib(network_figure(model, norm, layout), format="png")


@solara.component
def CredibilityChart(model: AllianceModel) -> None:
    """Credibility per norm over time for the selected states."""
    update_counter.get()
    names = list(model.scenario_spec.state_names)
    chosen, set_chosen = solara.use_state(names[:2])
    shown = [s for s in chosen if s in names] or names[:2]
    with solara.Card(classes=["alliance-credibility"], style=CARD_STYLE):
        solara.SelectMultiple(
            "credibility over time for",
            values=shown,
            all_values=names,
            on_value=set_chosen,
            dense=True,
        )
        solara.FigureMatplotlib(credibility_figure(model, shown), format="png")


@solara.component
def PartnershipChart(model: AllianceModel) -> None:
    """Number and mean age of active partnerships over time."""
    update_counter.get()
    with solara.Card("Active partnerships", classes=["alliance-partnerships"], style=CARD_STYLE):
        solara.FigureMatplotlib(partnership_figure(model), format="png")


@solara.component
def SpellTable(model: AllianceModel) -> None:
    """Every partnership spell so far: who, since when, strength, how it ended."""
    update_counter.get()
    table = spell_table(model)
    with solara.Card("Partnership spells", classes=["alliance-spells"], style=CARD_STYLE):
        if table.empty:
            solara.Text("No partnerships yet: press Step.")
        else:
            solara.DataFrame(table, items_per_page=8)


COMPONENTS: list[Callable[..., Any]] = [
    ScenarioStatus,
    PartnershipNetwork,
    CredibilityChart,
    PartnershipChart,
    SpellTable,
]
