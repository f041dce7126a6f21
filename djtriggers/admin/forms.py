from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..durations import parse_duration

_RELATIVE = re.compile(r"^\s*\+")


def parse_when(text: str) -> datetime:
    """An absolute date and time, or a delay from now such as ``+2h`` or ``+1d12h``."""
    if _RELATIVE.match(text):
        try:
            return timezone.now() + parse_duration(_RELATIVE.sub("", text))
        except ValueError:
            raise ValueError(
                f"{text.strip()!r} is not a delay: use + and a number with a unit "
                "(s, m, h, d or w), e.g. +90s, +30m, +2h or +1d12h."
            ) from None
    try:
        when = parse_datetime(text.strip().replace("T", " "))
    except ValueError as exc:  # well formed but impossible, such as 2026-02-30
        raise ValueError(f"{text.strip()!r} is not a valid date and time: {exc}.") from None
    if when is None:
        raise ValueError(
            f"{text.strip()!r} is neither a date and time (2026-12-24 18:00) "
            "nor a delay (+2h, +30m, +1d)."
        )
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


class WhenField(forms.CharField):
    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        value = super().to_python(value)
        if not value:
            return None
        try:
            return parse_when(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class ReasonMixin(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Optional; kept in the audit trail of every trigger changed.",
    )


class RescheduleForm(ReasonMixin):
    field_order = ["process_after", "spread", "reason"]

    process_after = WhenField(
        label="Process after",
        help_text="A date and time (2026-12-24 18:00, in the server's time zone) "
        "or a delay from now (+2h, +30m, +1d).",
    )
    spread = forms.CharField(
        required=False,
        label="Spread over",
        help_text="Optional: pace the triggers over this period (e.g. 1h) instead of "
        "making them all due at once.",
    )

    def clean_spread(self) -> timedelta | None:
        return _clean_duration(self.cleaned_data["spread"])


class ReprocessForm(ReasonMixin):
    field_order = ["spread", "reason"]

    spread = forms.CharField(
        label="Spread over",
        help_text="Pace the triggers over this period (e.g. 30m, 1h, 1d) so that a "
        "system that was down is not flooded.",
    )

    def clean_spread(self) -> timedelta | None:
        return _clean_duration(self.cleaned_data["spread"])


class CancelForm(ReasonMixin):
    pass


def _clean_duration(text: str) -> timedelta | None:
    if not text:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise forms.ValidationError(str(exc), code="invalid") from None
