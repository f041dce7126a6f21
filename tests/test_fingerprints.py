"""Failures that are alike (djtriggers.fingerprints): one fingerprint, whatever the specifics."""

from __future__ import annotations

import pytest

from djtriggers.exceptions import ProcessError
from djtriggers.fingerprints import fingerprint, normalize
from tests.testapp.models import FailingTrigger


@pytest.mark.django_db
def test_failures_alike_share_a_fingerprint():
    first, second = FailingTrigger.objects.create(), FailingTrigger.objects.create()
    for trigger in (first, second):
        with pytest.raises(ProcessError):
            trigger.process()
    assert first.error_fingerprint == second.error_fingerprint != ""
    assert normalize("user 42 'bob' at 0xdeadbeef") == "user # # at #"
    assert fingerprint("a", "ValueError", "x 1") != fingerprint("b", "ValueError", "x 1")
    first.reprocess()
    assert first.error_fingerprint == ""


@pytest.mark.parametrize(
    ("message", "normalized"),
    [
        ("order 3f2b8c1e-1d2a-4b3c-9d8e-0a1b2c3d4e5f not found", "order # not found"),
        ("object at 0x7f3a2b1c", "object at #"),
        ("hash deadbeefcafe1234 mismatch", "hash # mismatch"),
        ("took 1.5s of 30", "took #s of #"),
        ("""key 'abc' and "def" """, "key # and # "),
        ("no specifics here", "no specifics here"),
    ],
)
def test_normalize__the_specifics_become_hashes(message, normalized):
    assert normalize(message) == normalized


def test_normalize__is_cut_at_500_characters():
    assert normalize("x" * 600) == "x" * 500


def test_fingerprint__16_hex_characters_alike_for_alike_failures():
    first = fingerprint("billing", "ValueError", "invoice 12 is late")
    assert len(first) == 16 and int(first, 16) >= 0
    assert first == fingerprint("billing", "ValueError", "invoice 13 is late")
    assert first != fingerprint("billing", "KeyError", "invoice 12 is late")
    assert first != fingerprint("billing", "ValueError", "invoice 12 is gone")
    assert first != fingerprint("shipping", "ValueError", "invoice 12 is late")
