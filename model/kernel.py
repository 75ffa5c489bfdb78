"""The numba step kernel: MODEL.md §3 steps 1–10 on arrays (no Mesa, no Python objects).

Symbols (docs/ODD.md uses the same ones):

=========  ==========================================  =================================
symbol     array                                       meaning
=========  ==========================================  =================================
P          ``w.principles[i, k]``                      stated salience of norm k
V          ``w.conduct[i, k]``                         monthly propensity to violate k
D, D̄       ``w.needs``, ``w.needs_baseline``           need for resource m
S          ``w.supply[i, m]``                          capacity to provide m
C          ``w.credibility[i, k]``                     credibility of i's stance on k
T, T̄       ``w.tension``, ``w.tension_baseline``       pressure from rivals
R          ``w.risk[i]``                               brinkmanship readiness
G          ``w.implicates[m, k]``                      how far providing m implicates k
x, x̄       ``w.acts``, ``w.recent_conduct``            acts against k; 12-month average
H          ``w.contradiction``                         contradiction (hypocrisy)
W, Ū       ``sp.strength``, ``sp.value_smoothed``      strength; smoothed min value
E_ij       ``W·(1 − sp.distancing[s, side])``          endorsement of the partner's acts
q, Q       ``sp.pair_complicity``, ``w.complicity``    complicity by supply; its sum
=========  ==========================================  =================================

Updates are synchronous: every phase reads the state left by the previous phase for all states
at once, so agent order cannot change a result. Each random number is a counter-based hash
(model/rng.py), so the whole-run path (:func:`run_steps`) and the Mesa-stepped model (one
:func:`step_world` call per step) give identical results for a seed.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from model.arrays import (
    AGG_ACTIVE,
    AGG_FIXED,
    AGG_HOLLOW,
    AGG_MEAN_STRENGTH,
    AGG_MEAN_TENSION,
    CAUSE_EXOGENOUS,
    CAUSE_EXPIRY,
    CAUSE_INTEREST,
    CAUSE_SCENARIO,
    EV_ACT,
    EV_END,
    EV_SET_CONDUCT,
    EV_SET_NEED,
    EV_SET_PRINCIPLE,
    EV_SET_RISK,
    EV_SET_SUPPLY,
    EV_SET_TENSION,
    EV_START,
    FLAG_RENEW,
    FLAG_TREATY,
)
from model.parameters import (
    P_ALPHA,
    P_BENEFIT_FLOOR,
    P_BETA,
    P_COOLDOWN,
    P_EARLY_ABROGATION,
    P_ETA,
    P_GAMMA,
    P_H_EXO,
    P_KAPPA_PACT,
    P_KAPPA_TREATY,
    P_LAMBDA,
    P_REALISED,
    P_RENEW,
    P_RHO,
    P_SIGMA,
    P_SIGMA_T,
    P_T_HALF,
    P_THETA,
    P_THETA_T,
    P_TREATY_SHARE,
    P_TREATY_TERM_YEARS,
    P_U_FORM,
    P_UPKEEP,
    P_VIOLATION_COST,
    P_W_FUNC,
    P_W_INIT,
    P_W_SPREAD,
)
from model.rng import (
    STREAM_ABROGATE,
    STREAM_ACT,
    STREAM_EXOGENOUS,
    STREAM_FORM,
    STREAM_NEED,
    STREAM_SPELL_KIND,
    STREAM_SPELL_STRENGTH,
    STREAM_TENSION,
    fill_normals,
    step_key,
    uniform,
    uniform1,
)

# The kernel never allocates (every array comes from the caller), so it is compiled without numba's
# reference-counting runtime: with it, each array reached inside a loop cost atomic reference-count
# updates, and whole runs took 1.7x as long. The phases of a month are inlined into one function:
# a call passes the ~50 arrays of the world and spell table field by field, and whole runs took
# 1.15x as long with a call per phase. (Whole runs, 20 states x 600 months; identical results.)
kernel_function = njit(cache=True, _nrt=False)
inline_function = njit(inline="always", cache=True, _nrt=False)

SMOOTHING = 12.0  # months in the moving averages x̄, Ū and the cause-tracking averages
STEP_DONE = -1  # step_world's return when the step completed
MIN_AGENDA = 2.2250738585072014e-308  # smallest normal float64: Π_i below it counts as 0


@inline_function
def _clip01(v):
    return 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)


@inline_function
def prepare_values(w, params):
    """Per-state factors of the value function, refreshed whenever P or T change.

    ``inv_agenda = 1/Π_i`` (0 if Π_i < MIN_AGENDA), ``calm = 1/(1 + T_i)`` and the interest weight
    ``w_i = T_i/(T_i + T½)``: computed once per state instead of once per pair.
    """
    n, n_norms = w.principles.shape
    t_half = params[P_T_HALF]
    for i in range(n):
        agenda = 0.0
        for k in range(n_norms):
            agenda += w.principles[i, k]
        # A subnormal Π_i (< 2.2e-308) would give 1/Π_i = inf and inf · 0 = NaN in pair_value;
        # such an agenda counts as none (its B_norm and X_cred sums are subnormal too).
        w.inv_agenda[i] = 1.0 / agenda if agenda >= MIN_AGENDA else 0.0
        tension = w.tension[i]
        w.calm[i] = 1.0 / (1.0 + tension)
        w.interest_weight[i] = tension / (tension + t_half)


@inline_function
def potential_benefit(i, j, w):
    """B_mat of the reference form: Σ_m D[i, m]·S[j, m] / M (what j could supply to i)."""
    n_res = w.needs.shape[1]
    b_mat = 0.0
    for m in range(n_res):
        b_mat += w.needs[i, m] * w.supply[j, m]
    return b_mat * (1.0 / n_res)


@inline_function
def pair_value(i, j, endorsement, complicity_row, strength, w, params):
    """Value U_ij of partner j to i (MODEL.md §3 item 7) and its three components.

    Returns ``(U, interest, principles, entrapment)`` where ``U = interest + principles +
    entrapment - upkeep``. Reads the per-state factors of :func:`prepare_values`. With
    ``violation_cost`` ν > 0, X_cred gains ν·Σ_k P[i, k]·min(1, x̄[j, k]) / Π_i: what j does
    against i's principles costs i whether or not i endorses it. ``strength``
    is the partnership's W (the prospective one for a pair not yet partnered); it enters only
    with ``realised_benefit``, where B_mat = Σ_m D[i, m]·W·min(S[j, m], D[i, m]) / M.
    """
    n_res = w.needs.shape[1]
    n_norms = w.principles.shape[1]
    if params[P_REALISED] > 0.5:
        b_mat = 0.0
        for m in range(n_res):
            need = w.needs[i, m]
            b_mat += need * min(w.supply[j, m], need)
        b_mat *= strength / n_res
    else:
        b_mat = potential_benefit(i, j, w)
    b_norm = 0.0
    x_cred = 0.0
    x_viol = 0.0
    for k in range(n_norms):
        p = w.principles[i, k]
        b_norm += p * w.principles[j, k] * w.credibility[j, k]
        recent = w.recent_conduct[j, k]
        cost = endorsement * recent + complicity_row[k]
        x_cred += p * (1.0 if cost > 1.0 else cost)
        x_viol += p * (1.0 if recent > 1.0 else recent)
    x_cred += params[P_VIOLATION_COST] * x_viol  # 0 in the reference form
    inv_agenda = w.inv_agenda[i]  # 0 when i champions nothing: B_norm = X_cred = 0
    calm = w.calm[i]
    risk = w.risk[j]
    b_brink = params[P_LAMBDA] * risk * w.tension[i] * calm
    x_trap = params[P_ETA] * risk * calm
    weight = w.interest_weight[i]
    interest = weight * (b_mat + b_brink)
    principles = (1.0 - weight) * (b_norm - x_cred) * inv_agenda
    entrapment = -x_trap
    return interest + principles + entrapment - params[P_UPKEEP], interest, principles, entrapment


@kernel_function
def open_spell(t, a, b, strength, treaty, term, renew, w, sp, params):
    """Start a spell between a < b at step t; returns its row. The caller ensures capacity."""
    row = sp.count[0]
    sp.count[0] += 1
    sp.member_a[row] = a
    sp.member_b[row] = b
    sp.start[row] = t
    sp.functional_end[row] = -1
    sp.formal_end[row] = -1
    sp.cause[row] = 0
    sp.binding[row] = -1
    sp.treaty[row] = treaty
    sp.renew[row] = renew
    sp.term[row] = term
    sp.term_end[row] = t + term
    sp.kappa[row] = params[P_KAPPA_TREATY] if treaty else params[P_KAPPA_PACT]
    sp.initial_strength[row] = strength
    sp.strength[row] = strength
    sp.distancing[row, 0] = 0.0
    sp.distancing[row, 1] = 0.0
    sp.pair_complicity[row, :, :] = 0.0
    sp.updates[row] = 0
    u_ab, ia, pa, ea = pair_value(a, b, 0.0, w.zeros_k, strength, w, params)
    u_ba, ib, pb, eb = pair_value(b, a, 0.0, w.zeros_k, strength, w, params)
    sp.value_smoothed[row] = min(u_ab, u_ba)
    sp.side_value[row, 0] = u_ab
    sp.side_value[row, 1] = u_ba
    sp.first_components[row, :, :] = 0.0
    sp.recent_components[row, 0, 0] = ia
    sp.recent_components[row, 0, 1] = pa
    sp.recent_components[row, 0, 2] = ea
    sp.recent_components[row, 1, 0] = ib
    sp.recent_components[row, 1, 1] = pb
    sp.recent_components[row, 1, 2] = eb
    sp.active[sp.n_active[0]] = row
    sp.n_active[0] += 1
    w.pair_spell[a, b] = row
    w.pair_spell[b, a] = row
    return row


@kernel_function
def close_spell(t, position, cause, w, sp):
    """Formally end the spell at ``position`` of the active list (swap-removes it)."""
    row = sp.active[position]
    sp.formal_end[row] = t
    sp.cause[row] = cause
    if sp.functional_end[row] < 0:
        sp.functional_end[row] = t
    a = sp.member_a[row]
    b = sp.member_b[row]
    w.pair_spell[a, b] = -1
    w.pair_spell[b, a] = -1
    w.pair_last_end[a, b] = t
    w.pair_last_end[b, a] = t
    last = sp.n_active[0] - 1
    sp.active[position] = sp.active[last]
    sp.active[last] = -1
    sp.n_active[0] = last


@kernel_function
def abrogation_cause(row, sp):
    """Component of U that fell most on the binding side (MODEL.md §3 item 11)."""
    side = 0 if sp.side_value[row, 0] <= sp.side_value[row, 1] else 1
    n_first = min(sp.updates[row], 12)
    best = 0
    best_fall = -np.inf
    for c in range(3):
        first = sp.first_components[row, side, c] / max(n_first, 1)
        fall = first - sp.recent_components[row, side, c]
        if fall > best_fall:
            best_fall = fall
            best = c
    return CAUSE_INTEREST + best


@kernel_function
def _find_active(row, sp):
    for position in range(sp.n_active[0]):
        if sp.active[position] == row:
            return position
    return -1


@inline_function
def apply_events(t, w, sp, ev, params):
    """Step 1's dated changes: first to the states, then to partnerships (so that a partnership
    started in a month is valued with that month's changes). Forced acts are applied with the
    acts (step 2)."""
    first = np.searchsorted(ev.step, t, side="left")
    last = np.searchsorted(ev.step, t, side="right")
    if first == last:
        return  # no event this month (most months): nothing to refresh before drift's own
    for e in range(first, last):
        kind = ev.kind[e]
        a = ev.a[e]
        b = ev.b[e]
        v = ev.value[e]
        if kind == EV_SET_NEED:
            w.needs_baseline[a, b] = v
        elif kind == EV_SET_SUPPLY:
            w.supply[a, b] = v
        elif kind == EV_SET_PRINCIPLE:
            w.principles[a, b] = v
        elif kind == EV_SET_CONDUCT:
            w.conduct[a, b] = v
        elif kind == EV_SET_TENSION:
            w.tension_baseline[a] = v
        elif kind == EV_SET_RISK:
            w.risk[a] = v
    prepare_values(w, params)
    for e in range(first, last):
        kind = ev.kind[e]
        a = ev.a[e]
        b = ev.b[e]
        v = ev.value[e]
        if kind == EV_START:
            treaty = (ev.flag[e] & FLAG_TREATY) != 0
            renew = (ev.flag[e] & FLAG_RENEW) != 0
            row = w.pair_spell[a, b]
            if row < 0:
                strength = v if v >= 0.0 else params[P_W_INIT]
                open_spell(t, a, b, strength, treaty, ev.months[e], renew, w, sp, params)
            elif treaty:  # formalise a partnership that already exists
                sp.treaty[row] = True
                sp.kappa[row] = params[P_KAPPA_TREATY]
                sp.renew[row] = renew
                sp.term[row] = ev.months[e]
                sp.term_end[row] = t + ev.months[e]
        elif kind == EV_END:
            row = w.pair_spell[a, b]
            if row >= 0:
                close_spell(t, _find_active(row, sp), CAUSE_SCENARIO, w, sp)


@inline_function
def drift(t, seed, w, params):
    """Step 1: needs and tension revert to their baselines, with noise."""
    n, n_res = w.needs.shape
    theta = params[P_THETA]
    sigma = params[P_SIGMA]
    if sigma > 0.0:  # w.normals[i·M + m] = normal(key, i, m), drawn all at once
        fill_normals(step_key(seed, STREAM_NEED, t), n, n_res, w.probabilities, w.normals)
    for i in range(n):
        for m in range(n_res):
            d = w.needs[i, m] + theta * (w.needs_baseline[i, m] - w.needs[i, m])
            if sigma > 0.0:
                d += sigma * w.normals[i * n_res + m]
            w.needs[i, m] = _clip01(d)
    theta_t = params[P_THETA_T]
    sigma_t = params[P_SIGMA_T]
    if sigma_t > 0.0:  # w.normals[i] = normal(key, i, 0)
        fill_normals(step_key(seed, STREAM_TENSION, t), n, 1, w.probabilities, w.normals)
    for i in range(n):
        tension = w.tension[i] + theta_t * (w.tension_baseline[i] - w.tension[i])
        if sigma_t > 0.0:
            tension += sigma_t * w.normals[i]
        w.tension[i] = tension if tension > 0.0 else 0.0


@inline_function
def draw_acts(t, seed, w, ev):
    """Step 2: acts against each norm, forced acts of events, and the 12-month average x̄."""
    n, n_norms = w.conduct.shape
    key = step_key(seed, STREAM_ACT, t)
    for i in range(n):
        for k in range(n_norms):
            w.acts[i, k] = 1.0 if uniform(key, i, k) < w.conduct[i, k] else 0.0
    for e in range(ev.step.shape[0]):
        if ev.kind[e] == EV_ACT and ev.step[e] <= t < ev.step[e] + ev.months[e]:
            w.acts[ev.a[e], ev.b[e]] = ev.value[e]
    for i in range(n):
        for k in range(n_norms):
            w.recent_conduct[i, k] += (w.acts[i, k] - w.recent_conduct[i, k]) / SMOOTHING


@inline_function
def flows_and_credibility(w, sp, params):
    """Steps 3–6: flows and complicity, endorsement, contradiction H, credibility C."""
    n, n_norms = w.principles.shape
    n_res = w.needs.shape[1]
    w.endorsed[:, :] = 0.0
    w.complicity[:, :] = 0.0
    for position in range(sp.n_active[0]):
        s = sp.active[position]
        a = sp.member_a[s]
        b = sp.member_b[s]
        strength = sp.strength[s]
        e_ab = strength * (1.0 - sp.distancing[s, 0])
        e_ba = strength * (1.0 - sp.distancing[s, 1])
        for k in range(n_norms):
            w.endorsed[a, k] += e_ab * w.acts[b, k]
            w.endorsed[b, k] += e_ba * w.acts[a, k]
            # q[a -> b, k] = Σ_m F[a -> b, m]·G[m, k] · x̄[b, k], F = W·min(S_a, D_b)
            g_ab = 0.0
            g_ba = 0.0
            for m in range(n_res):
                g = w.implicates[m, k]
                g_ab += strength * min(w.supply[a, m], w.needs[b, m]) * g
                g_ba += strength * min(w.supply[b, m], w.needs[a, m]) * g
            q_ab = g_ab * w.recent_conduct[b, k]
            q_ba = g_ba * w.recent_conduct[a, k]
            sp.pair_complicity[s, 0, k] = q_ab
            sp.pair_complicity[s, 1, k] = q_ba
            w.complicity[a, k] += q_ab
            w.complicity[b, k] += q_ba
    alpha = params[P_ALPHA]
    beta = params[P_BETA]
    for i in range(n):
        for k in range(n_norms):
            h = w.principles[i, k] * (w.acts[i, k] + w.endorsed[i, k] + w.complicity[i, k])
            w.contradiction[i, k] = h
            if not w.frozen[i]:
                c = w.credibility[i, k]
                if h == 0.0:  # e^0 = 1: skip the two exponentials (most states, most months)
                    w.credibility[i, k] = _clip01(c + beta * (1.0 - c))
                else:
                    w.credibility[i, k] = _clip01(
                        c * math.exp(-alpha * h) + beta * (1.0 - c) * math.exp(-h)
                    )


@inline_function
def update_strength(w, sp, params):
    """Steps 7–8: each side's value of the other, strength W, Ū and the cause tracking."""
    gamma = params[P_GAMMA]
    for position in range(sp.n_active[0]):
        s = sp.active[position]
        a = sp.member_a[s]
        b = sp.member_b[s]
        strength = sp.strength[s]
        e_ab = strength * (1.0 - sp.distancing[s, 0])
        e_ba = strength * (1.0 - sp.distancing[s, 1])
        u_ab, ia, pa, ea = pair_value(a, b, e_ab, sp.pair_complicity[s, 0], strength, w, params)
        u_ba, ib, pb, eb = pair_value(b, a, e_ba, sp.pair_complicity[s, 1], strength, w, params)
        binding = min(u_ab, u_ba)
        sp.strength[s] = _clip01(strength + gamma * binding)
        sp.value_smoothed[s] += (binding - sp.value_smoothed[s]) / SMOOTHING
        sp.side_value[s, 0] += (u_ab - sp.side_value[s, 0]) / SMOOTHING
        sp.side_value[s, 1] += (u_ba - sp.side_value[s, 1]) / SMOOTHING
        in_first_year = sp.updates[s] < 12
        for side in range(2):
            if side == 0:
                c0, c1, c2 = ia, pa, ea
            else:
                c0, c1, c2 = ib, pb, eb
            if in_first_year:
                sp.first_components[s, side, 0] += c0
                sp.first_components[s, side, 1] += c1
                sp.first_components[s, side, 2] += c2
            sp.recent_components[s, side, 0] += (c0 - sp.recent_components[s, side, 0]) / SMOOTHING
            sp.recent_components[s, side, 1] += (c1 - sp.recent_components[s, side, 1]) / SMOOTHING
            sp.recent_components[s, side, 2] += (c2 - sp.recent_components[s, side, 2]) / SMOOTHING
        sp.updates[s] += 1


@inline_function
def check_ends(t, seed, w, sp, params):
    """Step 9: functional end, abrogation, expiry, exogenous end (in that order)."""
    n = w.principles.shape[0]
    w_func = params[P_W_FUNC]
    h_exo = params[P_H_EXO]
    key_abrogate = step_key(seed, STREAM_ABROGATE, t)
    key_exogenous = step_key(seed, STREAM_EXOGENOUS, t)
    early = params[P_EARLY_ABROGATION] > 0.5
    # Backwards, so that swap-removal never skips a spell.
    for position in range(sp.n_active[0] - 1, -1, -1):
        s = sp.active[position]
        if sp.start[s] == t:
            continue  # a spell is at risk from the step after it starts
        pair = sp.member_a[s] * n + sp.member_b[s]
        hollow = sp.strength[s] < w_func
        if hollow and sp.functional_end[s] < 0:
            sp.functional_end[s] = t
        if hollow or early:
            hazard = sp.kappa[s] * max(0.0, -sp.value_smoothed[s])
            if uniform1(key_abrogate, pair) < hazard:
                sp.binding[s] = 0 if sp.side_value[s, 0] <= sp.side_value[s, 1] else 1
                close_spell(t, position, abrogation_cause(s, sp), w, sp)
                continue
        if sp.term[s] > 0 and t >= sp.term_end[s]:
            if sp.renew[s] and not hollow:
                sp.term_end[s] += sp.term[s]
            else:
                close_spell(t, position, CAUSE_EXPIRY, w, sp)
                continue
        if h_exo > 0.0 and uniform1(key_exogenous, pair) < h_exo:
            close_spell(t, position, CAUSE_EXOGENOUS, w, sp)


@inline_function
def form_partnerships(t, seed, w, sp, ev, params, resume_from):
    """Step 10: new spells. Returns STEP_DONE, or the candidate number to resume at when full.

    Each pair i < j is a candidate with probability ρ, independently, every month. Rather than
    one draw per pair, the gaps between candidates are drawn (geometric, by inversion of counter
    draws keyed by the candidate's number): the same law at ρ·N²/2 draws instead of N²/2.
    """
    n = w.principles.shape[0]
    rho = params[P_RHO]
    if rho <= 0.0:
        return STEP_DONE
    log_miss = math.log1p(-rho) if rho < 1.0 else -np.inf
    u_form = params[P_U_FORM]
    cooldown = params[P_COOLDOWN]
    key_form = step_key(seed, STREAM_FORM, t)
    key_kind = step_key(seed, STREAM_SPELL_KIND, t)
    key_strength = step_key(seed, STREAM_SPELL_STRENGTH, t)
    # Rows kept free for scenario-started spells, so that events never meet a full table.
    reserve = 0
    for e in range(ev.kind.shape[0]):
        if ev.kind[e] == EV_START and ev.step[e] > t:
            reserve += 1
    limit = sp.start.shape[0] - reserve
    n_pairs = n * (n - 1) // 2
    position = -1  # candidate's index in the row-major list of pairs i < j
    row = 0  # i of that pair
    row_first = 0  # index of the pair (row, row + 1)
    candidate = 0
    while True:
        u = 1.0 - uniform1(key_form, candidate)  # in (0, 1]
        # Compare before converting: in compiled code math.floor returns int64, which wraps to a
        # negative gap (and an out-of-bounds pair) when rho is tiny and the ratio exceeds 2**63.
        gap = 0.0 if log_miss == -np.inf else math.log(u) / log_miss  # >= 0
        if gap >= n_pairs:
            return STEP_DONE
        position += 1 + int(gap)  # int() floors a non-negative gap
        if position >= n_pairs:
            return STEP_DONE
        while position >= row_first + (n - 1 - row):
            row_first += n - 1 - row
            row += 1
        this = candidate
        candidate += 1
        if this < resume_from:
            continue  # handled before the table was grown
        i = row
        j = row + 1 + (position - row_first)
        if w.rivals[i, j] or w.pair_spell[i, j] >= 0:
            continue
        if t - w.pair_last_end[i, j] < cooldown:
            continue
        floor = params[P_BENEFIT_FLOOR]
        if floor > 0.0 and (
            potential_benefit(i, j, w) < floor or potential_benefit(j, i, w) < floor
        ):
            continue  # partnerships form on interests (open problem 2)
        pair = i * n + j
        strength = params[P_W_INIT]
        spread = params[P_W_SPREAD]
        if spread > 0.0:  # per-spell starting strength (open problem 3)
            strength += spread * (2.0 * uniform1(key_strength, pair) - 1.0)
            strength = min(1.0, max(params[P_W_FUNC], strength))
        if pair_value(i, j, 0.0, w.zeros_k, strength, w, params)[0] <= u_form:
            continue
        if pair_value(j, i, 0.0, w.zeros_k, strength, w, params)[0] <= u_form:
            continue
        if sp.count[0] >= limit:
            return this
        treaty = uniform1(key_kind, pair) < params[P_TREATY_SHARE]
        term = int(round(params[P_TREATY_TERM_YEARS] * 12.0)) if treaty else 0
        renew = params[P_RENEW] > 0.5
        open_spell(t, i, j, strength, treaty, term, renew, w, sp, params)


@inline_function
def record(t, w, sp, rec, params):
    """Write step t's row of the series."""
    n, n_norms = w.principles.shape
    active = sp.n_active[0]
    hollow = 0
    total = 0.0
    for position in range(active):
        s = sp.active[position]
        total += sp.strength[s]
        if sp.strength[s] < params[P_W_FUNC]:
            hollow += 1
    rec.aggregate[t, AGG_ACTIVE] = active
    rec.aggregate[t, AGG_HOLLOW] = hollow
    rec.aggregate[t, AGG_MEAN_STRENGTH] = total / active if active > 0 else 0.0
    rec.aggregate[t, AGG_MEAN_TENSION] = w.tension.mean()
    for k in range(n_norms):
        rec.aggregate[t, AGG_FIXED + k] = w.credibility[:, k].mean()
    if rec.state_credibility.shape[0] > t:
        for i in range(n):  # element by element: an array copy would need the runtime
            for k in range(n_norms):
                rec.state_credibility[t, i, k] = w.credibility[i, k]
            rec.state_tension[t, i] = w.tension[i]


@inline_function
def month(t, seed, params, w, sp, ev, rec, resume_pair):
    """One month (MODEL.md §3 steps 1–10) at step ``t``.

    Returns ``STEP_DONE``, or, when the spell table filled up during formation, the number of
    the formation candidate to pass back as ``resume_pair`` after growing the table (the steps
    before formation are not repeated).
    """
    if resume_pair < 0:
        apply_events(t, w, sp, ev, params)
        drift(t, seed, w, params)
        draw_acts(t, seed, w, ev)
    return partnership_month(t, seed, params, w, sp, ev, rec, resume_pair)


@inline_function
def twin_month(t, seed, params, factual, w, sp, ev, rec, resume_pair):
    """:func:`month` of a twin run stepped beside ``factual`` (same seed, same events).

    Needs, tension and acts never depend on credibility or partnerships, so the twin's are the
    factual run's, copied after its drift and acts instead of drawn again (identical numbers).
    """
    if resume_pair < 0:
        apply_events(t, w, sp, ev, params)
        for i in range(w.needs.shape[0]):
            for m in range(w.needs.shape[1]):
                w.needs[i, m] = factual.needs[i, m]
            for k in range(w.acts.shape[1]):
                w.acts[i, k] = factual.acts[i, k]
                w.recent_conduct[i, k] = factual.recent_conduct[i, k]
            w.tension[i] = factual.tension[i]
    return partnership_month(t, seed, params, w, sp, ev, rec, resume_pair)


@inline_function
def partnership_month(t, seed, params, w, sp, ev, rec, resume_pair):
    """Steps 3–10 of a month, after the events, drift and acts of step 1–2."""
    if resume_pair < 0:
        prepare_values(w, params)
        flows_and_credibility(w, sp, params)
        update_strength(w, sp, params)
        check_ends(t, seed, w, sp, params)
    status = form_partnerships(t, seed, w, sp, ev, params, resume_pair)
    if status != STEP_DONE:
        return status
    record(t, w, sp, rec, params)
    return STEP_DONE


@kernel_function
def step_world(t, seed, params, w, sp, ev, rec, resume_pair):
    """:func:`month` as one compiled call (Mesa's ``AllianceModel.step``)."""
    return month(t, seed, params, w, sp, ev, rec, resume_pair)


@kernel_function
def run_twin_steps(
    t_start, t_stop, seed, params, w, sp, rec, tw, tsp, trec, ev, resume_pair, resume_twin
):
    """Steps ``t_start .. t_stop - 1`` of a run and its twin (world ``tw``: e.g. credibility
    frozen) in lockstep, month by month, sharing the drift and acts (:func:`twin_month`).

    Returns ``(STEP_DONE, t_stop, 0)``, or ``(pair, t, which)`` when step t stopped for a full
    spell table: ``which`` 0 is the run's table (call again from t with ``resume_pair=pair``), 1
    the twin's (the run's month t is done: call again with ``resume_twin=pair``).
    """
    for t in range(t_start, t_stop):
        twin_resume = resume_twin
        if resume_twin < 0:
            status = month(t, seed, params, w, sp, ev, rec, resume_pair)
            if status != STEP_DONE:
                return status, t, 0
        status = twin_month(t, seed, params, w, tw, tsp, ev, trec, twin_resume)
        if status != STEP_DONE:
            return status, t, 1
        resume_pair = STEP_DONE
        resume_twin = STEP_DONE
    return STEP_DONE, t_stop, 0


@kernel_function
def run_steps(t_start, t_stop, seed, params, w, sp, ev, rec, resume_pair):
    """Steps ``t_start .. t_stop - 1`` in one compiled call (the whole-run fast path).

    Returns ``(STEP_DONE, t_stop)``, or ``(pair, t)`` when step t stopped for a full spell table:
    grow it and call again from ``t`` with ``resume_pair=pair``.
    """
    resume = resume_pair
    for t in range(t_start, t_stop):
        status = month(t, seed, params, w, sp, ev, rec, resume)
        if status != STEP_DONE:
            return status, t
        resume = STEP_DONE
    return STEP_DONE, t_stop
