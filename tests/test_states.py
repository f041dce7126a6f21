"""djtriggers.states: the names 3.0's previews exported, now read from the lifecycle."""

from __future__ import annotations

from djtriggers import lifecycle, states


def test_states__are_the_lifecycles():
    assert states.State is lifecycle.State
    assert states.Status is lifecycle.Status
    assert states.FINAL == lifecycle.FINAL


def test_revivable_and_cancellable__the_sources_of_revive_and_cancel():
    assert set(states.REVIVABLE) == {"scheduled", "failed", "cancelled"}
    assert set(states.CANCELLABLE) == {"scheduled"}
    assert lifecycle.REVIVE.sources == states.REVIVABLE
    assert lifecycle.CANCEL.sources == states.CANCELLABLE
