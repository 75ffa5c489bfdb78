"""Speed of the numba step kernel against a plain-Python per-agent reference of the same step.

Run from the repository root (prints only; nothing here asserts a speed)::

    NUMBA_CACHE_DIR=.numba-cache uv run python benchmarks/bench_kernel.py

1. Time per month at N = 20, 200 and 2000 states (synthetic worlds, model/synthetic.py, after a
   24-month warm-up so that partnerships exist): the kernel (``run_steps``) against a reference
   written the way a plain Mesa model would be, agents looping over their partners in Python,
   with the same counter-based draws. Target: the kernel >= 50x faster at N = 200. At N = 2000
   only a few reference months are timed.
2. Whole runs of 20 states x 600 months per second on one core: ``AllianceModel(...).simulate()``
   (Mesa set-up included), ``model.simulation.simulate_arrays`` (the batch engine's unit) and the
   bare ``run_steps`` call on preallocated copies. Target: >= 500 runs/s.
3. ``--phases``: where a month of the 20-state world goes, phase by phase (ns per month).

Times are CPU time of this process (``time.process_time``), so other load on the machine does not
inflate them.

Before timing, one reference month and one kernel month run from the same state and must agree
(credibility, needs, tension, strengths, ends and new partnerships), so the ratio compares equal
work; the script exits with status 1 if they do not.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from model.alliance_model import AllianceModel
from model.arrays import (
    CAUSE_EXOGENOUS,
    CAUSE_EXPIRY,
    CAUSE_INTEREST,
    NEVER,
    Records,
    SpellTable,
    WorldArrays,
)
from model.kernel import MIN_AGENDA, STEP_DONE, run_steps
from model.rng import (
    STREAM_ABROGATE,
    STREAM_ACT,
    STREAM_EXOGENOUS,
    STREAM_FORM,
    STREAM_NEED,
    STREAM_SPELL_KIND,
    STREAM_SPELL_STRENGTH,
    STREAM_TENSION,
    normal_quantile,
)
from model.simulation import advance, copy_world, simulate_arrays
from model.synthetic import synthetic_scenario

WARM_UP = 24  # months simulated before timing, so that partnerships exist
# CPU time of this process: other work on a shared machine does not inflate it (numba runs this
# kernel on one thread, so CPU time is the time of one core).
clock = time.process_time
SMOOTHING = 12.0

# --------------------------------------------------------------------- the same draws, in Python

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
INV_2_53 = 1.0 / 9007199254740992.0
quantile = normal_quantile.py_func  # plain Python (floats only)


def mix64(z: int) -> int:
    z = (z + GOLDEN) & MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def step_key(seed: int, stream: int, step: int) -> int:
    return mix64(mix64(seed ^ ((stream * GOLDEN) & MASK)) ^ step)


def uniform1(key: int, agent: int) -> float:
    return (mix64(key ^ agent) >> 11) * INV_2_53


def uniform(key: int, agent: int, dim: int) -> float:
    return (mix64(mix64(key ^ agent) ^ dim) >> 11) * INV_2_53


def normal(key: int, agent: int, dim: int) -> float:
    return quantile(((mix64(mix64(key ^ agent) ^ dim) >> 11) + 0.5) * INV_2_53)


def clip01(v: float) -> float:
    return 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)


# --------------------------------------------------------------------------- the reference


class RefSpell:
    """One partnership, as a plain object."""

    def __init__(self, a: int, b: int, start: int) -> None:
        self.a, self.b, self.start = a, b, start
        self.strength = self.value_smoothed = self.kappa = 0.0
        self.side_value = [0.0, 0.0]
        self.first = [[0.0] * 3, [0.0] * 3]
        self.recent = [[0.0] * 3, [0.0] * 3]
        self.updates = self.term = self.term_end = 0
        self.renew = self.treaty = False
        self.functional_end = self.formal_end = -1
        self.cause = 0
        self.distancing = [0.0, 0.0]
        self.complicity: list[list[float]] = [[], []]  # q[side -> other, k]


class RefState:
    """A state agent that owns its numbers (Python lists) and loops over its partners."""

    def __init__(self, agent, world: WorldArrays) -> None:
        i = agent.index
        self.index = i
        self.principles = world.principles[i].tolist()
        self.conduct = world.conduct[i].tolist()
        self.needs = world.needs[i].tolist()
        self.needs_baseline = world.needs_baseline[i].tolist()
        self.supply = world.supply[i].tolist()
        self.credibility = world.credibility[i].tolist()
        self.tension = float(world.tension[i])
        self.tension_baseline = float(world.tension_baseline[i])
        self.risk = float(world.risk[i])
        self.acts = world.acts[i].tolist()
        self.recent = world.recent_conduct[i].tolist()
        self.frozen = bool(world.frozen[i])
        self.partners: dict[int, tuple[RefSpell, int]] = {}  # partner index -> (spell, own side)
        self.inv_agenda = self.calm = self.weight = 0.0

    def drift(self, model: ReferenceModel, key_need: int, key_tension: int) -> None:
        p = model.p
        for m in range(len(self.needs)):
            d = self.needs[m] + p.theta * (self.needs_baseline[m] - self.needs[m])
            if p.sigma > 0.0:
                d += p.sigma * normal(key_need, self.index, m)
            self.needs[m] = clip01(d)
        tension = self.tension + p.theta_tension * (self.tension_baseline - self.tension)
        if p.sigma_tension > 0.0:
            tension += p.sigma_tension * normal(key_tension, self.index, 0)
        self.tension = tension if tension > 0.0 else 0.0

    def prepare(self, model: ReferenceModel) -> None:
        agenda = sum(self.principles)
        self.inv_agenda = 1.0 / agenda if agenda >= MIN_AGENDA else 0.0
        self.calm = 1.0 / (1.0 + self.tension)
        self.weight = self.tension / (self.tension + model.p.t_half)

    def act(self, key: int) -> None:
        for k in range(len(self.acts)):
            self.acts[k] = 1.0 if uniform(key, self.index, k) < self.conduct[k] else 0.0
            self.recent[k] += (self.acts[k] - self.recent[k]) / SMOOTHING

    def update_credibility(self, model: ReferenceModel) -> None:
        """Endorsed acts and complicity over my partners, then contradiction and credibility."""
        n_norms = len(self.credibility)
        endorsed = [0.0] * n_norms
        complicity = [0.0] * n_norms
        for j, (spell, side) in self.partners.items():
            partner = model.agents[j]
            endorsement = spell.strength * (1.0 - spell.distancing[side])
            q = [0.0] * n_norms
            for m in range(len(self.supply)):
                flow = spell.strength * min(self.supply[m], partner.needs[m])
                for k in range(n_norms):
                    q[k] += flow * model.implicates[m][k]
            for k in range(n_norms):
                endorsed[k] += endorsement * partner.acts[k]
                q[k] *= partner.recent[k]
                complicity[k] += q[k]
            spell.complicity[side] = q
        p = model.p
        self.contradiction = [0.0] * n_norms
        for k in range(n_norms):
            h = self.principles[k] * (self.acts[k] + endorsed[k] + complicity[k])
            self.contradiction[k] = h
            if not self.frozen:
                c = self.credibility[k]
                self.credibility[k] = clip01(
                    c * math.exp(-p.alpha * h) + p.beta * (1.0 - c) * math.exp(-h)
                )

    def potential_benefit(self, partner: RefState) -> float:
        """B_mat: what ``partner`` could supply to me, Σ_m D[m]·S_partner[m] / M."""
        b_mat = 0.0
        for m in range(len(self.needs)):
            b_mat += self.needs[m] * partner.supply[m]
        return b_mat * (1.0 / len(self.needs))

    def value_of(self, partner: RefState, endorsement: float, complicity, model: ReferenceModel):
        """U of ``partner`` to me and its (interest, principles, entrapment) components."""
        p = model.p
        b_mat = self.potential_benefit(partner)
        b_norm = x_cred = 0.0
        for k in range(len(self.principles)):
            weight = self.principles[k]
            b_norm += weight * partner.principles[k] * partner.credibility[k]
            cost = endorsement * partner.recent[k] + (complicity[k] if complicity else 0.0)
            x_cred += weight * (1.0 if cost > 1.0 else cost)
        b_brink = p.lambda_brink * partner.risk * self.tension * self.calm
        x_trap = p.eta_trap * partner.risk * self.calm
        interest = self.weight * (b_mat + b_brink)
        principles = (1.0 - self.weight) * (b_norm - x_cred) * self.inv_agenda
        return interest + principles - x_trap - p.upkeep, (interest, principles, -x_trap)


class ReferenceModel:
    """MODEL.md §3 steps 1-10 over plain-Python agents (no events: synthetic worlds have none),
    with the open-problem switches the defaults turn on (benefit_floor, w_init_spread,
    abrogate_before_hollow; docs/ODD.md §9)."""

    def __init__(self, model: AllianceModel) -> None:
        w, sp = model.world, model.spells
        if model.events.step.size:
            raise ValueError("the reference has no scenario events; use a synthetic world")
        if model.parameters.realised_benefit or model.parameters.violation_cost:
            raise ValueError("the reference implements neither realised_benefit nor violation_cost")
        self.p = model.parameters
        self.seed = int(model.run_seed)
        self.n = w.n_states
        self.implicates = w.implicates.tolist()
        self.agents = [RefState(agent, w) for agent in model.states]
        pairs = zip(*np.nonzero(np.triu(w.rivals)), strict=True)
        self.rivals = {(int(i), int(j)) for i, j in pairs}
        ended = zip(*np.nonzero(np.triu(w.pair_last_end > NEVER)), strict=True)
        self.last_end = {(int(i), int(j)): int(w.pair_last_end[i, j]) for i, j in ended}
        self.spells: list[RefSpell] = []  # every spell, in order of formation
        for row in range(int(sp.count[0])):
            s = RefSpell(int(sp.member_a[row]), int(sp.member_b[row]), int(sp.start[row]))
            s.strength, s.value_smoothed = float(sp.strength[row]), float(sp.value_smoothed[row])
            s.kappa, s.treaty, s.renew = (
                float(sp.kappa[row]),
                bool(sp.treaty[row]),
                bool(sp.renew[row]),
            )
            s.side_value = sp.side_value[row].tolist()
            s.first, s.recent = (
                sp.first_components[row].tolist(),
                sp.recent_components[row].tolist(),
            )
            s.updates, s.term, s.term_end = (
                int(sp.updates[row]),
                int(sp.term[row]),
                int(sp.term_end[row]),
            )
            s.functional_end, s.formal_end = int(sp.functional_end[row]), int(sp.formal_end[row])
            s.cause, s.distancing = int(sp.cause[row]), sp.distancing[row].tolist()
            self.spells.append(s)
            if s.formal_end < 0:
                self.agents[s.a].partners[s.b] = (s, 0)
                self.agents[s.b].partners[s.a] = (s, 1)

    def active(self):
        """Each active spell once, seen from its first member."""
        for agent in self.agents:
            for j, (spell, side) in agent.partners.items():
                if side == 0:
                    yield agent, self.agents[j], spell

    def step(self, t: int) -> None:
        key_need = step_key(self.seed, STREAM_NEED, t)
        key_tension = step_key(self.seed, STREAM_TENSION, t)
        key_act = step_key(self.seed, STREAM_ACT, t)
        for agent in self.agents:  # 1-2: drift, value factors, acts
            agent.drift(self, key_need, key_tension)
            agent.prepare(self)
            agent.act(key_act)
        for agent in self.agents:  # 3-6: flows, complicity, endorsement, credibility
            agent.update_credibility(self)
        for a, b, spell in list(self.active()):  # 7-8: values and strength
            self.update_strength(a, b, spell)
        for a, b, spell in list(self.active()):  # 9: ends
            self.check_end(t, a, b, spell)
        self.form(t)  # 10
        self.record()

    def update_strength(self, a: RefState, b: RefState, spell: RefSpell) -> None:
        w = spell.strength
        u_ab, parts_ab = a.value_of(b, w * (1.0 - spell.distancing[0]), spell.complicity[0], self)
        u_ba, parts_ba = b.value_of(a, w * (1.0 - spell.distancing[1]), spell.complicity[1], self)
        binding = min(u_ab, u_ba)
        spell.strength = clip01(w + self.p.gamma * binding)
        spell.value_smoothed += (binding - spell.value_smoothed) / SMOOTHING
        for side, (u, parts) in enumerate(((u_ab, parts_ab), (u_ba, parts_ba))):
            spell.side_value[side] += (u - spell.side_value[side]) / SMOOTHING
            for c in range(3):
                if spell.updates < 12:
                    spell.first[side][c] += parts[c]
                spell.recent[side][c] += (parts[c] - spell.recent[side][c]) / SMOOTHING
        spell.updates += 1

    def close(self, t: int, a: RefState, b: RefState, spell: RefSpell, cause: int) -> None:
        spell.formal_end, spell.cause = t, cause
        if spell.functional_end < 0:
            spell.functional_end = t
        del a.partners[b.index], b.partners[a.index]
        self.last_end[(a.index, b.index)] = t

    def check_end(self, t: int, a: RefState, b: RefState, spell: RefSpell) -> None:
        if spell.start == t:
            return
        p = self.p
        pair = a.index * self.n + b.index
        hollow = spell.strength < p.w_func
        if hollow and spell.functional_end < 0:
            spell.functional_end = t
        if hollow or p.abrogate_before_hollow > 0.5:
            hazard = spell.kappa * max(0.0, -spell.value_smoothed)
            if uniform1(step_key(self.seed, STREAM_ABROGATE, t), pair) < hazard:
                side = 0 if spell.side_value[0] <= spell.side_value[1] else 1
                n_first = max(min(spell.updates, 12), 1)
                falls = [spell.first[side][c] / n_first - spell.recent[side][c] for c in range(3)]
                self.close(t, a, b, spell, CAUSE_INTEREST + falls.index(max(falls)))
                return
        if spell.term > 0 and t >= spell.term_end:
            if spell.renew and not hollow:
                spell.term_end += spell.term
            else:
                self.close(t, a, b, spell, CAUSE_EXPIRY)
                return
        if p.h_exo > 0.0 and uniform1(step_key(self.seed, STREAM_EXOGENOUS, t), pair) < p.h_exo:
            self.close(t, a, b, spell, CAUSE_EXOGENOUS)

    def form(self, t: int) -> None:
        """Candidates i < j with probability rho (geometric gaps over the pairs, as the kernel)."""
        p, n = self.p, self.n
        if p.rho <= 0.0:
            return
        log_miss = math.log1p(-p.rho) if p.rho < 1.0 else -math.inf
        key_form = step_key(self.seed, STREAM_FORM, t)
        key_kind = step_key(self.seed, STREAM_SPELL_KIND, t)
        key_strength = step_key(self.seed, STREAM_SPELL_STRENGTH, t)
        n_pairs = n * (n - 1) // 2
        position, row, row_first, candidate = -1, 0, 0, 0
        while True:
            u = 1.0 - uniform1(key_form, candidate)
            gap = 0.0 if log_miss == -math.inf else math.log(u) / log_miss
            candidate += 1
            if gap >= n_pairs:
                return
            position += 1 + int(gap)
            if position >= n_pairs:
                return
            while position >= row_first + (n - 1 - row):
                row_first += n - 1 - row
                row += 1
            i, j = row, row + 1 + (position - row_first)
            a, b = self.agents[i], self.agents[j]
            if (i, j) in self.rivals or j in a.partners:
                continue
            if t - self.last_end.get((i, j), NEVER) < p.cooldown:
                continue
            floor = p.benefit_floor
            if floor > 0.0 and (a.potential_benefit(b) < floor or b.potential_benefit(a) < floor):
                continue
            strength = p.w_init
            if p.w_init_spread > 0.0:
                strength += p.w_init_spread * (2.0 * uniform1(key_strength, i * n + j) - 1.0)
                strength = min(1.0, max(p.w_func, strength))
            if a.value_of(b, 0.0, None, self)[0] <= p.u_form:
                continue
            if b.value_of(a, 0.0, None, self)[0] <= p.u_form:
                continue
            self.open(t, a, b, i * n + j, key_kind, strength)

    def open(
        self, t: int, a: RefState, b: RefState, pair: int, key_kind: int, strength: float
    ) -> None:
        p = self.p
        spell = RefSpell(a.index, b.index, t)
        spell.treaty = uniform1(key_kind, pair) < p.treaty_share
        spell.term = int(round(p.treaty_term_years * 12.0)) if spell.treaty else 0
        spell.term_end, spell.renew = t + spell.term, p.renew_treaties > 0.5
        spell.kappa = p.kappa_treaty if spell.treaty else p.kappa_pact
        spell.strength = strength
        u_ab, parts_ab = a.value_of(b, 0.0, None, self)
        u_ba, parts_ba = b.value_of(a, 0.0, None, self)
        spell.value_smoothed, spell.side_value = min(u_ab, u_ba), [u_ab, u_ba]
        spell.recent = [list(parts_ab), list(parts_ba)]
        self.spells.append(spell)
        a.partners[b.index] = (spell, 0)
        b.partners[a.index] = (spell, 1)

    def record(self) -> None:
        strengths = [spell.strength for _, _, spell in self.active()]
        self.mean_strength = sum(strengths) / len(strengths) if strengths else 0.0
        self.hollow = sum(1 for s in strengths if s < self.p.w_func)
        self.mean_tension = sum(agent.tension for agent in self.agents) / self.n
        self.mean_credibility = [
            sum(c) / self.n for c in zip(*(a.credibility for a in self.agents), strict=True)
        ]


# --------------------------------------------------------------------------- set-up and checks


def warmed_model(n_states: int) -> AllianceModel:
    """A synthetic world after WARM_UP months, with room for many more spells."""
    model = AllianceModel(
        scenario=synthetic_scenario(n_states=n_states, world_seed=1),
        rng=0,
        record_states=False,
        steps=WARM_UP + 64,
    )
    model.simulate(WARM_UP)
    model.spells = model.spells.grown(
        max(2 * model.spells.capacity, n_states * (n_states - 1) // 2)
    )
    return model


def copy_spells(spells: SpellTable) -> SpellTable:
    return SpellTable(*(a.copy() for a in spells))


def kernel_months(model: AllianceModel, months: int):
    """Run ``months`` months on copies of the model's arrays; returns (world, spells, seconds)."""
    world, spells = copy_world(model.world), copy_spells(model.spells)
    records = Records.empty(
        model.steps_done + months, world.n_states, world.credibility.shape[1], False
    )
    start = clock()
    status, _ = run_steps(
        model.steps_done,
        model.steps_done + months,
        model.run_seed,
        model.param_array,
        world,
        spells,
        model.events,
        records,
        STEP_DONE,
    )
    seconds = clock() - start
    if status != STEP_DONE:
        raise RuntimeError("spell table filled up during timing; grow it further")
    return world, spells, seconds


def check_agreement(model: AllianceModel) -> list[str]:
    """Differences between one kernel month and one reference month from the same state."""
    world, spells, _ = kernel_months(model, 1)
    reference = ReferenceModel(model)
    reference.step(model.steps_done)
    problems = []

    def close(name, ours, theirs):
        if not np.allclose(ours, theirs, rtol=1e-10, atol=1e-12):
            problems.append(
                f"{name}: max difference {np.max(np.abs(np.subtract(ours, theirs))):.3g}"
            )

    agents = reference.agents
    close("credibility", world.credibility, [a.credibility for a in agents])
    close("needs", world.needs, [a.needs for a in agents])
    close("tension", world.tension, [a.tension for a in agents])
    n = int(spells.count[0])
    if n != len(reference.spells):
        problems.append(f"spells: kernel {n}, reference {len(reference.spells)}")
        return problems
    members = list(zip(spells.member_a[:n], spells.member_b[:n], strict=True))
    if members != [(s.a, s.b) for s in reference.spells]:
        problems.append("spells: different pairs")
    close("strength", spells.strength[:n], [s.strength for s in reference.spells])
    close("value_smoothed", spells.value_smoothed[:n], [s.value_smoothed for s in reference.spells])
    for name, ours in (("formal_end", spells.formal_end), ("functional_end", spells.functional_end),
                       ("cause", spells.cause)):  # fmt: skip
        if ours[:n].tolist() != [getattr(s, name) for s in reference.spells]:
            problems.append(f"{name}: different")
    return problems


def per_month(n_states: int, kernel_months_n: int, reference_months_n: int) -> tuple[float, float]:
    model = warmed_model(n_states)
    problems = check_agreement(model)
    active = int(model.spells.n_active[0])
    print(f"N = {n_states:>4}: {active} active partnerships after {WARM_UP} months; "
          f"one month agrees: {'yes' if not problems else 'NO'}", flush=True)  # fmt: skip
    if problems:
        print("  reference and kernel disagree: " + "; ".join(problems))
        sys.exit(1)
    kernel_months(model, 1)  # warm caches
    *_, seconds = kernel_months(model, kernel_months_n)
    kernel = seconds / kernel_months_n
    reference = ReferenceModel(model)
    start = clock()
    for t in range(model.steps_done, model.steps_done + reference_months_n):
        reference.step(t)
    python = (clock() - start) / reference_months_n
    print(f"  kernel {kernel * 1e3:10.3f} ms/month ({kernel_months_n} months)   "
          f"reference {python * 1e3:10.1f} ms/month ({reference_months_n} months)   "
          f"ratio {python / kernel:6.0f}x", flush=True)  # fmt: skip
    return kernel, python


def runs_per_second(label: str, run, seconds: float) -> float:
    run()  # compile or load from the cache outside the timing
    count, start = 0, clock()
    while clock() - start < seconds:
        run()
        count += 1
    rate = count / (clock() - start)
    print(f"  {label:<44} {rate:8.0f} runs/s  ({count} runs)", flush=True)
    return rate


def whole_runs(seconds: float) -> None:
    spec = synthetic_scenario(n_states=20, world_seed=1, steps=600)
    print("Whole runs, 20 states x 600 months, one core (target >= 500 runs/s):")
    seeds = iter(range(10**9))
    runs_per_second(
        "AllianceModel(...).simulate()",
        lambda: AllianceModel(scenario=spec, rng=next(seeds), record_states=False).simulate(),
        seconds,
    )
    template = AllianceModel(scenario=spec, rng=0)
    base = (template.world, template.events)
    runs_per_second(
        "model.simulation.simulate_arrays",
        lambda: simulate_arrays(spec, np.uint64(next(seeds)), 600, template=base),
        seconds,
    )
    params, k = spec.parameters.to_array(), len(spec.norms)
    spells0 = SpellTable.empty(4096, k)
    records = Records.empty(600, 20, k, False)

    def bare() -> None:
        world, spells = copy_world(template.world), copy_spells(spells0)
        advance(0, 600, np.uint64(next(seeds)), params, world, spells, template.events, records)

    runs_per_second("kernel run_steps on preallocated copies", bare, seconds)


def _phase_loops():
    """One compiled loop per phase of the monthly step (built on first use: numba compiles them)."""
    from numba import njit

    from model import kernel

    def loop(body):
        @njit(_nrt=False)
        def repeat(n, t, seed, params, w, sp, ev, rec):
            for _ in range(n):
                body(t, seed, params, w, sp, ev, rec)

        return repeat

    bodies = {
        "events (step 1)": lambda t, s, p, w, sp, ev, rec: kernel.apply_events(t, w, sp, ev, p),
        "drift (step 1)": lambda t, s, p, w, sp, ev, rec: kernel.drift(t, s, w, p),
        "acts (step 2)": lambda t, s, p, w, sp, ev, rec: kernel.draw_acts(t, s, w, ev),
        "flows + credibility (3-6)": lambda t, s, p, w, sp, ev, rec: kernel.flows_and_credibility(
            w, sp, p
        ),
        "values + strength (7-8)": lambda t, s, p, w, sp, ev, rec: kernel.update_strength(w, sp, p),
        "record": lambda t, s, p, w, sp, ev, rec: kernel.record(t, w, sp, rec, p),
    }
    return {name: loop(njit(inline="always", _nrt=False)(body)) for name, body in bodies.items()}


def phase_breakdown(repeats: int) -> None:
    """Where a month goes: each phase repeated on copies of mid-run states (CPU time, best of 5),
    beside whole runs. Ends and formation change the spell table, so they are not repeated: they
    are in the difference between a whole month and the sum of the phases."""
    spec = synthetic_scenario(n_states=20, world_seed=1, steps=600)
    base = AllianceModel(scenario=spec, rng=0)
    params, k = spec.parameters.to_array(), len(spec.norms)
    records = Records.empty(600, 20, k, False)
    seed = np.uint64(12345)
    states = []
    for months in (150, 300, 450):
        world, spells = copy_world(base.world), SpellTable.empty(4096, k)
        spells = advance(0, months, seed, params, world, spells, base.events, records)
        states.append((months, world, spells))
    active = np.mean([int(sp.n_active[0]) for _, _, sp in states])
    print(f"Where a month goes (20 states, {active:.0f} active partnerships; ns per month):")
    total = 0.0
    for name, repeat in _phase_loops().items():
        best = []
        for months, world, spells in states:
            args = (months, seed, params)
            tables = (base.events, records)
            repeat(1, *args, copy_world(world), copy_spells(spells), *tables)
            times = []
            for _ in range(5):
                w, sp = copy_world(world), copy_spells(spells)
                start = clock()
                repeat(repeats, *args, w, sp, *tables)
                times.append((clock() - start) / repeats)
            best.append(min(times))
        total += float(np.mean(best)) * 1e9
        print(f"  {name:<30} {np.mean(best) * 1e9:8.0f}", flush=True)
    whole = []
    for trial in range(5):
        world, spells = copy_world(base.world), SpellTable.empty(4096, k)
        start = clock()
        advance(0, 600, np.uint64(trial + 1), params, world, spells, base.events, records)
        whole.append((clock() - start) / 600)
    print(f"  {'sum of the phases above':<30} {total:8.0f}")
    print(f"  {'whole month (ends, formation)':<30} {min(whole) * 1e9:8.0f}   (best of 5 runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer months and shorter timings")
    parser.add_argument("--phases", action="store_true", help="only where a month goes, by phase")
    args = parser.parse_args()
    quick = args.quick
    if args.phases:
        phase_breakdown(200 if quick else 2000)
        return
    print("Per month, kernel vs plain-Python per-agent reference (target >= 50x at N = 200):")
    per_month(20, 2000 if not quick else 200, 50 if not quick else 5)
    per_month(200, 200 if not quick else 20, 5 if not quick else 1)
    per_month(2000, 10 if not quick else 2, 2 if not quick else 1)
    whole_runs(3.0 if not quick else 0.5)


if __name__ == "__main__":
    main()
