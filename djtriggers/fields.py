from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models

from .times import displayable

if TYPE_CHECKING:
    _Base = models.DateTimeField[Any, Any]
else:  # Django's fields are not subscriptable at run time
    _Base = models.DateTimeField


class DisplayableDateTimeField(_Base):
    """A DateTimeField that reads back any stored time as one every page can show.

    The trigger's times may be written by anyone (2.x code, raw SQL); see
    ``times.displayable``.
    """

    def from_db_value(self, value: datetime | None, expression: Any, connection: Any) -> Any:
        return displayable(value)
