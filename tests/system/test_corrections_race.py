"""Operators correcting triggers' own data while real workers run them (djtriggers.corrections)."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from djtriggers import corrections
from djtriggers.models import OperatorAction, TriggerAttempt
from tests.system.test_concurrency import start_workers, stop_all, wait_until_settled
from tests.testapp.models import PayBill
from tests.workers import all_in_state

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_corrections__never_land_while_a_worker_runs_the_trigger(workers):
    """Save (and Save and reprocess) from many operator rounds while workers process the bills.

    A correction is refused while a worker holds or has claimed the trigger, and
    once it is processed; one that goes through lands before the worker's claim,
    so the try runs with the corrected data. (One listed as running may go through:
    a worker gives back a claim it could not lock for a moment, unstarted.) Nothing
    is lost: each trigger's corrections form one unbroken chain of old and new
    values, ending at its row.
    """
    payee = User.objects.create_user("payee")
    # Most bills are quick; a few take half a second, so workers are surely caught mid-run.
    naps = ["sleep:0.02"] * 60 + ["sleep:0.5"] * 4
    random.Random(7).shuffle(naps)
    # Pending: each runs once an operator reprocesses it ("Save and reprocess").
    later = timezone.now() + timedelta(hours=1)
    pks = [
        PayBill.objects.create(amount=0, recipient=payee, source=nap, process_after=later).pk
        for nap in naps
    ]
    started = start_workers(workers, 2 if connection.vendor == "sqlite" else 3, "--batch-size", "2")
    rng = random.Random(1234)
    corrected, targets_running, refused = 0, 0, {"held": 0, "running": 0, "processed": 0}
    deadline = time.monotonic() + 60
    while not all_in_state(pks, "processed"):
        assert time.monotonic() < deadline, "the workers made too little progress"
        # Try hardest on what the workers hold right now.
        running = list(
            PayBill.objects.filter(pk__in=pks, state="running").values_list("pk", flat=True)
        )
        waiting = list(
            PayBill.objects.filter(pk__in=pks, state="scheduled").values_list("pk", flat=True)
        )
        bill = PayBill.objects.get(pk=rng.choice(running or waiting or pks))
        bill.amount += 1
        targets_running += bool(running)
        try:
            corrections.save(bill, ["amount"], reprocess=rng.random() < 0.5)
            corrected += 1
        except corrections.NotEditable as exc:
            reason = (
                "held"
                if "right now" in str(exc)
                else "running"
                if "running" in str(exc)
                else "processed"
            )
            refused[reason] += 1
    wait_until_settled()
    stop_all(started)

    assert corrected, refused
    if connection.vendor != "sqlite":
        # The race was really run: operators aimed at running triggers and were refused.
        # (SQLite: the worker's write lock makes an operator wait until its group has
        # committed, and then the trigger is processed; whether a read in between finds
        # one running depends on the machine's load.)
        assert targets_running, refused
        assert refused["held"] + refused["running"], refused
    attempts = {a.trigger_id: a for a in TriggerAttempt.objects.filter(trigger_id__in=pks)}
    assert sorted(attempts) == sorted(pks)  # each ran once, after its last correction
    assert TriggerAttempt.objects.filter(trigger_id__in=pks).count() == len(pks)
    chains: dict[int, list[tuple[str, str]]] = {}
    for audit in OperatorAction.objects.filter(kind="edit").order_by("created_at", "id"):
        [pk] = audit.triggers.values_list("pk", flat=True)
        assert audit.created_at < attempts[pk].started_at  # never while it ran
        [change] = audit.changes
        chains.setdefault(pk, []).append((change["old"], change["new"]))
    assert sum(map(len, chains.values())) == corrected
    for pk, chain in chains.items():
        assert [old for old, _ in chain] == ["0"] + [new for _, new in chain[:-1]]
        assert str(PayBill.objects.get(pk=pk).amount) == chain[-1][1]
