"""Mesa agents of the alliance-durability model."""

from agents.state import State

__all__ = ["State"]
