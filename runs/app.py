"""The browser view: Mesa's SolaraViz over ``AllianceModel``, composed from runs/viz_components.

Start it with ``alliance viz [--scenario NAME] [--port N]`` or ``solara run runs/app.py``
(``ALLIANCE_SCENARIO=NAME`` picks the scenario it opens with).
"""

from mesa.visualization import SolaraViz

from runs.viz_components import COMPONENTS, BrowserModel, model_params, starting_scenario

START = starting_scenario()

page = SolaraViz(
    BrowserModel(scenario_name=START),
    components=COMPONENTS,
    model_params=model_params(START),
    name="Alliance durability",
    play_interval=150,
)
