"""The alliance-durability model: parameters, scenarios, the numba kernel and ``AllianceModel``.

The names below are imported on first use (PEP 562), so that ``import model.parameters`` (as the
command line's ``--help`` does) does not import Mesa and numba.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "AllianceModel": "model.alliance_model",
    "ParameterError": "model.parameters",
    "Parameters": "model.parameters",
    "Scenario": "model.scenario",
    "ScenarioError": "model.scenario",
    "load_scenario": "model.scenario",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
