"""pause_triggers and resume_triggers: pause, list, resume, and unknown types."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from djtriggers import controls
from djtriggers.models import OperatorAction, PausedType
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_pause_list_and_resume():
    assert run("pause_triggers") == "No type is paused.\n"
    assert run("pause_triggers", "noop", "counting", "--reason", "partner down") == (
        "Paused noop.\nPaused counting.\n"
    )
    assert run("pause_triggers", "noop") == "noop was paused already.\n"
    factories.make(3)
    listing = run("pause_triggers", "--list")
    assert "counting paused at " in listing
    assert "by code (partner down): 0 due, the oldest for -" in listing
    assert "noop paused at " in listing
    assert re.search(r"\(partner down\): 3 due, the oldest for 30\ds", listing)
    assert run("resume_triggers", "noop") == "Resumed noop.\n"
    assert run("resume_triggers", "noop") == "noop was not paused.\n"
    assert controls.paused_types() == {"counting"}
    assert OperatorAction.objects.filter(kind="resume", trigger_type="noop").count() == 1


def test_unknown_types__an_error_and_nothing_changes():
    with pytest.raises(CommandError, match=r"No trigger type 'nope': use one of .*noop"):
        run("pause_triggers", "noop", "nope")
    assert not PausedType.objects.exists()
    with pytest.raises(CommandError, match="No trigger type 'nope'"):
        run("resume_triggers", "nope")


def test_resume__a_paused_type_whose_class_is_gone():
    PausedType.objects.create(trigger_type="gone")
    assert run("resume_triggers", "gone") == "Resumed gone.\n"


def test_pause__bad_options():
    with pytest.raises(CommandError, match="either types to pause or --list"):
        run("pause_triggers", "noop", "--list")
    with pytest.raises(CommandError, match="at most 1000 characters"):
        run("pause_triggers", "noop", "--reason", "x" * 1001)
    assert not PausedType.objects.exists()
