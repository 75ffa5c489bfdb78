"""Model parameters: names, defaults, admissible ranges and the packed array the kernel reads.

Defaults are the "scenario default" column of MODEL.md §3 (the prototype's values, to be re-derived
by the project's own calibration). Every parameter is a float in the kernel's parameter vector; the
index constants below (``P_ALPHA`` ...) are how the kernel names them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


class ParameterError(ValueError):
    """A parameter value is unknown, of the wrong type or out of its admissible range."""


def _param(default: float, low: float, high: float, doc: str, *, integer: bool = False) -> Any:
    return field(
        default=default, metadata={"low": low, "high": high, "doc": doc, "integer": integer}
    )


@dataclass(frozen=True)
class Parameters:
    """Structural parameters of the alliance-durability model (MODEL.md §3, docs/ODD.md §7).

    All rates are per month (one step). Construct with keywords; :meth:`validate` runs on
    construction, so an instance is always admissible.
    """

    alpha: float = _param(0.06, 0.0, 10.0, "credibility erosion per unit of contradiction H")
    beta: float = _param(0.005, 0.0, 1.0, "credibility recovery per month (slow: half-life ~11 y)")
    lambda_brink: float = _param(0.20, 0.0, 10.0, "brinkmanship leverage of a risky partner")
    eta_trap: float = _param(0.50, 0.0, 10.0, "entrapment cost of a risky partner")
    t_half: float = _param(
        1.0, 1e-9, 1e6, "tension at which interests and principles weigh equally"
    )
    upkeep: float = _param(0.075, 0.0, 10.0, "monthly cost of any partnership")
    gamma: float = _param(0.30, 0.0, 10.0, "strength change per unit of min(U_ij, U_ji)")
    w_init: float = _param(0.50, 0.0, 1.0, "strength of a partnership at formation")
    w_func: float = _param(0.30, 0.0, 1.0, "strength below which a partnership is hollow")
    kappa_treaty: float = _param(0.10, 0.0, 100.0, "abrogation hazard per unit -Ubar, treaty")
    kappa_pact: float = _param(2.5, 0.0, 100.0, "abrogation hazard per unit -Ubar, informal pact")
    treaty_share: float = _param(
        0.0, 0.0, 1.0, "share of endogenously formed spells that are treaties"
    )
    treaty_term_years: float = _param(
        0.0, 0.0, 200.0, "term of an endogenously formed treaty in years (0 = no term)"
    )
    renew_treaties: float = _param(
        1.0,
        0.0,
        1.0,
        "1: a treaty at its term is renewed if not hollow; 0: it expires",
        integer=True,
    )
    rho: float = _param(0.10, 0.0, 1.0, "formation probability per month once both sides qualify")
    u_form: float = _param(0.10, -10.0, 10.0, "value both sides must exceed to form")
    cooldown: float = _param(60, 0, 10_000, "months before an ended pair may re-form", integer=True)
    h_exo: float = _param(0.0, 0.0, 1.0, "exogenous end hazard per month")
    theta: float = _param(0.05, 0.0, 1.0, "mean reversion of needs per month")
    theta_tension: float = _param(0.05, 0.0, 1.0, "mean reversion of tension per month")
    sigma: float = _param(0.03, 0.0, 10.0, "noise (s.d.) of needs per month")
    sigma_tension: float = _param(0.05, 0.0, 100.0, "noise (s.d.) of tension per month")
    intensity: float = _param(
        8.0, 1.0, 1000.0, "default intensity of a forced (invasion-level) act"
    )
    # Switches for the open problems of MODEL.md §3 (docs/ODD.md "Decisions"); 0 = reference form.
    realised_benefit: float = _param(
        0,
        0,
        1,
        "1: material benefit counts realised inflow W·min(S_j, D_i), not potential S_j "
        "(open problem 1: the dependent side never binds)",
        integer=True,
    )
    violation_cost: float = _param(
        0.0,
        0.0,
        10.0,
        "weight of a direct cost to i of its partner's recent violations of i's own "
        "principles, endorsed or not ('social imperialism'; open problem 1)",
    )
    benefit_floor: float = _param(
        0.0,
        0.0,
        1.0,
        "formation also needs both sides' potential material benefit >= this "
        "(open problem 2: formation is not selective)",
    )
    w_init_spread: float = _param(
        0.0,
        0.0,
        1.0,
        "a formed spell's strength is drawn from w_init ± this, within [w_func, 1] "
        "(open problem 3)",
    )
    abrogate_before_hollow: float = _param(
        0,
        0,
        1,
        "1: abrogation hazard whenever Ubar < 0, not only once hollow (open problem 3)",
        integer=True,
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ParameterError` naming the first inadmissible value."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(
                value, int | float | np.integer | np.floating
            ):
                raise ParameterError(f"parameter {f.name}: expected a number, got {value!r}")
            low, high = f.metadata["low"], f.metadata["high"]
            if not np.isfinite(value) or not low <= value <= high:
                raise ParameterError(
                    f"parameter {f.name}={value!r}: expected a number in [{low}, {high}]"
                )
            if f.metadata["integer"] and float(value) != int(value):
                raise ParameterError(f"parameter {f.name}={value!r}: expected a whole number")
        if self.w_init < self.w_func:
            raise ParameterError(
                f"parameter w_init={self.w_init} is below w_func={self.w_func}: "
                "expected w_init >= w_func (a new partnership is not born hollow)"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def describe(cls) -> dict[str, dict[str, Any]]:
        """Name -> default, range and meaning, for --help texts and docs."""
        return {
            f.name: {
                "default": f.default,
                "low": f.metadata["low"],
                "high": f.metadata["high"],
                "doc": f.metadata["doc"],
            }
            for f in fields(cls)
        }

    def replace(self, **changes: Any) -> Parameters:
        """A copy with ``changes`` applied; unknown names raise :class:`ParameterError`."""
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise ParameterError(
                f"unknown parameter {unknown[0]!r}: expected one of {', '.join(self.names())}"
            )
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.names()}

    def to_array(self) -> np.ndarray:
        """The packed float64 vector the kernel reads, in :meth:`names` order."""
        return np.array([float(getattr(self, n)) for n in self.names()], dtype=np.float64)


# Index constants for the kernel: position of each field in Parameters.to_array().
_INDEX = {name: i for i, name in enumerate(Parameters.names())}
P_ALPHA = _INDEX["alpha"]
P_BETA = _INDEX["beta"]
P_LAMBDA = _INDEX["lambda_brink"]
P_ETA = _INDEX["eta_trap"]
P_T_HALF = _INDEX["t_half"]
P_UPKEEP = _INDEX["upkeep"]
P_GAMMA = _INDEX["gamma"]
P_W_INIT = _INDEX["w_init"]
P_W_FUNC = _INDEX["w_func"]
P_KAPPA_TREATY = _INDEX["kappa_treaty"]
P_KAPPA_PACT = _INDEX["kappa_pact"]
P_TREATY_SHARE = _INDEX["treaty_share"]
P_TREATY_TERM_YEARS = _INDEX["treaty_term_years"]
P_RENEW = _INDEX["renew_treaties"]
P_RHO = _INDEX["rho"]
P_U_FORM = _INDEX["u_form"]
P_COOLDOWN = _INDEX["cooldown"]
P_H_EXO = _INDEX["h_exo"]
P_THETA = _INDEX["theta"]
P_THETA_T = _INDEX["theta_tension"]
P_SIGMA = _INDEX["sigma"]
P_SIGMA_T = _INDEX["sigma_tension"]
P_INTENSITY = _INDEX["intensity"]
P_REALISED = _INDEX["realised_benefit"]
P_BENEFIT_FLOOR = _INDEX["benefit_floor"]
P_VIOLATION_COST = _INDEX["violation_cost"]
P_W_SPREAD = _INDEX["w_init_spread"]
P_EARLY_ABROGATION = _INDEX["abrogate_before_hollow"]
N_PARAMS = len(_INDEX)
