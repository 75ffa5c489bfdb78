"""Pivotality: is credibility why a partnership could not absorb the change (MODEL.md §3.12)?

Reads spell tables that carry twin columns (``alliance batch --twins``, docs/outputs.md) and
reports the share of ends that are credibility-pivotal, with a Wilson interval, beside the noise
floor (the reverse share), plus Kaplan–Meier survival of factual spells against their twins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Share:
    """A proportion with its 95% Wilson interval."""

    successes: int
    trials: int

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else float("nan")

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        if not self.trials:
            return float("nan"), float("nan")
        from scipy.stats import binomtest

        ci = binomtest(self.successes, self.trials).proportion_ci(level, method="wilson")
        return float(ci.low), float(ci.high)


def select_pair(spells: pd.DataFrame, pair: tuple[str, str] | None) -> pd.DataFrame:
    """The spells of one pair (either order), or all spells."""
    if pair is None:
        return spells
    a, b = pair
    mask = ((spells["state_a"] == a) & (spells["state_b"] == b)) | (
        (spells["state_a"] == b) & (spells["state_b"] == a)
    )
    return spells[mask]


def pivotality_summary(spells: pd.DataFrame, label: str) -> dict[str, object]:
    """One row: ends, pivotal share with interval, reverse share (noise floor) with interval."""
    for column in ("pivotal", "reverse", "twin_duration", "twin_event"):
        if column not in spells.columns:
            raise ValueError(f"spells table has no {column!r} column: run the batch with --twins")
    ended = spells[spells["event"] == 1]
    defined = ended[ended["pivotal"].notna()]
    pivotal = Share(int(defined["pivotal"].astype(int).sum()), len(defined))
    reverse = Share(int(defined["reverse"].astype(int).sum()), len(defined))
    twins_with = spells[spells["twin_event"].notna()]
    p_lo, p_hi = pivotal.interval()
    r_lo, r_hi = reverse.interval()
    return {
        "frozen": label,
        "spells": len(spells),
        "ended": len(ended),
        "ended_with_twin": len(defined),
        "twin_ended_share": float((twins_with["twin_event"] == 1).mean())
        if len(twins_with)
        else np.nan,
        "pivotal_share": pivotal.value,
        "pivotal_low": p_lo,
        "pivotal_high": p_hi,
        "reverse_share": reverse.value,
        "reverse_low": r_lo,
        "reverse_high": r_hi,
    }


def survival_figure(spells: pd.DataFrame, title: str, out_stem: Path) -> list[Path]:
    """Kaplan–Meier of factual spells and of their credibility-frozen twins, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    with_twin = spells[spells["twin_duration"].notna()]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, duration, event in (
        ("factual", with_twin["duration"], with_twin["event"]),
        ("credibility frozen (twin)", with_twin["twin_duration"], with_twin["twin_event"]),
    ):
        km = KaplanMeierFitter(label=label).fit(duration.astype(float) / 12.0, event.astype(int))
        km.plot_survival_function(ax=ax, ci_show=True)
    ax.set_xlabel("years since formation")
    ax.set_ylabel("share of partnerships still in force")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    fig.tight_layout()
    paths = []
    for suffix in ("png", "svg"):
        path = out_stem.with_suffix(f".{suffix}")
        fig.savefig(path, dpi=120)
        paths.append(path)
    plt.close(fig)
    return paths
