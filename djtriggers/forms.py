"""The form of an operator action: the time, the period, the priority and the reason it asks for.

Built from the action's row in ``actions.ACTIONS`` and checked by
``actions.validate``, so the admin's pages and the dashboard read and refuse
values the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from . import priorities, times
from .actions import Action, ActionError, validate

WHEN_HELP = _(
    # Translators: keep the examples and the last word, "now", as they are: it is what people type.
    "A date and time (2026-12-24 18:00, in the server's time zone), "
    "a delay from now (+2h, +30m, +1d) or now."
)
# Translators: keep the examples as they are (the units are typed in English).
SPREAD_HELP = _("Pace the triggers over this period (e.g. 30m, 1h, 1d) instead of all at once.")


class ParsedField(forms.CharField):
    """Text as people type it, read by one of the parsers of ``times``."""

    parse: Callable[[str], Any]

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if not value:
            return None
        try:
            return self.parse(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class WhenField(ParsedField):
    """A time: now, +2h, 2026-12-24 18:00 (see ``times.parse_when``)."""

    parse = staticmethod(times.parse_when)


class PeriodField(ParsedField):
    """A duration: 30m, 1d, 1w2d (see ``times.parse_duration``)."""

    parse = staticmethod(times.parse_duration)


class PriorityField(ParsedField):
    """A priority typed in ASCII digits, 0 (runs first) to 9 (see ``priorities.parse``)."""

    parse = staticmethod(priorities.parse)


class ActionForm(forms.Form):
    """The values ``action`` asks for; ``spread`` says whether the period is required."""

    def __init__(
        self, action: Action, data: Any = None, *, spread: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        self.action = action
        if action.needs_time:
            self.fields["process_after"] = WhenField(label=_("Process after"), help_text=WHEN_HELP)
        if action.needs_priority:
            self.fields["priority"] = PriorityField(
                label=_("Priority"),
                help_text=_("A whole number from 0 (runs first) to 9 (runs last)."),
            )
        if action.spreads and (spread or action.needs_time):
            # Translators: "Optional. " before a field's help text.
            optional = format_lazy(_("Optional. {}"), SPREAD_HELP)
            self.fields["spread"] = PeriodField(
                label=_("Spread over"),
                required=spread,
                help_text=SPREAD_HELP if spread else optional,
            )
        self.fields["reason"] = forms.CharField(
            label=_("Reason"),
            required=False,
            max_length=1000,
            widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
            help_text=_("Optional; kept in the audit trail of every trigger changed."),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                validate(
                    self.action,
                    when=data.get("process_after"),
                    spread=data.get("spread"),
                    reason=data.get("reason", ""),
                    priority=data.get("priority"),
                )
            except ActionError as exc:
                raise forms.ValidationError(str(exc), code="invalid") from None
        return data

    def values(self) -> dict[str, Any]:
        """The keyword arguments of ``actions.perform``."""
        data = self.cleaned_data
        values = {
            "when": data.get("process_after"),
            "spread": data.get("spread"),
            "reason": data.get("reason", ""),
        }
        if self.action.needs_priority:
            values["priority"] = data.get("priority")
        return values
