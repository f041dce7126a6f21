"""The changelist's count (djtriggers.admin.paginator): capped, or PostgreSQL's estimate."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from djtriggers.admin.paginator import CappedPaginator
from djtriggers.models import Trigger
from tests.admin.conftest import CHANGELIST
from tests.factories import make

pytestmark = pytest.mark.django_db


def test_changelist__counts_at_most_the_cap(client, root, monkeypatch):
    monkeypatch.setattr("djtriggers.admin.paginator.COUNT_CAP", 5)
    make(8)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{CHANGELIST}?status=due")
    cl = response.context["cl"]
    assert (cl.result_count, cl.paginator.capped) == (5, True)
    assert len(cl.result_list) == 8
    assert "Counted up to 5: there are more." in response.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT 6" in sql for sql in counts)


def test_changelist__exact_count_under_the_cap(client, root, monkeypatch):
    monkeypatch.setattr("djtriggers.admin.paginator.COUNT_CAP", 5)
    make(4)
    response = client.get(f"{CHANGELIST}?status=due")
    cl = response.context["cl"]
    assert (cl.result_count, cl.paginator.capped) == (4, False)
    assert "there are more" not in response.content.decode()


def test_changelist__postgres_estimates_the_unfiltered_table(client, root, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the planner's estimate is read on PostgreSQL only")
    monkeypatch.setattr("djtriggers.admin.paginator.COUNT_CAP", 5)
    make(8)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE djtriggers_trigger")
    response = client.get(CHANGELIST)
    cl = response.context["cl"]
    assert (cl.result_count, cl.paginator.estimated) == (8, True)
    assert "About 8 triggers: an estimate" in response.content.decode()


def test_count__a_list_is_counted_as_it_is():
    paginator = CappedPaginator(list(range(7)), 5)
    assert (paginator.count, paginator.capped, paginator.estimated) == (7, False, False)


def test_count__an_unfiltered_table_estimated_above_the_cap_is_not_counted(monkeypatch):
    monkeypatch.setattr("djtriggers.admin.paginator.estimated_rows", lambda model, using: 20_000)
    make(3)
    paginator = CappedPaginator(Trigger.objects.all(), 50)
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 20_000
    assert (paginator.capped, paginator.estimated) == (True, True)
    assert not queries.captured_queries


@pytest.mark.parametrize("estimate", [None, 10_000])
def test_count__an_estimate_up_to_the_cap_is_counted_exactly(monkeypatch, estimate):
    monkeypatch.setattr("djtriggers.admin.paginator.estimated_rows", lambda model, using: estimate)
    make(3)
    paginator = CappedPaginator(Trigger.objects.all(), 50)
    assert (paginator.count, paginator.capped, paginator.estimated) == (3, False, False)


def test_count__a_filtered_queryset_never_reads_the_estimate(monkeypatch):
    def estimate(model, using):
        raise AssertionError("a filtered list is counted")

    monkeypatch.setattr("djtriggers.admin.paginator.estimated_rows", estimate)
    make(3)
    assert CappedPaginator(Trigger.objects.due(), 50).count == 3
