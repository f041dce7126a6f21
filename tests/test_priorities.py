from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from djtriggers import priorities
from djtriggers.engine import Engine
from djtriggers.models import Trigger
from tests.factories import make, pending
from tests.testapp.models import NoopTrigger, UrgentTrigger

pytestmark = pytest.mark.django_db(transaction=True)


def ago(minutes):
    return timezone.now() - timedelta(minutes=minutes)


def test_priority__class_default_then_per_trigger():
    assert NoopTrigger.objects.create().priority == priorities.DEFAULT
    assert UrgentTrigger.objects.create().priority == 1
    assert UrgentTrigger.objects.create(priority=7).priority == 7
    assert [t.priority for t in make(2, UrgentTrigger)] == [1, 1]


def test_priority__raw_sql_and_2x_rows_get_the_default():
    table = Trigger._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (trigger_type, date_received, process_after, number_of_tries, "
            "state, last_error, error_fingerprint, run_alone) "
            "VALUES ('noop', %s, %s, 0, 'scheduled', '', '', %s)",
            [timezone.now(), timezone.now(), False],
        )
    assert Trigger.objects.get().priority == priorities.DEFAULT


def test_priority__out_of_range_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        NoopTrigger.objects.create(priority=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        NoopTrigger.objects.create(priority=-1)


def test_claim__by_priority_then_oldest_first():
    low = make(1, NoopTrigger, priority=9, process_after=ago(30))[0]
    mid_old = make(1, NoopTrigger, priority=5, process_after=ago(20))[0]
    mid_new = make(1, NoopTrigger, priority=5, process_after=ago(10))[0]
    high = make(1, NoopTrigger, priority=0, process_after=ago(1))[0]
    engine = Engine()
    assert [engine.claim(1) for _ in range(4)] == [[high.pk], [mid_old.pk], [mid_new.pk], [low.pk]]


def test_claim__future_triggers_of_a_higher_priority_are_not_taken():
    pending(NoopTrigger, priority=0)
    due = make(3, NoopTrigger, priority=8)
    assert sorted(Engine().claim(10)) == sorted(t.pk for t in due)


def test_claim__fills_from_several_priorities():
    a = make(2, NoopTrigger, priority=2)
    b = make(2, NoopTrigger, priority=6)
    claimed = Engine().claim(3)
    assert claimed[:2] == sorted((t.pk for t in a), key=claimed.index)
    assert claimed[2] in {t.pk for t in b}


def test_levels_due__one_query(django_assert_num_queries):
    make(1, NoopTrigger, priority=3)
    make(1, NoopTrigger, priority=7)
    pending(NoopTrigger, priority=1)
    scheduled = Trigger._base_manager.filter(state="scheduled")
    with django_assert_num_queries(1):
        assert priorities.levels_due(scheduled, timezone.now()) == [3, 7]


def test_starvation__every_nth_claim_takes_the_oldest_due_whatever_its_priority():
    # A steady stream of urgent triggers never leaves the lowest one waiting forever.
    starved = make(1, NoopTrigger, priority=priorities.LOWEST, process_after=ago(60))[0]
    make(priorities.OLDEST_FIRST_EVERY * 2, NoopTrigger, priority=0, process_after=ago(1))
    engine = Engine()
    claims = [engine.claim(1) for _ in range(priorities.OLDEST_FIRST_EVERY)]
    assert [starved.pk] not in claims[:-1]
    assert claims[-1] == [starved.pk]


def test_prioritize__waiting_and_failed_only():
    from tests.factories import failed, processed, running

    waiting, gone, done, busy = pending(), failed(), processed(), running()
    changed = Trigger.objects.filter(pk__in=[waiting.pk, gone.pk, done.pk, busy.pk]).prioritize(1)
    assert changed == 2
    values = dict(Trigger.objects.values_list("pk", "priority"))
    assert values == {waiting.pk: 1, gone.pk: 1, done.pk: 5, busy.pk: 5}


@pytest.mark.parametrize("value", [10, -1, "3", 2.0, True, None])
def test_prioritize__refuses_what_is_not_a_priority(value):
    pending()
    with pytest.raises(ValueError, match="not a priority"):
        Trigger.objects.prioritize(value)
    assert Trigger.objects.get().priority == priorities.DEFAULT


@pytest.mark.parametrize("text", ["", "x", "10", "-1", "٣", "3.0", " ² "])
def test_parse__clear_error(text):
    with pytest.raises(ValueError, match="not a priority"):
        priorities.parse(text)


def test_parse__ascii_digits():
    assert priorities.parse(" 3 ") == 3


def test_action__changes_waiting_and_failed_audited():
    from django.contrib.auth.models import User

    from djtriggers import actions
    from djtriggers.models import OperatorAction
    from tests.factories import failed, processed

    user = User.objects.create_superuser("boss")
    waiting, gone, done = pending(), failed(), processed()
    report = actions.perform("priority", Trigger.objects.all(), user=user, priority=2)
    assert report.changed == 2
    assert dict(Trigger.objects.values_list("pk", "priority")) == {
        waiting.pk: 2,
        gone.pk: 2,
        done.pk: 5,
    }
    audit = OperatorAction.objects.get()
    assert (audit.kind, audit.priority, audit.changed, audit.skipped) == ("priority", 2, 2, 1)


@pytest.mark.parametrize("value", [None, 10, "3"])
def test_action__bad_priority_changes_nothing(value):
    from djtriggers import actions
    from djtriggers.models import OperatorAction

    pending()
    with pytest.raises(actions.ActionError):
        actions.perform("priority", Trigger.objects.all(), priority=value)
    assert Trigger.objects.get().priority == 5
    assert not OperatorAction.objects.exists()


def test_action__other_actions_take_no_priority():
    from djtriggers import actions

    with pytest.raises(actions.ActionError, match="takes no priority"):
        actions.perform("cancel", Trigger.objects.all(), priority=3)
