"""Benchmark: calibrate the synthetic world to the ATOP targets within ten minutes.

    NUMBA_CACHE_DIR=.numba-cache uv run python benchmarks/bench_calibration.py [--minutes 10]

Runs the same calibration as ``alliance calibrate`` (default parameter set, 20-state synthetic
world over 50 years, burn-in 10 years, up to 64 runs per point to reach 365 spells) with a
time limit, and prints the number of simulated runs it used, the runs per second, the elapsed
time as a ratio of the limit, the fitted parameters and the distance per target. Not a test:
nothing here asserts a time. Pass --budget to bound the work by runs instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba-cache"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock limit")
    parser.add_argument("--budget", type=int, default=100_000, help="most simulated runs")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench-calibration")
    args = parser.parse_args()

    from analysis.calibration import calibrate, load_targets, write_calibration
    from analysis.evaluation import DEFAULT_SPACE, DEFAULT_WORLD, SimulationSettings
    from model.scenario import load_scenario
    from runs.cli_analysis import calibration_summary
    from runs.engine import warm_kernel
    from runs.output import prepare_output_dir

    compile_clock = time.monotonic()
    warm_kernel()  # compiles the kernel once after a code change; cached afterwards
    compile_seconds = time.monotonic() - compile_clock
    clock = time.monotonic()
    settings = SimulationSettings(
        load_scenario(DEFAULT_WORLD), replicates=4, burn_in=120, min_spells=365, max_replicates=64
    )
    targets = load_targets()
    # Leave about a minute for writing the figure and tables inside the limit.
    limit = max(60.0, args.minutes * 60 - 60 - (time.monotonic() - clock))
    result = calibrate(
        settings,
        DEFAULT_SPACE,
        targets,
        budget=args.budget,
        workers=args.workers,
        max_seconds=limit,
        progress=lambda message: print(message, flush=True),
    )
    write_calibration(result, settings, targets, prepare_output_dir(args.out))
    elapsed = time.monotonic() - clock
    print()
    print(calibration_summary(result))
    print()
    print(f"simulated runs used: {result.runs_used}")
    print(f"runs per second (simulation and statistics): {result.runs_used / result.seconds:.1f}")
    limit_s = args.minutes * 60
    print(f"kernel compile or cache load before the clock: {compile_seconds:.0f} s")
    print(
        f"elapsed: {elapsed:.0f} s = {elapsed / limit_s:.2f} of the {args.minutes:g}-minute limit"
    )
    print(f"outputs in {args.out}/")


if __name__ == "__main__":
    main()
