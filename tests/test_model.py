"""AllianceModel: determinism, fast path vs Mesa stepping, decision-rule subclasses, and the
theory's behaviours on hand-built worlds with analytic answers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from agents.state import State
from model.alliance_model import AllianceModel
from model.scenario import Scenario, load_scenario, parse_scenario


def world(
    states: list[dict],
    *,
    norms=("sovereignty", "non_proliferation"),
    resources=("arms",),
    steps: int = 24,
    parameters: dict | None = None,
    implicates: dict | None = None,
    partnerships: list[dict] | None = None,
) -> Scenario:
    """A scenario from a few state tables (defaults: no tension, no risk, no conduct)."""
    filled = [{"power": 0.1, "risk": 0.0, "tension": 0.0, **s} for s in states]
    return parse_scenario(
        {
            "scenario": {
                "name": "test",
                "start": "2000-01",
                "steps": steps,
                "norms": list(norms),
                "resources": list(resources),
            },
            "parameters": parameters or {},
            "implicates": implicates or {},
            "states": filled,
            "partnerships": partnerships or [],
        },
        text="",
        source="<test>",
    )


# --------------------------------------------------------------------------- smoke


def test_default_model_builds_and_steps_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = AllianceModel()
        for _ in range(3):
            model.step()
    assert model.scenario_spec.name == "russia-dprk-2023"
    assert model.steps_done == 3 and model.steps == 3
    assert len(model.agents) == len(model.scenario_spec.states)
    assert model.graph.number_of_edges() >= 3  # the scenario's three starting partnerships


# --------------------------------------------------------------------------- determinism


def run_frames(spec: Scenario, seed: int, **kwargs) -> tuple[pd.DataFrame, AllianceModel]:
    model = AllianceModel(scenario=spec, rng=seed, **kwargs).simulate()
    return model.spells_frame(seed=seed), model


CHURN = {"upkeep": 0.2, "h_exo": 0.01, "rho": 0.3, "cooldown": 12}


def test_same_seed_same_run_different_seed_different_run() -> None:
    spec = load_scenario().with_parameters(**CHURN)
    first, m1 = run_frames(spec, 7, steps=120)
    again, m2 = run_frames(spec, 7, steps=120)
    other, _ = run_frames(spec, 8, steps=120)
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    for a, b in zip(m1.records, m2.records, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not first.drop(columns="seed").equals(other.drop(columns="seed"))


def assert_same_run(fast: AllianceModel, stepped: AllianceModel) -> None:
    pd.testing.assert_frame_equal(fast.spells_frame(), stepped.spells_frame(), check_exact=True)
    for name, a, b in zip(fast.records._fields, fast.records, stepped.records, strict=True):
        np.testing.assert_array_equal(a[: fast.steps_done], b[: stepped.steps_done], err_msg=name)
    for name, a, b in zip(fast.world._fields, fast.world, stepped.world, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(load_scenario().with_parameters(**CHURN), id="russia-dprk-churn"),
        # Eager formation among 20 friendly states: ~114 spells in the first month overflow the
        # initial spell table, so both paths must grow it and resume formation mid-step.
        pytest.param(
            world(
                [
                    {"name": f"s{i:02d}", "needs": {"arms": 0.5}, "supply": {"arms": 0.5}}
                    for i in range(20)
                ],
                steps=36,
                parameters={"rho": 0.6, "u_form": -10.0, "h_exo": 0.05, "cooldown": 0},
            ),
            id="table-growth",
        ),
    ],
)
def test_whole_run_fast_path_equals_mesa_stepping(spec: Scenario) -> None:
    fast = AllianceModel(scenario=spec, rng=3, steps=60).simulate()
    stepped = AllianceModel(scenario=spec, rng=3, steps=60)
    for _ in range(60):
        stepped.step()
    assert int(fast.spells.count[0]) > 0
    assert_same_run(fast, stepped)
    assert stepped.steps == 60  # Mesa's own counter advanced through the Mesa path
    # Chunks of simulate() and a mix with step() are the same run too.
    mixed = AllianceModel(scenario=spec, rng=3, steps=60).simulate(17)
    mixed.step()
    mixed.simulate()
    assert mixed.steps_done == 60
    assert_same_run(fast, mixed)


# --------------------------------------------------------------------------- decision rule


class Aloof(State):
    """Withholds all endorsement of every partner's acts (d = 1)."""

    def distancing(self, partner: State, strength: float) -> float:
        return 1.0


def test_a_subclass_decision_rule_changes_results_through_mesa() -> None:
    spec = load_scenario()
    reference = AllianceModel(scenario=spec, rng=1, steps=60).simulate()
    aloof = AllianceModel(scenario=spec, rng=1, steps=60, agent_class=Aloof)
    assert Aloof.uses_reference_rule() is False and State.uses_reference_rule() is True
    aloof.simulate()
    assert aloof.steps == 60, "a custom rule must step through Mesa"
    active = aloof.spells.active[: aloof.spells.n_active[0]]
    started_before_last = aloof.spells.start[active] < aloof.steps_done - 1
    assert (aloof.spells.distancing[active[started_before_last]] == 1.0).all()
    ref, alo = reference.records.state_credibility, aloof.records.state_credibility
    # Month 0: agents decide before the scenario's partnerships start, so nothing differs yet.
    np.testing.assert_array_equal(ref[0], alo[0])
    # Month 1 starts from the same state; withholding endorsement can only lower H, so no
    # credibility ends lower, and some partner of a violator ends higher.
    assert (alo[1] >= ref[1]).all() and (alo[1] > ref[1]).any()
    assert not np.array_equal(ref, alo)


# --------------------------------------------------------------------------- the theory


def erode(credibility: float, contradiction: float, alpha: float, beta: float) -> float:
    """MODEL.md §3 item 6 for one (state, norm)."""
    return min(
        1.0,
        max(
            0.0,
            credibility * math.exp(-alpha * contradiction)
            + beta * (1.0 - credibility) * math.exp(-contradiction),
        ),
    )


# A still world: strength frozen above w_func (gamma = 0) and no early abrogation, so no spell ends.
STILL = {
    "gamma": 0.0,
    "rho": 0.0,
    "sigma": 0.0,
    "sigma_tension": 0.0,
    "h_exo": 0.0,
    "abrogate_before_hollow": 0,
}


def credibility_world(*, implicates: dict | None = None) -> Scenario:
    """Patron partners Violator (who breaks sovereignty every month); Friend partners Upright (who
    never breaks anything); Bystander partners no one. All but Violator champion sovereignty."""
    champion = {"sovereignty": 1.0, "non_proliferation": 1.0}
    return world(
        [
            {"name": "Patron", "principles": champion, "supply": {"arms": 0.8}},
            {"name": "Violator", "conduct": {"sovereignty": 1.0}, "needs": {"arms": 0.6}},
            {"name": "Bystander", "principles": champion},
            {"name": "Friend", "principles": champion},
            {"name": "Upright", "principles": champion},
        ],
        parameters=STILL,
        implicates=implicates,
        partnerships=[{"members": ["Patron", "Violator"]}, {"members": ["Friend", "Upright"]}],
    )


def test_endorsing_a_partners_violations_erodes_credibility_on_that_principle() -> None:
    spec = credibility_world()
    p = spec.parameters
    model = AllianceModel(scenario=spec, rng=0).simulate()
    series = model.states_frame().pivot(
        index="step", columns="state", values="credibility_sovereignty"
    )
    # Endorsed acts: H = P · W · x = 1 · w_init · 1 every month (strength is constant, gamma = 0).
    expected, c = [], 1.0
    for _ in range(spec.steps):
        c = erode(c, p.w_init, p.alpha, p.beta)
        expected.append(c)
    np.testing.assert_allclose(series["Patron"], expected, rtol=1e-12)
    assert (np.diff(series["Patron"]) < 0).all()
    for state in ("Bystander", "Friend", "Upright", "Violator"):
        assert (series[state] == 1.0).all(), state
    # Only the violated principle erodes.
    assert (model.states_frame().credibility_non_proliferation == 1.0).all()


def test_supplying_a_violator_erodes_credibility_even_without_endorsement() -> None:
    """Complicity (enabling) counts: an aloof patron whose supply implicates the norm still loses
    credibility; the same patron supplying something that implicates nothing does not."""
    enabling = credibility_world(implicates={"arms": {"sovereignty": 1.0}})
    harmless = credibility_world()
    a = AllianceModel(scenario=enabling, rng=0, agent_class=Aloof).simulate()
    b = AllianceModel(scenario=harmless, rng=0, agent_class=Aloof).simulate()
    patron = 0
    p = enabling.parameters
    # Month 0: Aloof decides before the spell exists, so Patron endorses in full that month.
    # From month 1: H = P · q = W · min(S, D) · G · x̄ = 0.5 · 0.6 · 1 · 1.
    c = erode(1.0, p.w_init * (1.0 + 0.6), p.alpha, p.beta)
    expected = [c]
    for _ in range(1, enabling.steps):
        c = erode(c, p.w_init * 0.6, p.alpha, p.beta)
        expected.append(c)
    np.testing.assert_allclose(a.records.state_credibility[:, patron, 0], expected, rtol=1e-12)
    harmless_month0 = erode(1.0, p.w_init, p.alpha, p.beta)
    np.testing.assert_allclose(
        b.records.state_credibility[0, patron, 0], harmless_month0, rtol=1e-12
    )
    later = b.records.state_credibility[1:, patron, 0]
    assert (np.diff(later) >= 0).all(), "with nothing endorsed or enabled, only recovery acts"


# --------------------------------------------------------------------------- analytic oracle


def test_constant_break_hazard_gives_geometric_durations() -> None:
    """With strength frozen (gamma = 0, so no spell goes hollow) and no early abrogation (so value
    never matters), every
    pair forming at once (rho = 1, u_form at its minimum) and re-forming the month it ends
    (cooldown = 0), each pair is at risk every month after its spell starts, and ends with
    probability p = h_exo. Durations are then geometric with mean 1/p.

    Data: 10 states (45 pairs) x 600 months x 4 seeds = 107,820 pair-months at risk. The
    censoring-aware estimate of the mean, exposure / events, must lie within 4 standard errors of
    1/p, with SE(1/p_hat) = sqrt(p (1 - p) / exposure) / p^2 (delta method on the binomial p_hat);
    so must the hazard in the first month of a spell and after 1/p months."""
    p, steps, seeds, n = 0.05, 600, range(4), 10
    spec = world(
        [{"name": f"s{i}", "needs": {"arms": 0.5}, "supply": {"arms": 0.5}} for i in range(n)],
        steps=steps,
        parameters={
            "gamma": 0.0,
            "rho": 1.0,
            "u_form": -10.0,
            "cooldown": 0,
            "h_exo": p,
            "abrogate_before_hollow": 0,
            "benefit_floor": 0.0,  # needs drift: no floor, so that every pair re-forms at once
        },
    )
    frames = [AllianceModel(scenario=spec, rng=s).simulate().spells_frame() for s in seeds]
    spells = pd.concat(frames, ignore_index=True)
    assert set(spells.cause[spells.event == 1]) == {"exogenous"}
    exposure = int(spells.duration.sum())
    events = int(spells.event.sum())
    assert exposure == len(seeds) * n * (n - 1) // 2 * (steps - 1)  # never a month off risk

    mean, se = exposure / events, math.sqrt(p * (1 - p) / exposure) / p**2
    assert abs(mean - 1 / p) < 4 * se, (mean, 1 / p, se)

    def hazard(ages) -> tuple[float, float]:
        at_risk = sum(int((spells.duration >= a).sum()) for a in ages)
        ended = sum(int(((spells.duration == a) & (spells.event == 1)).sum()) for a in ages)
        return ended / at_risk, math.sqrt(p * (1 - p) / at_risk)

    for ages in ([1], range(int(1 / p), int(3 / p))):
        h, h_se = hazard(ages)
        assert abs(h - p) < 4 * h_se, (list(ages)[:3], h, p, h_se)
