"""The 2.x entry points (djtriggers.logic): process_triggers() and clean_triggers()."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers.logic import clean_triggers, process_triggers
from tests.factories import processed
from tests.testapp.models import NoopTrigger

pytestmark = pytest.mark.django_db


def test_logic_entry_points():
    NoopTrigger.objects.create()
    assert process_triggers().succeeded == 1
    processed(at=timezone.now() - timedelta(days=61))
    assert clean_triggers() == 1
    assert clean_triggers(expiration_dt=timezone.now() + timedelta(days=1)) == 1
