"""The batch engine's chunk (runs/engine.py): arrays reused from run to run, spells
gathered and twins matched once per chunk. Each must equal its per-run definition
exactly: results may not depend on how runs are grouped."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest

import runs.engine as engine
from model.records import (
    TWIN_SPELL_COLUMNS,
    SpellRows,
    add_twin_columns,
    match_twins,
    match_twins_of_runs,
    spell_arrays,
    spells_frame,
)
from model.rng import run_seed_for
from model.scenario import build_world, load_scenario
from model.simulation import (
    RunBuffers,
    copy_world,
    packed_world,
    simulate_arrays,
    simulate_twin_arrays,
)
from runs.experiment import Experiment, run_seed_integer

# Many spells per run, so that spell tables grow during runs.
CROWDED = load_scenario("synthetic:n_states=16,steps=240,world_seed=2").with_parameters(
    rho=0.5, u_form=-1.0, benefit_floor=0.0, cooldown=0, h_exo=0.05
)


# --------------------------------------------------------------------------- seeds


def test_a_chunk_keeps_the_seeds_of_an_experiment_that_chooses_its_own() -> None:
    class SameSeeds(Experiment):  # every point's replicate r gets run r's seed (as calibration)
        def run(self, run_id: int) -> tuple[int, int, int]:
            point_id, replicate = divmod(run_id, self.replicates)
            return point_id, replicate, run_seed_integer(self.master_seed, replicate)

    spec = load_scenario("synthetic:n_states=6,steps=60,world_seed=3")
    experiment = SameSeeds(scenario=spec, points=({}, {"alpha": 0.0}), replicates=3)
    runs = engine.execute_chunk(experiment, (0, 0, 6)).runs
    assert runs["seed"].tolist() == [experiment.run(r)[2] for r in range(6)]
    assert runs["seed"].tolist()[:3] == runs["seed"].tolist()[3:]


# --------------------------------------------------------------------------- reused arrays


def test_a_packed_world_has_the_array_types_the_kernel_was_compiled_for() -> None:
    for spec in (CROWDED, load_scenario("russia-dprk-2023")):
        world = build_world(spec)[0]
        _, packed = packed_world(world)
        for name, mine, fresh in zip(world._fields, packed, copy_world(world), strict=True):
            assert numba.typeof(mine) == numba.typeof(fresh), name
            np.testing.assert_array_equal(mine, fresh)
            assert not np.shares_memory(mine, getattr(world, name))


def _same_spells(mine, fresh) -> None:
    n = int(fresh.spells.count[0])
    assert int(mine.spells.count[0]) == n
    for name, column in fresh.spells._asdict().items():
        if name not in ("count", "n_active", "active"):
            np.testing.assert_array_equal(getattr(mine.spells, name)[:n], column[:n])
    np.testing.assert_array_equal(mine.records.aggregate, fresh.records.aggregate)
    np.testing.assert_array_equal(mine.records.state_credibility, fresh.records.state_credibility)
    np.testing.assert_array_equal(mine.records.state_tension, fresh.records.state_tension)


def test_runs_in_reused_arrays_equal_runs_in_fresh_ones() -> None:
    """Worlds copied from a packed template, spell tables reset and grown, series overwritten:
    the same runs as in new arrays."""
    points = [CROWDED, CROWDED.with_parameters(alpha=0.0)]
    templates = [build_world(p) for p in points]
    frozen = np.arange(16) < 5
    plain, twins = RunBuffers(), RunBuffers()
    for seed, point in ((1, 0), (2, 0), (3, 1), (4, 0)):
        spec, template = points[point], templates[point]
        options = dict(template=template, record_states=seed % 2 == 1)
        run_seed = np.uint64(seed)
        fresh = simulate_arrays(spec, run_seed, 240, record_states=seed % 2 == 1)
        _same_spells(simulate_arrays(spec, run_seed, 240, buffers=plain, **options), fresh)
        fresh_run, fresh_twin = simulate_twin_arrays(spec, run_seed, 240, frozen, **options)
        run, twin = simulate_twin_arrays(spec, run_seed, 240, frozen, buffers=twins, **options)
        _same_spells(run, fresh_run)
        _same_spells(twin, fresh_twin)
        assert int(fresh_twin.spells.count[0]) > 64  # the tables grew


# --------------------------------------------------------------------------- gathered spells


def test_spells_gathered_from_runs_are_each_runs_spell_arrays() -> None:
    buffers = RunBuffers()
    template = build_world(CROWDED)
    rows, twin_rows = SpellRows(), SpellRows(TWIN_SPELL_COLUMNS)
    expected, expected_twin = [], []
    for seed in (1, 2, 3):
        run, twin = simulate_twin_arrays(
            CROWDED, np.uint64(seed), 240, np.ones(16, np.bool_), template=template,
            buffers=buffers,
        )  # fmt: skip
        rows.add(run.spells)
        twin_rows.add(twin.spells)
        expected.append(spell_arrays(run.spells, 240))
        expected_twin.append(spell_arrays(twin.spells, 240))
    got, got_twin = rows.arrays(240), twin_rows.arrays(240)
    for name, column in got.items():
        want = np.concatenate([e[name] for e in expected])
        assert column.dtype == want.dtype, name
        np.testing.assert_array_equal(column, want, err_msg=name)
    for name, column in got_twin.items():
        np.testing.assert_array_equal(column, np.concatenate([e[name] for e in expected_twin]))
    assert rows.counts == [len(e["spell"]) for e in expected]


def _random_spells(draw: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    a = draw.integers(0, 4, n)
    return {
        "spell": np.arange(n, dtype=np.int64),
        "member_a": a,
        "member_b": a + draw.integers(1, 3, n),
        "start_step": draw.integers(0, 60, n),  # repeats: ties at equal distance
        "duration": draw.integers(0, 40, n),
        "event": draw.integers(0, 2, n),
    }


@pytest.mark.parametrize("key_limit", [2**62, 1])  # 1: the run-by-run path
def test_twins_matched_over_a_chunk_are_matched_run_by_run(monkeypatch, key_limit: int) -> None:
    import model.records

    monkeypatch.setattr(model.records, "KEY_LIMIT", key_limit)
    draw = np.random.default_rng(3)
    factual = [_random_spells(draw, int(draw.integers(0, 25))) for _ in range(60)]
    twin = [_random_spells(draw, int(draw.integers(0, 25))) for _ in range(60)]
    factual[4], twin[7] = _random_spells(draw, 0), _random_spells(draw, 0)
    expected = [match_twins(f, t) for f, t in zip(factual, twin, strict=True)]

    def joined(runs):
        return {k: np.concatenate([r[k] for r in runs]) for k in runs[0]}

    got = match_twins_of_runs(
        joined(factual), joined(twin), [len(f["spell"]) for f in factual],
        [len(t["spell"]) for t in twin],
    )  # fmt: skip
    for name, column in got.items():
        np.testing.assert_array_equal(column, np.concatenate([e[name] for e in expected]))
        assert column.dtype == np.int64
    assert (got["pivotal"] >= 0).sum() > 50 and (got["twin_duration"] < 0).sum() > 10


# --------------------------------------------------------------------------- a whole chunk


def _chunk_run_by_run(experiment: Experiment, first: int, stop: int) -> pd.DataFrame:
    """The spells of a chunk as the engine made them before it grouped the runs' work."""
    frames = []
    steps = experiment.horizon
    for run_id in range(first, stop):
        point_id, _, seed = experiment.run(run_id)
        try:
            point = experiment.scenario.with_parameters(**experiment.points[point_id])
        except ValueError:
            continue
        run, twin = simulate_twin_arrays(
            point, run_seed_for(seed), steps, experiment.twin_frozen_mask()
        )
        frame = spells_frame(point, run.spells, steps, run_id=run_id, seed=seed)
        columns = match_twins(spell_arrays(run.spells, steps), spell_arrays(twin.spells, steps))
        frame = add_twin_columns(frame, columns)
        frame.insert(0, "point_id", frame["run_id"].to_numpy() // experiment.replicates)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_a_chunk_equals_its_runs_made_one_by_one() -> None:
    experiment = Experiment(
        scenario=CROWDED,
        points=({}, {"w_init": 0.1}, {"alpha": 0.0}),  # the second point cannot run
        replicates=4,
        master_seed=2**63 + 5,
        twins=True,
    )
    result = engine.execute_chunk(experiment, (0, 2, 11))
    assert list(result.runs["status"]) == ["ok"] * 2 + ["error"] * 4 + ["ok"] * 3
    assert result.spells["run_id"].nunique() == 5 and len(result.spells) > 1000
    pd.testing.assert_frame_equal(result.spells, _chunk_run_by_run(experiment, 2, 11))
