"""The browser view without a browser: runs/app.py rendered with ``solara.render``, the drawing
functions of runs/viz_components.py, and the ``alliance viz`` command's user errors.

The real-browser test is tests/test_browser.py.
"""

from __future__ import annotations

import importlib
import inspect
import socket

import ipyvuetify as v
import ipywidgets as widgets
import numpy as np
import pytest
import solara
from click.testing import CliRunner
from reacton.find import Finder

from model import AllianceModel, Parameters, load_scenario
from model.alliance_model import RECENTLY_ENDED_MONTHS
from model.scenario import builtin_scenarios
from runs.cli import main
from runs.viz_components import (
    SCENARIO_ENV,
    SLIDERS,
    BrowserModel,
    fired_events,
    model_params,
    network_figure,
    network_layout,
    next_event,
    partnership_series,
    spell_table,
)

END_OVERLAY = """
[[events]]
date = "2023-06"
name = "test-end"
effects = [{ partnership = "end", members = ["United States", "South Korea"] }]
"""


def render_app(monkeypatch, scenario: str):
    """Render runs/app.py as `solara run` would, opened on ``scenario``."""
    monkeypatch.setenv(SCENARIO_ENV, scenario)
    app = importlib.reload(importlib.import_module("runs.app"))

    @solara.component
    def Page():
        # SolaraViz puts its controls in the app layout's sidebar; render that layout too.
        with solara.AppLayout():
            solara.Column(children=[app.page])

    _, rc = solara.render(Page(), handle_error=False)
    return rc


def card(rc, name: str) -> Finder:
    """The component card with CSS class ``name`` (e.g. ``alliance-network``)."""
    cards = [c for c in rc.find(v.Card).widgets if name in c.class_.split()]
    assert len(cards) == 1, f"expected one card {name!r}, found {len(cards)}"
    return Finder(cards)


def date_text(rc) -> str:
    return rc.find(v.Html, class_="alliance-date").widget.children[0]


def network_png(rc) -> bytes:
    return bytes(card(rc, "alliance-network").find(widgets.Image).widget.value)


def click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def alerts(rc) -> list[str]:
    return [" ".join(map(str, a.children)) for a in rc.find(v.Alert).widgets]


# --------------------------------------------------------------------------- the page


@pytest.mark.parametrize("scenario", builtin_scenarios())
def test_app_builds_and_steps_for_every_builtin_scenario(monkeypatch, scenario):
    spec = load_scenario(scenario)
    rc = render_app(monkeypatch, scenario)

    assert date_text(rc).startswith(f"Date: {spec.start} · 0 of {spec.steps} months")
    for name in (
        "alliance-status",
        "alliance-network",
        "alliance-credibility",
        "alliance-partnerships",
        "alliance-spells",
    ):
        card(rc, name)
    labels = {s.label for s in rc.find(v.Slider).widgets}
    assert {label for label, *_ in SLIDERS.values()} <= labels
    assert rc.find(v.Select, label="scenario").widget.v_model == scenario
    assert alerts(rc) == []

    click(rc, "Step")
    assert date_text(rc).startswith(f"Date: {spec.date_of(1)} · 1 of")
    assert alerts(rc) == []


def test_step_advances_the_date_and_redraws_the_network(monkeypatch):
    rc = render_app(monkeypatch, "russia-dprk-2023")
    before = network_png(rc)
    for _ in range(3):
        click(rc, "Step")
    assert date_text(rc).startswith("Date: 2023-04 · 3 of 480 months")
    assert network_png(rc) != before
    events = card(rc, "alliance-status").find(v.Html, tag="li").widgets
    assert any("United States–South Korea starts" in e.children[0] for e in events)
    assert alerts(rc) == []


def months_done(rc) -> int:
    return int(date_text(rc).split("·")[1].split()[0])


def test_play_steps_by_itself_and_pause_gives_step_back(monkeypatch):
    rc = render_app(monkeypatch, "russia-dprk-2023")
    click(rc, "▶")  # Mesa steps in a thread; wait (bounded) for it to get going
    rc.find(v.Html, class_="alliance-date").assert_wait(
        lambda widget: months_done(rc) >= 2, timeout=120
    )
    click(rc, "❚❚")
    rc.find(v.Btn, children=["Step"]).assert_wait(lambda widget: not widget.disabled, timeout=120)
    paused_at = months_done(rc)  # a step already under way when paused may still land
    click(rc, "Step")
    assert months_done(rc) > paused_at
    assert alerts(rc) == []


def test_rejected_sliders_give_a_message_and_a_live_page(monkeypatch):
    rc = render_app(monkeypatch, "russia-dprk-2023")
    rc.find(v.Slider, label=SLIDERS["w_init"][0]).widget.v_model = 0.1  # below w_func = 0.3
    click(rc, "Reset")

    (message,) = alerts(rc)
    assert "w_init=0.1 is below w_func=0.3" in message
    assert "Traceback" not in message
    click(rc, "Step")  # does nothing, raises nothing
    assert date_text(rc).startswith("Date: 2023-01 · 0 of")

    # Fixing the slider and resetting recovers; another slider's change is applied and shown.
    rc.find(v.Slider, label=SLIDERS["w_init"][0]).widget.v_model = 0.5
    rc.find(v.Slider, label=SLIDERS["alpha"][0]).widget.v_model = 0.0
    click(rc, "Reset")
    assert alerts(rc) == []
    texts = [
        str(h.children[0]) for h in card(rc, "alliance-status").find(v.Html).widgets if h.children
    ]
    assert "Changed from the scenario: alpha = 0 (scenario: 0.06)" in texts
    click(rc, "Step")
    assert date_text(rc).startswith("Date: 2023-02 · 1 of")


def test_a_seed_that_is_not_a_number_is_a_message():
    model = BrowserModel(seed="forty-two")
    assert model.rejected == "seed 'forty-two': expected a whole number >= 0, e.g. 0 or 42"
    model.step()
    assert model.steps_done == 0 and not model.running
    assert BrowserModel(seed=" 42 ").seed == 42


def test_browser_model_takes_exactly_the_page_controls():
    """Mesa's Reset passes every control by name, and must not pass its own ``scenario``."""
    keywords = set(inspect.signature(BrowserModel.__init__).parameters) - {"self"}
    assert keywords == {"scenario_name", "seed", *SLIDERS}
    assert set(model_params("russia-dprk-2023")) == keywords


@pytest.mark.parametrize("scenario", builtin_scenarios())
def test_sliders_start_at_the_scenario_values_within_admissible_ranges(scenario):
    own = load_scenario(scenario).parameters.as_dict()
    admissible = Parameters.describe()
    for name in SLIDERS:
        slider = model_params(scenario)[name]
        assert slider.value == own[name]
        assert admissible[name]["low"] <= slider.min <= slider.value <= slider.max
        assert slider.max <= admissible[name]["high"]
    # Untouched sliders reproduce the scenario: Reset with them changes nothing.
    values = {name: model_params(scenario)[name].value for name in SLIDERS}
    model = BrowserModel(scenario_name=scenario, **values)
    assert model.rejected is None
    assert model.parameters == load_scenario(scenario).parameters


# --------------------------------------------------------------------------- what is drawn


def test_partnership_series_matches_the_kernels_count():
    model = AllianceModel(rng=3)
    model.simulate(240)
    series = partnership_series(model)
    np.testing.assert_array_equal(
        series["active_partnerships"], model.timeseries_frame()["active_partnerships"]
    )
    # Mean age by hand from the spell table at a few steps.
    spells = model.spells_frame()
    for t in (0, 100, 239):
        alive = spells[
            (spells.start_step <= t) & ((spells.event == 0) | (t < spells.formal_end_step))
        ]
        expected = ((t - alive.start_step) / 12).mean() if len(alive) else np.nan
        np.testing.assert_allclose(series["mean_age_years"][t], expected)


@pytest.fixture
def ended_partnership(tmp_path):
    """The default scenario with the United States–South Korea partnership ended in 2023-06."""
    overlay = tmp_path / "end.toml"
    overlay.write_text(END_OVERLAY)
    return load_scenario("russia-dprk-2023").with_overlay(overlay)


def test_an_ended_partnership_is_drawn_dashed_then_dropped(ended_partnership):
    model = AllianceModel(scenario=ended_partnership, rng=0)
    layout = network_layout(model.scenario_spec)
    model.simulate(8)
    assert model.graph.edges["United States", "South Korea"]["active"] is False
    ax = network_figure(model, "sovereignty", layout).axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    ended = [e for e in model.graph.edges(data="active") if e[2] is False]
    assert len(dashed) == len(ended) >= 1
    assert len(ax.get_lines()) == model.graph.number_of_edges()

    model.simulate(RECENTLY_ENDED_MONTHS + 4)  # past the "recently ended" window, within cooldown
    assert not model.graph.has_edge("United States", "South Korea")


def test_spell_table_and_events_tell_how_a_partnership_ended(ended_partnership):
    model = AllianceModel(scenario=ended_partnership, rng=0)
    model.simulate(8)
    table = spell_table(model)
    row = table[table["partners"] == "United States – South Korea"]
    assert row["status"].tolist() == ["ended 2023-06: scenario"]
    assert row["since"].tolist() == ["2023-01"]
    assert table["status"].iloc[-1] == "ended 2023-06: scenario"  # ended spells after the rest
    assert "2023-06 test-end (United States–South Korea ends)" in fired_events(model)
    assert next_event(model) == "2023-09 vostochny-summit"


def test_network_layout_is_seeded_and_ignores_the_run():
    spec = load_scenario("russia-dprk-2023")
    first = network_layout(spec)
    model = AllianceModel(scenario=spec, rng=1)
    model.simulate(12)
    again = network_layout(model.scenario_spec)
    assert first.keys() == set(spec.state_names)
    for name in spec.state_names:
        np.testing.assert_array_equal(first[name], again[name])


# --------------------------------------------------------------------------- alliance viz


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("alliance: error: ")
    return lines[0]


def test_viz_rejects_an_unknown_scenario_in_one_line():
    result = CliRunner().invoke(main, ["viz", "--scenario", "atlantis"])
    assert "atlantis: no such scenario" in one_line_error(result)


def test_viz_rejects_a_busy_port_in_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["viz", "--port", str(port)])
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in one_line_error(result)


def test_viz_rejects_an_unknown_host_in_one_line():
    result = CliRunner().invoke(main, ["viz", "--host", "no-such-host.invalid"])
    assert "--host 'no-such-host.invalid'" in one_line_error(result)
