"""Short human summaries printed by the CLI."""

from __future__ import annotations

from runs.single import RunResult


def summarize_run(result: RunResult, max_spells: int = 12) -> str:
    model = result.model
    spec = model.scenario_spec
    spells = result.spells
    last = spec.date_of(model.steps_done - 1)
    lines = [
        f"{spec.title}: {spec.start} to {last} ({model.steps_done} months), seed "
        f"{spells['seed'].iloc[0] if len(spells) else '-'}",
        f"{len(spells)} partnership spells, {int(spells['event'].sum())} ended, "
        f"{int((spells['event'] == 0).sum())} still active (censored).",
    ]
    if len(spells):
        lines.append("")
        lines.append(
            f"{'partnership':<34} {'kind':<6} {'start':<8} {'hollow':<8} {'ended':<8} cause"
        )
        # Pairs with a historical record (the scenario's subject) first, then by start.
        focal = {frozenset(h.members) for h in spec.history}
        pairs = zip(spells.state_a, spells.state_b, strict=True)
        is_focal = [frozenset(pair) in focal for pair in pairs]
        ordered = spells.assign(_focal=is_focal).sort_values(
            ["_focal", "start_step"], ascending=[False, True], kind="stable"
        )
        for row in ordered.head(max_spells).itertuples():
            pair = f"{row.state_a} – {row.state_b}"
            lines.append(
                f"{pair:<34} {row.kind:<6} {row.start_date:<8} {row.functional_end_date or '-':<8} "
                f"{row.formal_end_date or '-':<8} {row.cause or '(active)'}"
            )
        if len(spells) > max_spells:
            lines.append(f"... and {len(spells) - max_spells} more in spells.csv")
    states = result.states
    first = states[states["step"] == 0].set_index("state")
    final = states[states["step"] == model.steps_done - 1].set_index("state")
    cred = [c for c in states.columns if c.startswith("credibility_")]
    drops = (first[cred] - final[cred]).stack().sort_values(ascending=False).head(4)
    if len(drops) and drops.iloc[0] > 0.01:
        lines.append("")
        lines.append("Largest credibility losses (first month -> last):")
        for (state, column), _ in drops.items():
            norm = column.removeprefix("credibility_")
            lines.append(
                f"  {state:<16} {norm:<20} "
                f"{first.loc[state, column]:.2f} -> {final.loc[state, column]:.2f}"
            )
    if result.out is not None:
        lines.append("")
        lines.append(f"Results in {result.out}/ (spells.csv, timeseries.csv, states.csv, run.json)")
    return "\n".join(lines)
