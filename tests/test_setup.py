"""The suite really runs on the database it was asked for."""

import os

from django.db import connection

VENDORS = {"sqlite": "sqlite", "postgres": "postgresql", "mariadb": "mysql"}


def test_runs_on_the_requested_database():
    assert connection.vendor == VENDORS[os.environ.get("DJTRIGGERS_TEST_DB", "sqlite")]
