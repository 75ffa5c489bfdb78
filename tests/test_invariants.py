"""MODEL.md §4 invariants under hypothesis-generated worlds, parameters and events.

Worlds are small scenario documents (2–5 states, 1–3 norms and resources, random vectors, random
rivals, starting partnerships and dated events) passed through ``parse_scenario`` like a file, with
every parameter drawn inside ``Parameters.describe()`` ranges. Each example steps the model through
Mesa (``model.step()``) and checks the state after every step.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.alliance_model import AllianceModel
from model.arrays import EV_START, SpellTable, WorldArrays
from model.kernel import flows_and_credibility
from model.parameters import Parameters
from model.scenario import Scenario, parse_scenario

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

UNIT = st.floats(0.0, 1.0)


def month(offset: int) -> str:
    """The scenario month ``offset`` months after 2000-01, as "YYYY-MM"."""
    return f"{2000 + offset // 12:04d}-{offset % 12 + 1:02d}"


# Sub-ranges where the dynamics are interesting (formation, hollowing, ends happen within a few
# years); each parameter is drawn from its default, this sub-range or its whole admissible range.
TYPICAL = {
    "alpha": (0.0, 0.5),
    "beta": (0.0, 0.05),
    "t_half": (0.1, 5.0),
    "upkeep": (0.0, 0.4),
    "gamma": (0.0, 1.0),
    "kappa_treaty": (0.0, 3.0),
    "kappa_pact": (0.0, 5.0),
    "u_form": (-1.0, 0.1),
    "rho": (0.2, 1.0),
    "treaty_share": (0.3, 1.0),
    "h_exo": (0.0, 0.05),
    "sigma": (0.0, 0.3),
    "sigma_tension": (0.0, 0.5),
    "intensity": (1.0, 20.0),
}


INTEGER = {f.name for f in dataclasses.fields(Parameters) if f.metadata.get("integer")}


@st.composite
def parameters(draw, **fixed: float) -> dict[str, float]:
    """A dict of every parameter, each inside its ``Parameters.describe()`` range."""
    out: dict[str, float] = {}
    for name, d in Parameters.describe().items():
        if name in ("w_init", "w_func"):
            continue
        low, high = d["low"], d["high"]
        if name in INTEGER:  # switches and counts; counts capped so that they bite in a short run
            out[name] = float(draw(st.integers(int(low), int(min(high, low + 36)))))
        elif name == "treaty_term_years":
            out[name] = draw(st.one_of(st.just(0.0), st.floats(0.0, 2.0)))
        else:
            options = [st.just(float(d["default"])), st.floats(low, high)]
            if name in TYPICAL:
                options.append(st.floats(*TYPICAL[name]))
            out[name] = draw(st.one_of(options))
    out["w_func"] = draw(UNIT)
    out["w_init"] = draw(st.floats(out["w_func"], 1.0))
    out.update(fixed)
    Parameters(**out)  # admissible by construction; fail loudly if the strategy drifts
    return out


@st.composite
def scenarios(draw, *, with_credibility: bool = True, **fixed: float) -> Scenario:
    """A small valid world: random vectors, rivals, starting partnerships and dated events."""
    n = draw(st.integers(2, 5))
    norms = [f"n{k}" for k in range(draw(st.integers(1, 3)))]
    resources = [f"r{m}" for m in range(draw(st.integers(1, 3)))]
    steps = draw(st.integers(1, 60))
    names = [f"s{i}" for i in range(n)]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    rival_pairs = draw(st.sets(st.sampled_from(pairs), max_size=len(pairs)))
    friendly = [p for p in pairs if p not in rival_pairs]

    def vector(keys: list[str]) -> dict[str, float]:
        return {key: draw(UNIT) for key in draw(st.lists(st.sampled_from(keys), unique=True))}

    states = []
    for i in range(n):
        state = {
            "name": names[i],
            "power": draw(st.floats(1e-3, 1.0)),
            "risk": draw(UNIT),
            "tension": draw(st.floats(0.0, 6.0)),
            "tension_initial": draw(st.floats(0.0, 6.0)),
            "principles": vector(norms),
            "conduct": vector(norms),
            "needs": vector(resources),
            "needs_initial": vector(resources),
            "supply": vector(resources),
            "rivals": [names[b] for a, b in rival_pairs if a == i],
        }
        if with_credibility:
            state["credibility"] = vector(norms)
        states.append(state)

    def effect(step: int) -> dict:
        i = draw(st.sampled_from(names))
        kind = draw(st.sampled_from(["set", "set_scalar", "act", "start", "end"]))
        if kind == "set":
            field = draw(st.sampled_from(["needs", "supply", "principles", "conduct"]))
            dims = resources if field in ("needs", "supply") else norms
            return {
                "state": i,
                "set": f"{field}.{draw(st.sampled_from(dims))}",
                "value": draw(UNIT),
            }
        if kind == "set_scalar":
            field = draw(st.sampled_from(["tension", "risk"]))
            value = draw(st.floats(0.0, 6.0)) if field == "tension" else draw(UNIT)
            return {"state": i, "set": field, "value": value}
        if kind == "act":
            return {
                "state": i,
                "act": draw(st.sampled_from(norms)),
                "intensity": draw(st.floats(1.0, 20.0)),
                "months": draw(st.integers(1, 6)),
            }
        if not friendly:
            return {"state": i, "set": "risk", "value": draw(UNIT)}
        a, b = draw(st.sampled_from(friendly))
        members = [names[a], names[b]]
        if kind == "end":
            return {"members": members, "partnership": "end"}
        treaty = draw(st.booleans())
        start = {"members": members, "partnership": "start", "kind": "treaty" if treaty else "pact"}
        if treaty:
            start["term_years"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
            start["renewal"] = draw(st.booleans())
        return start

    events = []
    for e in range(draw(st.integers(0, 4))):
        step = draw(st.integers(0, steps - 1))
        events.append({"date": month(step), "name": f"event{e}", "effects": [effect(step)]})

    document = {
        "scenario": {
            "name": "generated",
            "start": month(0),
            "steps": steps,
            "norms": norms,
            "resources": resources,
        },
        "parameters": draw(parameters(**fixed)),
        "implicates": {r: vector(norms) for r in resources},
        "states": states,
        "partnerships": [
            {"members": [names[a], names[b]], "kind": draw(st.sampled_from(["treaty", "pact"]))}
            for a, b in draw(
                st.lists(st.sampled_from(friendly), unique=True, min_size=1, max_size=3)
            )
        ]
        if friendly
        else [],
        "events": events,
    }
    return parse_scenario(document, text="", source="<generated>")


def finite(array: np.ndarray) -> bool:
    return bool(np.isfinite(array).all())


def check_state(model: AllianceModel) -> None:
    """Invariants that hold after every step."""
    w, sp = model.world, model.spells
    for name, array in w._asdict().items():
        if array.dtype.kind == "f":
            assert finite(array), f"world.{name} has NaN or inf"
    assert ((w.credibility >= 0.0) & (w.credibility <= 1.0)).all()
    assert ((w.needs >= 0.0) & (w.needs <= 1.0)).all()
    assert (w.tension >= 0.0).all()
    rows = sp.active[: sp.n_active[0]]
    strength = sp.strength[rows]
    assert finite(strength) and ((strength >= 0.0) & (strength <= 1.0)).all()
    assert finite(sp.value_smoothed[rows])
    # Partnerships are symmetric, match the active list, and never join rivals.
    np.testing.assert_array_equal(w.pair_spell, w.pair_spell.T)
    assert (w.pair_spell[w.rivals] == -1).all()
    assert (np.diagonal(w.pair_spell) == -1).all()
    assert sorted(w.pair_spell[w.pair_spell >= 0].tolist()) == sorted(2 * rows.tolist())
    for row in rows:
        assert w.pair_spell[sp.member_a[row], sp.member_b[row]] == row


def check_spells(model: AllianceModel) -> None:
    """Invariants of the finished run's spell table and its spells frame."""
    spec, sp = model.scenario_spec, model.spells
    frame = model.spells_frame()
    n = int(sp.count[0])
    assert len(frame) == n
    start, formal, functional = frame.start_step, frame.formal_end_step, frame.functional_end_step
    assert (sp.member_a[:n] < sp.member_b[:n]).all()
    assert not model.world.rivals[sp.member_a[:n], sp.member_b[:n]].any(), "rivals partnered"
    ended = formal >= 0
    assert (formal[ended] >= start[ended]).all()
    assert (functional[ended] >= start[ended]).all()
    assert (functional[ended] <= formal[ended]).all()
    hollowed = functional >= 0
    assert (functional[hollowed] >= start[hollowed]).all()
    # Right-censoring: a spell active after the last step is never reported as ended.
    last = model.steps_done - 1
    active = set(sp.active[: sp.n_active[0]].tolist())
    assert set(np.flatnonzero(~ended.to_numpy()).tolist()) == active
    censored = frame[~ended]
    assert (censored.event == 0).all() and (censored.cause == "").all()
    assert (censored.duration == last - censored.start_step).all()
    assert (frame[ended].event == 1).all() and (frame[ended].cause != "").all()
    assert (frame[ended].duration == formal[ended] - start[ended]).all()
    # No pair re-forms within the cooldown (scenario-dated starts are exempt: they are history).
    cooldown = spec.parameters.cooldown
    dated = {(r.a, r.b, r.step) for r in spec.events if r.kind == EV_START}
    by_pair: dict[tuple[int, int], list[int]] = {}
    for row in range(n):
        by_pair.setdefault((int(sp.member_a[row]), int(sp.member_b[row])), []).append(row)
    for (a, b), spell_rows in by_pair.items():
        for before, after in zip(spell_rows, spell_rows[1:], strict=False):
            assert sp.formal_end[before] >= 0, "a pair had two active spells"
            assert sp.start[after] >= sp.formal_end[before]
            if (a, b, int(sp.start[after])) not in dated:
                assert sp.start[after] - sp.formal_end[before] >= cooldown


@SETTINGS
@given(spec=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_invariants_hold_after_every_step(spec: Scenario, seed: int) -> None:
    model = AllianceModel(scenario=spec, rng=seed)
    for _ in range(spec.steps):
        before = model.world.credibility.copy()
        model.step()
        check_state(model)
        # A state with no contradiction this step never loses credibility.
        calm = model.world.contradiction == 0.0
        assert (model.world.credibility[calm] >= before[calm]).all()
    check_spells(model)
    for name, array in model.records._asdict().items():
        assert finite(array), f"records.{name} has NaN or inf"


@SETTINGS
@given(spec=scenarios(with_credibility=False, alpha=0.0), seed=st.integers(0, 2**32 - 1))
def test_no_erosion_keeps_full_credibility(spec: Scenario, seed: int) -> None:
    """alpha = 0 and credibility starting at 1: credibility never changes (MODEL.md §4)."""
    model = AllianceModel(scenario=spec, rng=seed).simulate()
    assert (model.records.state_credibility == 1.0).all()
    assert (model.world.credibility == 1.0).all()


@SETTINGS
@given(spec=scenarios(alpha=0.0), seed=st.integers(0, 2**32 - 1))
def test_no_erosion_never_lowers_credibility(spec: Scenario, seed: int) -> None:
    """alpha = 0 from any start: only the recovery term acts, so credibility never falls."""
    model = AllianceModel(scenario=spec, rng=seed).simulate()
    series = np.concatenate([_initial(spec)[None], model.records.state_credibility])
    assert (np.diff(series, axis=0) >= 0.0).all()


def _initial(spec: Scenario) -> np.ndarray:
    return np.array([s.credibility for s in spec.states])


@SETTINGS
@given(spec=scenarios(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_frozen_states_keep_their_credibility(spec: Scenario, seed: int, data) -> None:
    names = spec.state_names
    frozen = data.draw(st.one_of(st.just(True), st.lists(st.sampled_from(names), unique=True)))
    model = AllianceModel(scenario=spec, rng=seed, frozen=frozen).simulate()
    mask = np.ones(len(names), bool) if frozen is True else np.isin(names, frozen)
    start = _initial(spec)
    series = model.records.state_credibility
    np.testing.assert_array_equal(
        series[:, mask], np.broadcast_to(start[mask], series[:, mask].shape)
    )


def _copy_world(world: WorldArrays) -> WorldArrays:
    return WorldArrays(*(a.copy() for a in world))


def _copy_spells(spells: SpellTable) -> SpellTable:
    return SpellTable(*(a.copy() for a in spells))


@SETTINGS
@given(spec=scenarios(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_more_contradiction_never_leaves_more_credibility(spec: Scenario, seed: int, data) -> None:
    """Monotonicity, all else equal: raise one state's acts in a step (which raises its own
    contradiction and its partners'), and no credibility ends that step higher."""
    model = AllianceModel(scenario=spec, rng=seed)
    model.simulate(data.draw(st.integers(0, spec.steps), label="warm-up steps"))
    n, k = model.world.credibility.shape
    i = data.draw(st.integers(0, n - 1), label="state")
    norm = data.draw(st.integers(0, k - 1), label="norm")
    extra = data.draw(st.floats(1e-6, 20.0), label="extra acts")
    params = model.param_array
    base_w, base_sp = _copy_world(model.world), _copy_spells(model.spells)
    more_w, more_sp = _copy_world(model.world), _copy_spells(model.spells)
    more_w.acts[i, norm] += extra
    flows_and_credibility(base_w, base_sp, params)
    flows_and_credibility(more_w, more_sp, params)
    assert (more_w.contradiction >= base_w.contradiction).all()
    if model.world.principles[i, norm] >= 1e-3:
        assert more_w.contradiction[i, norm] > base_w.contradiction[i, norm]
    assert (more_w.credibility <= base_w.credibility).all()
