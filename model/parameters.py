"""Model parameters: names, defaults, admissible ranges and the packed array the kernel reads.

Defaults (docs/ODD.md §8 item 19, §9 "One set of structural parameters"):

* *Structural* parameters — how states value partners, how partnerships respond, legal inertia by
  legal form, the open-problem switches — have one value for every world. Those the ATOP
  calibration identifies come from the project's own calibration (``CALIBRATION`` below; each
  field's comment says so); the rest keep the model card's values (MODEL.md §3, "scenario
  default" column), which ATOP durations do not pin down.
* *World* parameters — ``rho``, ``u_form``, ``treaty_share``, ``treaty_term_years``, ``h_exo``,
  ``theta``, ``theta_tension``, ``sigma``, ``sigma_tension`` — describe a world, not the
  mechanism. Their defaults here are the card's scenario values (a scenario's states form few
  endogenous spells, name their treaties as dated history and face no exogenous end unless an
  event says so); the synthetic world carries its own fitted values
  (``model.synthetic.WORLD_PARAMETERS``).

Every parameter is a float in the kernel's parameter vector; the index constants below
(``P_ALPHA`` ...) are how the kernel names them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

# Where the calibrated defaults come from (docs/analysis.md, "Where the calibration stands"):
CALIBRATION = (
    "alliance calibrate --budget 60000 --max-minutes 12 --workers 2 "
    "--set abrogate_before_hollow=1 --set kappa_treaty=0.1 "
    "--param kappa_pact=0.2:6 --param upkeep=0.02:0.25 --param gamma=0.05:1 "
    "--param rho=0.01:0.3 --param u_form=-0.05:0.2 --param h_exo=0:0.006 "
    "--param treaty_share=0:1 --param treaty_term_years=0:30 --param w_init_spread=0:0.3 "
    "--param benefit_floor=0:0.3  (git c3e410f, 2026-11-28: 40 688 runs, 691 s; distance "
    "922.5 at the start -> 22.3, 31.6 on fresh seeds; ATOP goals met except S(20) 0.368; "
    "analysis/data/calibration-defaults/)"
)


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
    # Calibrated (CALIBRATION: fitted 0.06226; se with the others fixed 0.014); card 0.075.
    upkeep: float = _param(0.0623, 0.0, 10.0, "monthly cost of any partnership")
    # Calibrated (CALIBRATION: fitted 0.5932; se with the others fixed 0.51); card 0.30.
    gamma: float = _param(0.593, 0.0, 10.0, "strength change per unit of min(U_ij, U_ji)")
    w_init: float = _param(0.50, 0.0, 1.0, "strength of a partnership at formation")
    w_func: float = _param(0.30, 0.0, 1.0, "strength below which a partnership is hollow")
    # The card's value, held fixed in CALIBRATION: ATOP durations do not identify it (left free it
    # went to 0.69 with an infinite joint s.e., and a treaty could no longer lie hollow; ODD §9).
    kappa_treaty: float = _param(0.10, 0.0, 100.0, "abrogation hazard per unit -Ubar, treaty")
    # Calibrated (CALIBRATION: fitted 5.064; se with the others fixed 2.4); card 2.5.
    kappa_pact: float = _param(5.06, 0.0, 100.0, "abrogation hazard per unit -Ubar, informal pact")
    # World parameters (module docstring): the card's scenario values; the synthetic world's are in
    # model.synthetic.WORLD_PARAMETERS.
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
    # Switches for the open problems of MODEL.md §3 (docs/ODD.md §9); 0 = reference form. The
    # defaults turn on benefit_floor, w_init_spread and abrogate_before_hollow (calibrated);
    # realised_benefit and violation_cost stay off (ODD §9, open problem 1).
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
    # Calibrated (CALIBRATION: fitted 0.1703; se with the others fixed 0.014); reference form 0.
    benefit_floor: float = _param(
        0.17,
        0.0,
        1.0,
        "formation also needs both sides' potential material benefit >= this "
        "(open problem 2: formation is not selective)",
    )
    # Calibrated (CALIBRATION: fitted 0.0100, not identified: se with the others fixed 0.79);
    # reference form 0. The ATOP fit does not need per-spell starting strength.
    w_init_spread: float = _param(
        0.01,
        0.0,
        1.0,
        "a formed spell's strength is drawn from w_init ± this, within [w_func, 1] "
        "(open problem 3)",
    )
    # On (ODD §9, open problem 3): held at 1 in CALIBRATION; reference form 0.
    abrogate_before_hollow: float = _param(
        1,
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


# Which parameters describe a world rather than the mechanism (docs/ODD.md §8 item 19): a
# scenario or the synthetic world may set these; every other parameter is structural, one default
# for every world.
WORLD_NAMES: tuple[str, ...] = (
    "rho",
    "u_form",
    "treaty_share",
    "treaty_term_years",
    "h_exo",
    "theta",
    "theta_tension",
    "sigma",
    "sigma_tension",
)
STRUCTURAL_NAMES: tuple[str, ...] = tuple(n for n in Parameters.names() if n not in WORLD_NAMES)

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
