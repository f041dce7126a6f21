"""The exceptions of the API (djtriggers.exceptions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from djtriggers.exceptions import (
    AlreadyProcessedError,
    ProcessError,
    ProcessLaterError,
    TriggerDataMissing,
    UnknownTriggerType,
)
from tests.testapp.models import PayBill


def test_process_error__carries_the_original_exception():
    cause = ValueError("boom")
    error = ProcessError("ValueError: boom", exception=cause)
    assert (str(error), error.exception) == ("ValueError: boom", cause)
    assert ProcessError().exception is None


def test_process_later_error__is_a_process_error_with_a_time():
    when = datetime(2031, 1, 2, tzinfo=UTC)
    error = ProcessLaterError(when, "not yet")
    assert isinstance(error, ProcessError)
    assert (error.process_after, str(error), error.exception) == (when, "not yet", None)


def test_lookup_errors__are_lookup_errors():
    assert issubclass(UnknownTriggerType, LookupError)
    assert issubclass(TriggerDataMissing, LookupError)
    assert issubclass(AlreadyProcessedError, Exception)


def test_trigger_data_missing__names_the_trigger_its_table_and_what_to_do():
    bill = PayBill(pk=12, trigger_type="testapp.paybill")
    error = TriggerDataMissing(bill, PayBill)
    assert (error.trigger_id, error.trigger_class) == (12, PayBill)
    assert str(error) == (
        "Trigger 12 (testapp.paybill) has lost its own data: its row in testapp_paybill "
        "(PayBill) was deleted. Cancel or delete the trigger."
    )
    with pytest.raises(LookupError):
        raise error
