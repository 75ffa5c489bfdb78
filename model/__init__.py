"""The alliance-durability model: parameters, scenarios, the numba kernel and ``AllianceModel``."""

from model.alliance_model import AllianceModel
from model.parameters import ParameterError, Parameters
from model.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "AllianceModel",
    "ParameterError",
    "Parameters",
    "Scenario",
    "ScenarioError",
    "load_scenario",
]
