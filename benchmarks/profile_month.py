"""Where a month of whole runs goes, phase by phase, read from the CPU's cycle counter.

    NUMBA_CACHE_DIR=.numba-cache uv run python benchmarks/profile_month.py [--runs 150] [--kernel F]

``bench_kernel.py --phases`` repeats each phase on one frozen state, so its draws, branches and
caches are those of one month seen again and again; this script instead times the phases inside
whole runs (20-state synthetic world, 600 months, default parameters). It compiles a copy of
``model/kernel.py`` with ``llvm.readcyclecounter`` readings between the phases of ``month`` (the
copy's other code is the kernel's, word for word), checks that the copy's runs equal the kernel's
bit for bit, and prints cycles per month: the best of three rounds of ``--runs`` runs. Reading the
counter costs some cycles per phase; ratios between phases are what it is for. Prints only.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model.arrays import Records, SpellTable
from model.scenario import build_world
from model.simulation import copy_world
from model.synthetic import synthetic_scenario

KERNEL = Path(__file__).resolve().parent.parent / "model" / "kernel.py"
PHASES = (
    ("events", "apply_events(t, w, sp, ev, params)"),
    ("drift", "drift(t, seed, w, params)"),
    ("acts", "draw_acts(t, seed, w, ev)"),
    ("prepare values", "prepare_values(w, params)"),
    ("flows, complicity", "flows(w, sp, params)"),
    ("credibility", "credibility(w, params)"),
    ("values, strength", "update_strength(w, sp, params)"),
    ("ends", "check_ends(t, seed, w, sp, params)"),
    ("formation", "status = form_partnerships(t, seed, w, sp, ev, params, -1)"),
    ("record", "record(t, w, sp, rec, params)"),
)
CYCLE_COUNTER = """
from numba import types
from numba.extending import intrinsic


@intrinsic
def cycles(typingctx):
    def codegen(context, builder, signature, args):
        import llvmlite.ir as ir

        function = builder.module.declare_intrinsic(
            "llvm.readcyclecounter", fnty=ir.FunctionType(ir.IntType(64), [])
        )
        return builder.call(function, [])

    return types.uint64(), codegen
"""


def instrumented_source(kernel_file: Path) -> str:
    """kernel.py with flows_and_credibility cut in two at its credibility loop, and a
    ``run_steps_cycles`` that reads the counter between phases into ``spent``."""
    source = kernel_file.read_text().replace("cache=True", "cache=False")
    start = source.index("@inline_function\ndef flows_and_credibility")
    end = source.index("@inline_function\ndef update_strength")
    body = source[start:end]
    cut = body.index("    alpha = params[P_ALPHA]")
    signature_end = body.index('    """')
    flows = body[:cut].replace(
        "def flows_and_credibility(w, sp, params)", "def flows(w, sp, params)"
    )
    credibility = (
        body[:signature_end].replace(
            "def flows_and_credibility(w, sp, params)", "def credibility(w, params)"
        )
        + "    n, n_norms = w.principles.shape\n"
        + body[cut:]
    )
    source = source[:end] + flows + "\n\n" + credibility + "\n\n" + source[end:]
    lines = [
        "",
        "",
        "@kernel_function",
        "def run_steps_cycles(seed, params, w, sp, ev, rec, spent):",
    ]
    lines.append("    for t in range(rec.aggregate.shape[0]):")
    lines.append("        before = cycles()")
    for index, (_, call) in enumerate(PHASES):
        lines.append(f"        {call}")
        if call.startswith("status"):
            lines.append("        if status != STEP_DONE:")
            lines.append("            return status")
        lines.append("        after = cycles()")
        lines.append(f"        spent[{index}] += after - before")
        lines.append("        before = after")
    lines.append(f"        spent[{len(PHASES)}] += sp.n_active[0]")
    lines.append("    return STEP_DONE")
    return source + CYCLE_COUNTER + "\n".join(lines) + "\n"


def load_instrumented(folder: Path, kernel_file: Path):
    path = folder / "kernel_cycles.py"
    path.write_text(instrumented_source(kernel_file))
    spec = importlib.util.spec_from_file_location("kernel_cycles", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["kernel_cycles"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=150, help="runs per round (3 rounds)")
    parser.add_argument(
        "--kernel",
        type=Path,
        default=KERNEL,
        help="a kernel.py to profile instead (e.g. an older one from git show, to compare)",
    )
    args = parser.parse_args()
    from model import kernel

    spec = synthetic_scenario(n_states=20, world_seed=1, steps=600)
    template, events = build_world(spec)
    params, k = spec.parameters.to_array(), len(spec.norms)
    spent = np.zeros(len(PHASES) + 1, np.uint64)

    def run(module, seed):
        world = copy_world(template)
        spells = SpellTable.empty(4096, k)  # never grown: 600 months of 20 states fit
        records = Records.empty(600, 20, k, False)
        if module is kernel:
            status, _ = kernel.run_steps(0, 600, seed, params, world, spells, events, records, -1)
        else:
            status = module.run_steps_cycles(seed, params, world, spells, events, records, spent)
        assert status == kernel.STEP_DONE, "spell table full: raise the capacity above"
        return spells, records

    with tempfile.TemporaryDirectory() as folder:
        counted = load_instrumented(Path(folder), args.kernel)
        for seed in range(1, 4):  # the copy does the kernel's work, bit for bit
            for a, b in zip(
                run(kernel, np.uint64(seed)), run(counted, np.uint64(seed)), strict=True
            ):
                for x, y in zip(a, b, strict=True):
                    if not np.array_equal(x, y):
                        sys.exit("the instrumented copy's runs differ from the kernel's")
        best, best_seconds = None, 0.0
        for _ in range(3):
            spent[:] = 0
            start = time.perf_counter()
            for seed in range(args.runs):
                run(counted, np.uint64(1000 + seed))
            seconds = time.perf_counter() - start
            if best is None or spent[:-1].sum() < best[:-1].sum():
                best, best_seconds = spent.copy(), seconds
    months = 600 * args.runs
    total = float(best[:-1].sum())
    print(
        f"Cycles per month, 20 states, 600 months, best of 3 x {args.runs} runs "
        f"({best[-1] / months:.1f} active partnerships on average; "
        f"{total / (best_seconds * 1e9):.2f} cycles per ns of wall time):"
    )
    for (name, _), value in zip(PHASES, best[:-1], strict=True):
        print(f"  {name:<20} {value / months:8.0f}  {100 * value / total:5.1f}%")
    print(f"  {'whole month':<20} {total / months:8.0f}")


if __name__ == "__main__":
    main()
