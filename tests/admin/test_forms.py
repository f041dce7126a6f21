"""djtriggers.admin.forms: the admin's form names, kept importable from djtriggers.forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from djtriggers import forms as action_forms
from djtriggers.admin import forms


def test_admin_forms__parse_when_delegates_to_times():
    assert forms.parse_when("2026-12-24 18:00") == datetime(2026, 12, 24, 18, tzinfo=UTC)
    with pytest.raises(ValueError, match="too far ahead"):
        forms.parse_when("+99999999d")


def test_admin_forms__are_the_action_forms():
    assert forms.ActionForm is action_forms.ActionForm
    assert forms.WhenField is action_forms.WhenField
    assert forms.PeriodField is action_forms.PeriodField
