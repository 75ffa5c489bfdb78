"""The numba kernel against oracles: its own interpreted Python, the reference equations of
MODEL.md §3 written out in NumPy, and the order and timing rules of the ends (item 9)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from model.alliance_model import AllianceModel
from model.arrays import SpellTable, WorldArrays
from model.kernel import MIN_AGENDA, flows_and_credibility, prepare_values, update_strength
from model.parameters import Parameters
from model.rng import _P_LOW, fill_normals, normal, normal_probability, step_key
from model.scenario import build_world, parse_scenario

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------ batched normal draws


def test_batched_normals_equal_one_draw_at_a_time_in_both_tails() -> None:
    """The drift's vectorised draws (fill_normals) are the numbers of one normal() call each,
    bit for bit, the tails (redone one by one) included."""
    n_agents, n_dims = 40, 7
    out = np.empty(n_agents * n_dims)
    scratch = np.empty_like(out)
    tails = {"low": 0, "high": 0}
    for seed in range(6):
        key = np.uint64(step_key(np.uint64(12345 + seed), 2, seed))
        fill_normals(key, n_agents, n_dims, scratch, out)
        expected = np.array([normal(key, a, d) for a in range(n_agents) for d in range(n_dims)])
        np.testing.assert_array_equal(out, expected)
        p = np.array(
            [normal_probability(key, a, d) for a in range(n_agents) for d in range(n_dims)]
        )
        tails["low"] += int((p < _P_LOW).sum())
        tails["high"] += int((p > 1.0 - _P_LOW).sum())
    assert tails["low"] > 10 and tails["high"] > 10, tails  # both tail branches were exercised


# ------------------------------------------------------------------------ compiled vs interpreted

# A small world that exercises every branch of a step within 48 months: dated sets, forced acts,
# scenario starts (a renewing and an expiring treaty) and a scenario end, endogenous formation,
# hollowing, abrogation, exogenous ends, complicity through supply, and a frozen state.
SHORT_WORLD = {
    "scenario": {
        "name": "short",
        "start": "2000-01",
        "steps": 48,
        "norms": ["sovereignty", "non_proliferation"],
        "resources": ["arms", "tech"],
    },
    "parameters": {
        "upkeep": 0.12,
        "h_exo": 0.02,
        "rho": 0.5,
        "u_form": -0.1,
        "cooldown": 3,
        "treaty_share": 0.5,
        "treaty_term_years": 1.0,
        "kappa_pact": 4.0,
        "sigma": 0.1,
        "sigma_tension": 0.2,
        # A floor low enough to leave every kind of end in so small a world (it still turns
        # away a third of the spells); a spread wide enough that starting strengths matter.
        "benefit_floor": 0.04,
        "w_init_spread": 0.1,
    },
    "implicates": {"arms": {"sovereignty": 0.8}, "tech": {"non_proliferation": 0.9}},
    "states": [
        {
            "name": "A",
            "power": 0.3,
            "risk": 0.7,
            "tension": 2.5,
            "rivals": ["E"],
            "principles": {"sovereignty": 0.8, "non_proliferation": 0.9},
            "conduct": {"sovereignty": 0.5},
            "needs": {"arms": 0.9},
            "supply": {"tech": 0.8},
        },
        {
            "name": "B",
            "power": 0.1,
            "risk": 0.9,
            "tension": 2.0,
            "principles": {"sovereignty": 0.95},
            "conduct": {"non_proliferation": 0.4},
            "needs": {"tech": 0.8},
            "supply": {"arms": 0.8},
        },
        {
            "name": "C",
            "power": 0.2,
            "risk": 0.3,
            "tension": 0.5,
            "tension_initial": 1.5,
            "principles": {"sovereignty": 0.9, "non_proliferation": 0.6},
            "needs": {"tech": 0.3},
            "supply": {"arms": 0.5, "tech": 0.6},
        },
        {
            "name": "D",
            "power": 0.2,
            "risk": 0.2,
            "tension": 0.8,
            "principles": {"sovereignty": 0.7, "non_proliferation": 0.7},
            "conduct": {"sovereignty": 0.1},
            "needs": {"arms": 0.4},
            "supply": {"tech": 0.4},
            "credibility": {"sovereignty": 0.7},
        },
        {
            "name": "E",
            "power": 0.2,
            "risk": 0.1,
            "tension": 2.5,
            "principles": {"sovereignty": 1.0},
            "needs": {"arms": 0.7, "tech": 0.5},
            "credibility": {"non_proliferation": 0.5},
        },
    ],
    "partnerships": [
        {"members": ["C", "D"], "kind": "treaty", "term_years": 1, "renewal": True},
        {"members": ["B", "E"], "kind": "treaty", "term_years": 0.5},
    ],
    "events": [
        {
            "date": "2000-06",
            "name": "summit",
            "effects": [
                {"members": ["A", "B"], "partnership": "start"},
                {"state": "A", "set": "needs.arms", "value": 1.0},
            ],
        },
        {
            "date": "2000-09",
            "name": "invasion",
            "effects": [{"state": "A", "act": "sovereignty", "intensity": 8, "months": 2}],
        },
        {
            "date": "2001-03",
            "name": "calm",
            "effects": [
                {"state": "A", "set": "tension", "value": 0.3},
                {"state": "B", "set": "conduct.non_proliferation", "value": 0.0},
            ],
        },
        {
            "date": "2001-06",
            "name": "rupture",
            "effects": [{"members": ["C", "D"], "partnership": "end"}],
        },
    ],
}


def simulate_to(document_path: str, out: str) -> None:
    """Run SHORT_WORLD (seed 11, state D frozen) and save spells and series under ``out``.

    Called in this process (compiled kernel) and in a subprocess with NUMBA_DISABLE_JIT=1
    (every @njit function runs as the plain Python it is written in).
    """
    document = json.loads(Path(document_path).read_text())
    spec = parse_scenario(document, text="", source="<kernel-test>")
    model = AllianceModel(scenario=spec, rng=11, frozen=["D"]).simulate()
    model.spells_frame().to_csv(Path(out) / "spells.csv", index=False)
    (Path(out) / "engine.txt").write_text("interpreted" if numba.config.DISABLE_JIT else "compiled")
    n = int(model.spells.count[0])
    np.savez(
        Path(out) / "series.npz",
        **model.records._asdict(),
        needs=model.world.needs,
        strength=model.spells.strength[:n],
        value_smoothed=model.spells.value_smoothed[:n],
    )


def test_compiled_kernel_equals_interpreted_python(tmp_path: Path) -> None:
    document = tmp_path / "world.json"
    document.write_text(json.dumps(SHORT_WORLD))
    (tmp_path / "jit").mkdir()
    (tmp_path / "py").mkdir()
    simulate_to(str(document), str(tmp_path / "jit"))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from test_kernel import simulate_to; simulate_to(sys.argv[2], sys.argv[3])"
    )
    # Integer hashing in interpreted numpy wraps around on purpose; silence its overflow notes.
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONWARNINGS": "ignore::RuntimeWarning"}
    subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            str(document),
            str(tmp_path / "py"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (tmp_path / "jit" / "engine.txt").read_text() == "compiled"
    assert (tmp_path / "py" / "engine.txt").read_text() == "interpreted"
    jit = pd.read_csv(tmp_path / "jit" / "spells.csv", keep_default_na=False)
    py = pd.read_csv(tmp_path / "py" / "spells.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(jit, py, check_exact=True)
    # The run must exercise what it is meant to (else the comparison proves little).
    assert len(jit) >= 6 and {"expiry", "scenario", "exogenous"} <= set(jit.cause), jit.cause
    assert set(jit.cause) & {"interest", "principles", "entrapment"}, "no abrogation"
    a, b = np.load(tmp_path / "jit" / "series.npz"), np.load(tmp_path / "py" / "series.npz")
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-14, err_msg=name)


# --------------------------------------------------------------------------- reference equations


def reference_value(i, j, endorsement, complicity, w: WorldArrays, p: Parameters):
    """MODEL.md §3 item 7, written from the card: (U, interest, principles, entrapment)."""
    b_mat = float(np.sum(w.needs[i] * w.supply[j])) / w.needs.shape[1]
    agenda = float(np.sum(w.principles[i]))
    if agenda >= MIN_AGENDA:  # "0 if Π_i = 0"; a subnormal Π_i counts as 0 (docs/ODD.md)
        b_norm = float(np.sum(w.principles[i] * w.principles[j] * w.credibility[j])) / agenda
        cost = np.minimum(1.0, endorsement * w.recent_conduct[j] + complicity)
        x_cred = float(np.sum(w.principles[i] * cost)) / agenda
    else:
        b_norm = x_cred = 0.0
    t = w.tension[i]
    b_brink = p.lambda_brink * w.risk[j] * t / (1 + t)
    x_trap = p.eta_trap * w.risk[j] / (1 + t)
    weight = t / (t + p.t_half)
    interest = weight * (b_mat + b_brink)
    principles = (1 - weight) * (b_norm - x_cred)
    return interest + principles - x_trap - p.upkeep, interest, principles, -x_trap


def blank_world(n: int, k: int, m: int) -> WorldArrays:
    """Kernel arrays of an n-state world with k norms and m resources (contents to overwrite)."""
    spec = parse_scenario(
        {
            "scenario": {"name": "blank", "start": "2000-01", "steps": 1,
                         "norms": [f"n{x}" for x in range(k)],
                         "resources": [f"r{x}" for x in range(m)]},
            "states": [{"name": f"s{i}", "power": 0.1, "risk": 0.0, "tension": 0.0}
                       for i in range(n)],
        },
        text="",
        source="<blank>",
    )  # fmt: skip
    return build_world(spec)[0]


@st.composite
def kernel_states(draw):
    """Random world arrays with a few active spells (as the kernel sees them mid-step)."""
    n, k, m = draw(st.integers(2, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    unit = st.floats(0.0, 1.0)
    w = blank_world(n, k, m)

    def fill(name, elements=unit):
        array = getattr(w, name)
        array[...] = draw(hnp.arrays(array.dtype, array.shape, elements=elements))

    for name in (
        "principles",
        "conduct",
        "needs",
        "needs_baseline",
        "supply",
        "credibility",
        "risk",
        "implicates",
    ):
        fill(name)
    fill("tension", st.floats(0.0, 10.0))
    fill("tension_baseline", st.floats(0.0, 10.0))
    fill("acts", st.floats(0.0, 10.0))
    fill("recent_conduct", st.floats(0.0, 3.0))
    fill("frozen", st.booleans())
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    sp = SpellTable.empty(8, k)
    for row, (a, b) in enumerate(chosen):
        if row == sp.capacity:
            break
        sp.member_a[row], sp.member_b[row] = a, b
        sp.strength[row] = draw(unit)
        sp.value_smoothed[row] = draw(st.floats(-1.0, 1.0))
        sp.distancing[row] = [draw(unit), draw(unit)]
        sp.active[row] = row
        sp.count[0] = sp.n_active[0] = row + 1
        w.pair_spell[a, b] = w.pair_spell[b, a] = row
    params = Parameters(
        alpha=draw(st.floats(0.0, 2.0)),
        beta=draw(st.floats(0.0, 0.5)),
        lambda_brink=draw(st.floats(0.0, 2.0)),
        eta_trap=draw(st.floats(0.0, 2.0)),
        t_half=draw(st.floats(0.01, 10.0)),
        upkeep=draw(st.floats(0.0, 1.0)),
        gamma=draw(st.floats(0.0, 2.0)),
    )
    return w, sp, params


TIGHT = {"rtol": 1e-12, "atol": 1e-12}


@settings(max_examples=80, deadline=None)
@given(state=kernel_states())
def test_flows_credibility_and_strength_match_the_reference_equations(state) -> None:
    """Items 3–6 (flows, complicity, endorsement E = W(1 - d), contradiction, credibility),
    item 7 (each side's value and its components) and item 8 (strength and smoothed value), all
    states and spells at once."""
    w, sp, p = state
    n, k = w.credibility.shape
    active = sp.active[: sp.n_active[0]]
    strength = np.zeros((n, n))
    endorsement = np.zeros((n, n))  # E[i, j]: i's endorsement of j's acts
    for s in active:
        a, b = sp.member_a[s], sp.member_b[s]
        strength[a, b] = strength[b, a] = sp.strength[s]
        endorsement[a, b] = sp.strength[s] * (1 - sp.distancing[s, 0])
        endorsement[b, a] = sp.strength[s] * (1 - sp.distancing[s, 1])
    flow = strength[:, :, None] * np.minimum(
        w.supply[:, None, :], w.needs[None, :, :]
    )  # F[i->j, m]
    q = np.einsum("ijm,mk,jk->ijk", flow, w.implicates, w.recent_conduct)
    contradiction = w.principles * (w.acts + endorsement @ w.acts + q.sum(axis=1))
    c = w.credibility
    eroded = np.clip(
        c * np.exp(-p.alpha * contradiction) + p.beta * (1 - c) * np.exp(-contradiction), 0, 1
    )
    credibility = np.where(w.frozen[:, None], c, eroded)

    before = sp.strength.copy(), sp.value_smoothed.copy()
    params = p.to_array()
    flows_and_credibility(w, sp, params)
    np.testing.assert_allclose(w.contradiction, contradiction, **TIGHT)
    np.testing.assert_allclose(w.credibility, credibility, **TIGHT)
    for s in active:
        a, b = sp.member_a[s], sp.member_b[s]
        np.testing.assert_allclose(sp.pair_complicity[s, 0], q[a, b], **TIGHT)
        np.testing.assert_allclose(sp.pair_complicity[s, 1], q[b, a], **TIGHT)

    prepare_values(w, params)
    update_strength(w, sp, params)
    for s in active:
        a, b = sp.member_a[s], sp.member_b[s]
        u_ab = reference_value(a, b, endorsement[a, b], q[a, b], w, p)[0]
        u_ba = reference_value(b, a, endorsement[b, a], q[b, a], w, p)[0]
        binding = min(u_ab, u_ba)
        expected = min(1.0, max(0.0, before[0][s] + p.gamma * binding))
        np.testing.assert_allclose(sp.strength[s], expected, **TIGHT)
        # Each side's (interest, principles, entrapment): summed over the first year, from 0.
        for side, (i, j) in enumerate([(a, b), (b, a)]):
            value = reference_value(i, j, endorsement[i, j], q[i, j], w, p)
            np.testing.assert_allclose(sp.first_components[s, side], value[1:], **TIGHT)
            np.testing.assert_allclose(sp.side_value[s, side], value[0] / 12, **TIGHT)
        np.testing.assert_allclose(
            sp.value_smoothed[s], before[1][s] + (binding - before[1][s]) / 12, **TIGHT
        )


# --------------------------------------------------------------------------- ends (item 9)


def pair_world(parameters: dict, partnership: dict, *, steps: int = 40, events=()) -> AllianceModel:
    """Two states partnered from month 0, no noise, no formation; partnership options given."""
    state = {
        "power": 0.5,
        "risk": 0.0,
        "tension": 1.0,
        "needs": {"arms": 0.5},
        "supply": {"arms": 0.5},
    }
    spec = parse_scenario(
        {
            "scenario": {
                "name": "pair",
                "start": "2000-01",
                "steps": steps,
                "norms": ["sovereignty"],
                "resources": ["arms"],
            },
            "parameters": {"rho": 0.0, "sigma": 0.0, "sigma_tension": 0.0, **parameters},
            "states": [{"name": "A", **state}, {"name": "B", **state}],
            "partnerships": [{"members": ["A", "B"], **partnership}],
            "events": list(events),
        },
        text="",
        source="<pair>",
    )
    return AllianceModel(scenario=spec, rng=5).simulate()


def only_spell(model: AllianceModel) -> pd.Series:
    frame = model.spells_frame()
    assert len(frame) == 1
    return frame.iloc[0]


def test_a_spell_is_at_risk_from_the_month_after_it_starts() -> None:
    spell = only_spell(pair_world({"h_exo": 1.0, "gamma": 0.0}, {"start": "2000-04"}))
    assert (spell.start_step, spell.formal_end_step, spell.cause) == (3, 4, "exogenous")
    assert spell.functional_end_step == 4  # a formal end is also the functional end


def test_a_treaty_expires_at_its_term_or_renews_while_not_hollow() -> None:
    expiring = only_spell(pair_world({"gamma": 0.0}, {"kind": "treaty", "term_years": 1}))
    assert (expiring.formal_end_step, expiring.cause, expiring.term_months) == (12, "expiry", 12)
    renewing = only_spell(
        pair_world({"gamma": 0.0}, {"kind": "treaty", "term_years": 1, "renewal": True})
    )
    assert renewing.event == 0 and renewing.duration == 39
    # A hollow treaty is not renewed: it expires at the first term end after hollowing.
    hollow = only_spell(
        pair_world(
            {"gamma": 0.0, "kappa_treaty": 0.0},
            {"kind": "treaty", "term_years": 1, "renewal": True, "strength": 0.1},
        )
    )
    assert (hollow.functional_end_step, hollow.formal_end_step, hollow.cause) == (1, 12, "expiry")


def test_abrogation_needs_a_hollow_spell_and_negative_smoothed_value() -> None:
    """The reference form's rule (abrogate_before_hollow = 0); the defaults' early abrogation
    drops the first condition only."""
    reference = {"gamma": 0.0, "kappa_pact": 100.0, "abrogate_before_hollow": 0}
    # Value is negative (upkeep 1) but strength is frozen above w_func: never abrogated.
    solid = only_spell(pair_world({**reference, "upkeep": 1.0}, {}))
    assert solid.event == 0 and solid.functional_event == 0
    # The same with strength starting hollow: abrogated in the first month at risk, since
    # kappa * max(0, -Ubar) >= 1 there.
    hollow = only_spell(pair_world({**reference, "upkeep": 1.0}, {"strength": 0.1}))
    assert (hollow.functional_end_step, hollow.formal_end_step) == (1, 1)
    assert hollow.cause in ("interest", "principles", "entrapment")
    # Hollow but valued (Ubar > 0): hollow for ever, never abrogated.
    valued = only_spell(pair_world({**reference, "upkeep": 0.0}, {"strength": 0.1}))
    assert valued.functional_event == 1 and valued.event == 0
    # With the defaults' early abrogation, the solid spell of negative value is abrogated in its
    # first month at risk while still strong; a valued one is not.
    early = {**reference, "abrogate_before_hollow": 1}
    solid = only_spell(pair_world({**early, "upkeep": 1.0}, {}))
    assert (solid.formal_end_step, solid.functional_end_step) == (1, 1)
    assert solid.cause in ("interest", "principles", "entrapment")
    assert only_spell(pair_world({**early, "upkeep": 0.0}, {})).event == 0
    assert Parameters().abrogate_before_hollow == 1


def test_cooldown_blocks_reformation_for_exactly_its_length() -> None:
    events = [
        {
            "date": "2000-03",
            "name": "split",
            "effects": [{"members": ["A", "B"], "partnership": "end"}],
        }
    ]
    model = pair_world(
        {"rho": 1.0, "u_form": -10.0, "cooldown": 7, "gamma": 0.0}, {}, events=events
    )
    frame = model.spells_frame()
    assert frame.start_step.tolist() == [0, 2 + 7]
    assert frame.cause.tolist() == ["scenario", ""]


# --------------------------------------------------------------------------- formation (item 10)


def friendly_world(n: int, parameters: dict, steps: int = 1):
    """n identical non-rival states that value each other (U = 0.25·w − upkeep > u_form)."""
    state = {
        "power": 0.1,
        "risk": 0.0,
        "tension": 1.0,
        "needs": {"arms": 0.5},
        "supply": {"arms": 0.5},
    }
    return parse_scenario(
        {
            "scenario": {"name": "friends", "start": "2000-01", "steps": steps,
                         "norms": ["sovereignty"], "resources": ["arms"]},
            "parameters": {"u_form": -10.0, **parameters},
            "states": [{"name": f"s{i:02d}", **state} for i in range(n)],
        },
        text="",
        source="<friends>",
    )  # fmt: skip


def test_formation_probability_is_rho_for_every_pair() -> None:
    """Each qualifying pair forms with probability rho per month, wherever it sits in the pair
    order. 40 states (780 pairs) x 20 seeds, first month only: the share formed must be within
    4 binomial standard errors of rho, and the mean row-major position of the formed pairs within
    4 standard errors of the middle (uniform positions: sd = n_pairs / sqrt(12))."""
    rho, n, seeds = 0.2, 40, range(20)
    spec = friendly_world(n, {"rho": rho})
    n_pairs = n * (n - 1) // 2
    positions = []
    for seed in seeds:
        sp = AllianceModel(scenario=spec, rng=seed).simulate().spells
        a, b = sp.member_a[: sp.count[0]], sp.member_b[: sp.count[0]]
        positions += (a * (2 * n - a - 1) // 2 + (b - a - 1)).tolist()
    trials = n_pairs * len(seeds)
    share = len(positions) / trials
    assert abs(share - rho) < 4 * math.sqrt(rho * (1 - rho) / trials), share
    middle, sd = (n_pairs - 1) / 2, n_pairs / math.sqrt(12)
    assert abs(np.mean(positions) - middle) < 4 * sd / math.sqrt(len(positions))
    assert len(set(positions)) > 0.9 * n_pairs  # no pair is out of reach


def test_formation_with_a_vanishing_probability_stays_in_bounds() -> None:
    """Regression (fixed in 3c3a506): for a tiny admissible rho the candidate gap overflowed
    int64 in compiled code and formation wrote outside the pair matrix."""
    for rho in (5e-324, 1e-240, 1e-18):
        model = AllianceModel(scenario=friendly_world(6, {"rho": rho}, steps=24), rng=1).simulate()
        assert model.spells.count[0] == 0
    everyone = AllianceModel(scenario=friendly_world(6, {"rho": 1.0}), rng=1).simulate()
    assert everyone.spells.count[0] == 15
