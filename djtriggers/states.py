"""The statuses and states, as 3.0's previews named them; they live in ``djtriggers.lifecycle``."""

from .lifecycle import CANCEL, FINAL, REVIVE, State, Status

__all__ = ["CANCELLABLE", "FINAL", "REVIVABLE", "State", "Status"]

# The states an operator may bring back to life, and those they may cancel.
REVIVABLE = REVIVE.sources
CANCELLABLE = CANCEL.sources
