import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from djtriggers import lifecycle, uniqueness
from djtriggers.models import Trigger
from tests.factories import advance, make
from tests.testapp.models import NoopTrigger, UniqueBill, UniqueSourceTrigger

pytestmark = pytest.mark.django_db(transaction=True)


def finish(trigger):
    now = timezone.now()
    return advance(
        trigger,
        (lifecycle.CLAIM, {"worker": "w1", "until": now}),
        (lifecycle.SUCCEED, {"now": now}),
    )


def test_key__source_or_named_fields():
    assert UniqueSourceTrigger.objects.create(source="bill$7").trigger_key == "source=bill$7"
    alice = User.objects.create(username="alice")
    bill = UniqueBill.objects.create(recipient=alice, amount=10)
    assert bill.trigger_key == f"recipient={alice.pk}&amount=10"
    assert NoopTrigger.objects.create(source="x").trigger_key is None
    assert UniqueSourceTrigger.objects.create().trigger_key is None  # no source: no key


def test_key__too_long_is_hashed():
    key = uniqueness.fit("x" * 300)
    assert key.startswith("sha256:") and len(key) <= uniqueness.KEY_LENGTH


def test_create__a_duplicate_raises_integrity_error():
    UniqueSourceTrigger.objects.create(source="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        UniqueSourceTrigger.objects.create(source="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        UniqueSourceTrigger.objects.bulk_create([UniqueSourceTrigger(source="a")])
    assert Trigger.objects.count() == 1


def test_create_unique__returns_the_unfinished_one():
    first, created = UniqueSourceTrigger.objects.create_unique(source="a")
    assert created
    again, created = UniqueSourceTrigger.objects.create_unique(source="a")
    assert (again.pk, created) == (first.pk, False)
    other, created = UniqueSourceTrigger.objects.create_unique(source="b")
    assert created and other.pk != first.pk


def test_create_unique__same_key_other_type_is_free():
    UniqueSourceTrigger.objects.create_unique(source="a")
    _, created = NoopTrigger.objects.create_unique(source="a", unique_key="source=a")
    assert created


def test_create_unique__explicit_key_for_a_schedule_slot():
    key = "schedule:7:2026-12-03T10:15"
    first, created = NoopTrigger.objects.create_unique(unique_key=key)
    assert created and first.trigger_key == key
    again, created = NoopTrigger.objects.create_unique(unique_key=key)
    assert (again.pk, created) == (first.pk, False)


def test_create_unique__needs_a_key():
    with pytest.raises(ValueError, match="declare unique_key"):
        NoopTrigger.objects.create_unique(source="a")


def test_create_unique__running_blocks():
    first, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    advance(first, (lifecycle.CLAIM, {"worker": "w1", "until": timezone.now()}))
    again, created = UniqueSourceTrigger.objects.create_unique(source="a")
    assert (again.pk, created) == (first.pk, False)


@pytest.mark.parametrize(
    "end",
    [
        "processed",
        "failed",
        "cancelled",
        "update_date_processed",
        "update_failed",
        "raw_sql",
        "save_2x",
    ],
)
def test_finished_triggers_do_not_block(end):
    first, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    qs = Trigger._base_manager.filter(pk=first.pk)
    now = timezone.now()
    if end == "processed":
        finish(first)
    elif end == "failed":
        advance(
            first,
            (lifecycle.CLAIM, {"worker": "w1", "until": now}),
            (lifecycle.GIVE_UP, {"tries": 1, "error": "x", "fingerprint": "f", "now": now}),
        )
    elif end == "cancelled":
        first.cancel()
    elif end == "update_date_processed":
        qs.update(date_processed=now, successful=True)
    elif end == "update_failed":
        qs.update(date_processed=now, successful=False)
    elif end == "raw_sql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Trigger._meta.db_table} SET date_processed = %s WHERE id = %s",
                [now, first.pk],
            )
    else:
        first.date_processed = now
        first.save()
    row = Trigger._base_manager.values("state", "unfinished_key").get(pk=first.pk)
    assert row["unfinished_key"] is None, row
    second, created = UniqueSourceTrigger.objects.create_unique(source="a")
    assert created and second.pk != first.pk


def test_2x_retry_by_clearing_date_processed_takes_the_key_again():
    first, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    finish(first)
    Trigger._base_manager.filter(pk=first.pk).update(date_processed=None)
    assert Trigger._base_manager.get(pk=first.pk).unfinished_key == "source=a"
    again, created = UniqueSourceTrigger.objects.create_unique(source="a")
    assert (again.pk, created) == (first.pk, False)


def test_reprocess_of_a_cancelled_duplicate_is_refused_by_the_database():
    first, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    first.cancel()
    UniqueSourceTrigger.objects.create_unique(source="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Trigger.objects.filter(pk=first.pk).reprocess()
    assert Trigger._base_manager.get(pk=first.pk).state == "cancelled"


def test_create_unique__loops_when_the_holder_finished_in_between(monkeypatch):
    # The insert conflicts, and by the time the holder is read it has finished.
    holder, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    reads = []
    real = uniqueness.holder_of

    def holder_of(queryset, trigger):
        reads.append(trigger.trigger_key)
        if len(reads) == 1:
            Trigger._base_manager.filter(pk=holder.pk).update(
                date_processed=timezone.now(), successful=True
            )
        return real(queryset, trigger)

    monkeypatch.setattr(uniqueness, "holder_of", holder_of)
    trigger, created = UniqueSourceTrigger.objects.create_unique(source="a")
    assert created and trigger.pk != holder.pk and reads == ["source=a"]


def isolation(connection, level):
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {level}")


def test_create_unique__in_a_transaction_finds_a_holder_committed_since_it_began():
    # On MariaDB a plain read in the caller's transaction would not see the holder
    # (REPEATABLE READ's snapshot), and create_unique would give up.
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has one writer at a time: the other could not commit")

    def elsewhere():
        try:
            UniqueSourceTrigger.objects.create_unique(source="a")
        finally:
            connections.close_all()

    # Django's MySQL backend asks for READ COMMITTED; a project may configure InnoDB's default.
    isolation(connection, "REPEATABLE READ")
    try:
        with transaction.atomic():
            assert not Trigger.objects.exists()  # the snapshot, before the other commits
            other = threading.Thread(target=elsewhere)
            other.start()
            other.join()
            trigger, created = UniqueSourceTrigger.objects.create_unique(source="a")
    finally:
        isolation(connection, "READ COMMITTED")
    assert not created
    assert Trigger.objects.get() == trigger


def test_create_unique__gives_up_on_another_integrity_error():
    with pytest.raises(IntegrityError):
        UniqueSourceTrigger.objects.create_unique(source="a", priority=99)


def test_pending_later_duplicates_count_too():
    make(1, UniqueSourceTrigger, source="a", process_after=timezone.now() + timedelta(days=1))
    _, created = UniqueSourceTrigger.objects.create_unique(source="a")
    assert not created


def test_import__a_duplicate_key_is_refused_and_nothing_is_written():
    from tests.test_resources import import_rows, problems

    UniqueSourceTrigger.objects.create(source="invoice-77")
    result = import_rows(
        {"trigger_type": "unique_source", "source": "invoice-78"},
        {"trigger_type": "unique_source", "source": "invoice-77"},
    )
    [(_, _, message)] = problems(result)
    assert message.startswith("The database refused the rows")
    assert Trigger.objects.count() == 1


def test_import__rows_get_the_key_of_their_type():
    from tests.test_resources import import_rows, problems

    result = import_rows(
        {"trigger_type": "unique_source", "source": "invoice-78"},
        {"trigger_type": "noop", "source": "x"},
    )
    assert problems(result) == []
    keys = dict(Trigger.objects.values_list("trigger_type", "trigger_key"))
    assert keys == {"unique_source": "source=invoice-78", "noop": None}


def test_key__a_plain_trigger_of_an_unknown_type_or_without_the_fields_has_none():
    assert uniqueness.key_of(Trigger(trigger_type="gone", source="x")) is None
    assert uniqueness.key_of(Trigger(trigger_type="unique_bill", source="x")) is None
    assert uniqueness.key_of(Trigger(trigger_type="unique_source", source="x")) == "source=x"


def test_reprocess_action__skips_a_trigger_whose_key_is_taken():
    from djtriggers import actions

    first, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    first.cancel()
    UniqueSourceTrigger.objects.create_unique(source="a")  # holds the key now
    free, _ = UniqueSourceTrigger.objects.create_unique(source="b")
    free.cancel()
    report = actions.perform("reprocess", Trigger.objects.filter(pk__in=[first.pk, free.pk]))
    assert report.changed == 1
    assert report.message() == "1 reprocessed, 1 skipped: its key is taken by an unfinished trigger"
    assert Trigger.objects.get(pk=first.pk).state == "cancelled"
    assert Trigger.objects.get(pk=free.pk).state == "scheduled"


def test_reprocess_action__two_finished_with_one_key_revive_only_the_first():
    from djtriggers import actions

    a, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    a.cancel()
    b, _ = UniqueSourceTrigger.objects.create_unique(source="a")
    b.cancel()
    report = actions.perform("reprocess", Trigger.objects.all())
    assert report.changed == 1
    assert Trigger.objects.get(pk=a.pk).state == "scheduled"
    assert Trigger.objects.get(pk=b.pk).state == "cancelled"
