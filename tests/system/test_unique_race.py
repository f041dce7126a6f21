"""One trigger per key under concurrent creators: several processes, one key, at once."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connection

from djtriggers.models import Trigger
from tests.system.unique_creator import TIMEOUT, create
from tests.testapp.models import UniqueSourceTrigger

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CREATORS = 6
ROUNDS = 5


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_create_unique__concurrent_processes_get_one_trigger(round_):
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(CREATORS)
    results = spawn.Queue()
    database = str(connection.settings_dict["NAME"])
    key = f"race-{round_}"
    processes = [
        spawn.Process(target=create, args=(database, key, barrier, results))
        for _ in range(CREATORS)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=TIMEOUT) for _ in processes]
    for process in processes:
        process.join(TIMEOUT)
        assert process.exitcode == 0
    assert sum(created for _, created in outcomes) == 1
    assert len({pk for pk, _ in outcomes}) == 1
    [pk] = {pk for pk, _ in outcomes}
    assert list(Trigger.objects.values_list("pk", flat=True)) == [pk]
    assert UniqueSourceTrigger.objects.get(pk=pk).source == key
