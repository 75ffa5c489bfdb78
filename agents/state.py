"""The Mesa state agent: thin views into the model's arrays, plus its decision rule.

A :class:`State` owns no numbers of its own: ``principles``, ``conduct``, ``needs``, ``supply``,
``credibility``, ``tension`` and ``risk`` are views of row ``index`` of the model's
structure-of-arrays (model/arrays.py), so what the kernel writes is what the agent reads, and a
value the agent (or a user) assigns is what the kernel reads.

The agent *decides*; the kernel *updates*. The one decision in the reference model is how far to
distance itself from each partner (MODEL.md §3 item 4: ``E_ij = W_ij · (1 − d_ij)``). Subclass
:class:`State` and override :meth:`distancing` to try another rule; the kernel is untouched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from model.alliance_model import AllianceModel


def _row_view(array_name: str, doc: str) -> property:
    def getter(self: State) -> np.ndarray:
        return getattr(self.model.world, array_name)[self.index, ...]

    def setter(self: State, value) -> None:
        getattr(self.model.world, array_name)[self.index] = value

    return property(getter, setter, doc=doc)


class State(mesa.Agent):
    """A state in the international system (one row of the model's arrays)."""

    principles = _row_view("principles", "P[i, :]: stated salience of each norm, in [0, 1].")
    conduct = _row_view("conduct", "V[i, :]: monthly propensity to act against each norm.")
    needs = _row_view("needs", "D[i, :]: current need for each resource, in [0, 1].")
    needs_baseline = _row_view("needs_baseline", "D̄[i, :]: the level needs revert to.")
    supply = _row_view("supply", "S[i, :]: capacity to provide each resource, in [0, 1].")
    credibility = _row_view("credibility", "C[i, :]: credibility of the stance on each norm.")
    contradiction = _row_view("contradiction", "H[i, :]: this step's contradiction per norm.")
    recent_conduct = _row_view("recent_conduct", "x̄[i, :]: 12-month average of acts.")
    tension = _row_view("tension", "T[i]: pressure from rivals (a 0-d view).")
    risk = _row_view("risk", "R[i]: brinkmanship readiness (a 0-d view).")
    power = _row_view("power", "Capability share (a 0-d view).")

    def __init__(self, model: AllianceModel, *, index: int, name: str) -> None:
        super().__init__(model)
        self.index = index
        self.name = name

    def __repr__(self) -> str:
        return f"State({self.name!r}, index={self.index})"

    # ------------------------------------------------------------------ the decision rule

    def distancing(self, partner: State, strength: float) -> float:
        """Share of the partnership's endorsement this state withholds from ``partner``'s acts.

        0 endorses in full (E = W), 1 withholds all endorsement (E = 0). The reference rule
        never distances (MODEL.md §3 item 4: "default none"). Override in a subclass.
        """
        return 0.0

    def partners(self) -> list[tuple[State, int, int]]:
        """Active partners as ``(partner, spell row, own side)`` triples."""
        return self.model.partners_of(self.index)

    def step(self) -> None:
        """Decide this month's distancing from each partner (read by the kernel's next step)."""
        spells = self.model.spells
        for partner, row, side in self.partners():
            choice = float(self.distancing(partner, float(spells.strength[row])))
            spells.distancing[row, side] = min(1.0, max(0.0, choice))

    @classmethod
    def uses_reference_rule(cls) -> bool:
        """True when the decision rule is the reference one, so the whole-run fast path applies."""
        return cls.distancing is State.distancing and cls.step is State.step
