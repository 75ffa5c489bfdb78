"""The switches for MODEL.md §3's open problems (docs/ODD.md §9): each does what it says, and
off is the reference form. Three are on by default (the calibrated defaults, ODD §9): one set of
structural parameters serves every scenario and the synthetic world."""

from __future__ import annotations

import numpy as np
import pytest

from model.alliance_model import AllianceModel
from model.arrays import CAUSE_ENTRAPMENT, CAUSE_INTEREST, CAUSE_PRINCIPLES
from model.kernel import pair_value, prepare_values
from model.parameters import Parameters
from model.scenario import build_world, load_scenario, parse_scenario

# The prototype's ATOP-fit column of MODEL.md §3: a world where spells end within a few years.
ATOP = dict(
    alpha=0.023, beta=0.0089, upkeep=0.12, gamma=0.44, w_init=0.33, w_func=0.31, kappa_pact=2.7,
    rho=0.18, u_form=0.045, h_exo=0.0019, sigma=0.128, sigma_tension=0.19,
)  # fmt: skip
WORLD = "synthetic:n_states=12,steps=240,world_seed=4"


def value(world, params: Parameters, strength: float, i: int = 0, j: int = 1):
    prepare_values(world, params.to_array())
    return pair_value(i, j, 0.3, world.zeros_k, strength, world, params.to_array())


def test_realised_benefit_scales_material_benefit_with_strength_and_caps_it_at_need() -> None:
    spec = load_scenario(WORLD)
    world, _ = build_world(spec)
    world.recent_conduct[:] = 0.2
    off = spec.parameters
    on = off.replace(realised_benefit=1)
    # Reference: the interest component does not depend on the partnership's strength.
    assert value(world, off, 0.2)[1] == value(world, off, 0.9)[1]
    weight = world.interest_weight[0]
    expected = (world.needs[0] * np.minimum(world.supply[1], world.needs[0])).mean()
    low, high = value(world, on, 0.25)[1], value(world, on, 0.75)[1]
    assert high - low == pytest.approx(weight * 0.5 * expected, rel=1e-12)
    assert high > low > 0


def test_violation_cost_charges_the_partners_violations_whatever_is_endorsed() -> None:
    spec = load_scenario(WORLD)
    world, _ = build_world(spec)
    world.recent_conduct[1] = 0.4  # the partner violates every norm a little
    base = spec.parameters
    costly = base.replace(violation_cost=1.0)
    agenda = world.principles[0]
    expected = (agenda * 0.4).sum() / agenda.sum()
    drop = value(world, base, 0.5)[2] - value(world, costly, 0.5)[2]
    weight = world.interest_weight[0]  # set by prepare_values inside value()
    assert drop == pytest.approx((1 - weight) * expected, rel=1e-12)
    world.recent_conduct[1] = 0.0
    assert value(world, base, 0.5)[2] == value(world, costly, 0.5)[2]


def formed(parameters: dict, seed: int = 1) -> AllianceModel:
    model = AllianceModel(scenario=WORLD, parameters=parameters, rng=seed, record_states=False)
    return model.simulate()


def test_benefit_floor_keeps_pairs_without_mutual_interest_apart() -> None:
    assert int(formed({}).spells.count[0]) > 5
    # Potential benefit is a mean of need x supply products, so it never exceeds 1.
    assert int(formed({"benefit_floor": 1.0}).spells.count[0]) == 0
    spec = load_scenario(WORLD)
    world, _ = build_world(spec)
    benefit = (world.needs[:, None, :] * world.supply[None, :, :]).mean(axis=2)
    floor = float(np.quantile(benefit, 0.6))
    model = formed({"benefit_floor": floor, "sigma": 0.0})  # needs stay at their start values
    sp = model.spells
    a, b = sp.member_a[: sp.count[0]], sp.member_b[: sp.count[0]]
    assert len(a) > 0
    assert (benefit[a, b] >= floor).all() and (benefit[b, a] >= floor).all()


def test_w_init_spread_draws_starting_strengths_within_its_band() -> None:
    reference = formed({"w_init_spread": 0.0})
    n = int(reference.spells.count[0])
    assert np.all(reference.spells.initial_strength[:n] == 0.5)
    spread = formed({"w_init_spread": 0.15})
    n = int(spread.spells.count[0])
    strengths = spread.spells.initial_strength[:n]
    assert n > 5 and len(np.unique(strengths)) > n // 2
    assert strengths.min() >= 0.35 and strengths.max() <= 0.65


def abrogated_strong(parameters: dict) -> int:
    """Abrogations of spells that were not hollow when they ended."""
    total = 0
    for seed in range(3):
        sp = formed({**ATOP, **parameters}, seed).spells
        n = int(sp.count[0])
        cause = sp.cause[:n]
        abrogated = np.isin(cause, (CAUSE_INTEREST, CAUSE_PRINCIPLES, CAUSE_ENTRAPMENT))
        total += int(np.count_nonzero(abrogated & (sp.strength[:n] >= ATOP["w_func"])))
    return total


def test_abrogation_before_hollow_only_with_its_switch() -> None:
    assert abrogated_strong({"abrogate_before_hollow": 0}) == 0
    assert abrogated_strong({"abrogate_before_hollow": 1}) > 0


def test_legal_inertia_and_starting_strength_are_properties_of_each_spell() -> None:
    """κ (treaty or pact) and the starting strength belong to the spell, end to end: a dated
    start sets both (kind, strength), a formalisation turns a pact's κ into a treaty's, and
    endogenous spells draw their starting strength per spell; spells.csv carries all three."""
    state = {"power": 0.3, "risk": 0.0, "tension": 1.0, "needs": {"arms": 0.9}}
    supply = {"supply": {"arms": 0.9}}
    spec = parse_scenario(
        {
            "scenario": {
                "name": "spells",
                "start": "2000-01",
                "steps": 24,
                "norms": ["sovereignty"],
                "resources": ["arms"],
            },
            "parameters": {
                "kappa_treaty": 0.07,
                "kappa_pact": 4.0,
                "w_init": 0.5,
                "w_init_spread": 0.3,
                "rho": 0.0,
                "gamma": 0.0,
                "h_exo": 0.0,
            },  # fmt: skip
            "states": [{"name": n, **state, **supply} for n in ("A", "B", "C", "D")],
            "partnerships": [
                {"members": ["A", "B"], "kind": "treaty", "strength": 0.8},
                {"members": ["A", "C"], "kind": "pact"},
            ],
            "events": [
                {
                    "date": "2000-06",
                    "name": "d",
                    "effects": [
                        {"members": ["C", "D"], "partnership": "start", "strength": 0.65},
                        {"members": ["A", "C"], "partnership": "start", "kind": "treaty"},
                    ],
                }
            ],
        },
        text="",
        source="<spells>",
    )
    frame = AllianceModel(scenario=spec, rng=3).simulate().spells_frame()
    rows = {(r.state_a, r.state_b): r for r in frame.itertuples()}
    assert (rows["A", "B"].kind, rows["A", "B"].kappa, rows["A", "B"].initial_strength) == (
        "treaty",
        0.07,
        0.8,
    )
    # A dated start without a strength starts at w_init (history: no per-spell draw).
    assert (rows["A", "C"].kind, rows["A", "C"].kappa, rows["A", "C"].initial_strength) == (
        "treaty",
        0.07,
        0.5,
    )  # formalised in 2000-06: the pact's κ became the treaty's
    assert (rows["C", "D"].kind, rows["C", "D"].kappa, rows["C", "D"].initial_strength) == (
        "pact",
        4.0,
        0.65,
    )
    # Endogenous spells draw their starting strength per spell within w_init ± spread.
    endogenous = formed({"rho": 0.3, "w_init_spread": 0.2, "w_init": 0.5, "w_func": 0.3})
    table = endogenous.spells_frame()
    assert len(table) > 5 and table["initial_strength"].nunique() > len(table) // 2
    assert table["initial_strength"].between(0.3, 0.7).all()
    assert set(table["kappa"]) <= {
        endogenous.parameters.kappa_treaty,
        endogenous.parameters.kappa_pact,
    }


def test_one_set_of_structural_parameters_serves_every_scenario_and_the_synthetic_world() -> None:
    """ODD §8 item 19: the built-in scenarios and the synthetic world share every structural
    parameter (the defaults); they may differ only in world parameters. The defaults carry the
    calibrated switches, and the synthetic world carries its fitted world values."""
    from model.parameters import STRUCTURAL_NAMES, WORLD_NAMES
    from model.scenario import builtin_scenarios
    from model.synthetic import WORLD_PARAMETERS

    defaults = Parameters()
    assert set(STRUCTURAL_NAMES) | set(WORLD_NAMES) == set(Parameters.names())
    for name in [*builtin_scenarios(), "synthetic:n_states=5"]:
        spec = load_scenario(name)
        for field in STRUCTURAL_NAMES:
            assert getattr(spec.parameters, field) == getattr(defaults, field), (name, field)
    synthetic = load_scenario("synthetic:n_states=5").parameters
    assert set(WORLD_PARAMETERS) <= set(WORLD_NAMES)
    assert all(getattr(synthetic, k) == v for k, v in WORLD_PARAMETERS.items())
    assert synthetic.rho != defaults.rho and synthetic.h_exo > 0 == defaults.h_exo
    # The calibrated structure: early abrogation and the benefit floor on, realised benefit off;
    # a pact's legal inertia well above a treaty's.
    assert defaults.abrogate_before_hollow == 1 and defaults.benefit_floor > 0
    assert defaults.realised_benefit == 0 and defaults.violation_cost == 0
    assert defaults.kappa_pact > 10 * defaults.kappa_treaty
