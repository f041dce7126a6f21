"""The dashboard's model (dashboard.models): a place on the admin index, no table of its own."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from dashboard.models import Dashboard
from djtriggers.models import Worker
from tests.factories import worker


def test_dashboard__a_proxy_of_the_workers_table():
    assert Dashboard._meta.proxy
    assert Dashboard._meta.db_table == Worker._meta.db_table
    assert str(Dashboard._meta.verbose_name) == "live dashboard"
    assert str(Dashboard._meta.verbose_name_plural) == "live dashboard"


@pytest.mark.django_db
def test_dashboard__adds_no_permissions_of_its_own():
    assert Dashboard._meta.default_permissions == ()
    assert not Permission.objects.filter(content_type__app_label="djtriggers_dashboard").exists()


@pytest.mark.django_db
def test_dashboard__reads_the_workers_rows():
    worker("w1")
    assert [str(row) for row in Dashboard.objects.all()] == ["w1"]
