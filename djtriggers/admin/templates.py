"""Where the admin looks for the templates of our pages: where Django's admin looks for its own."""

from __future__ import annotations

from typing import Any

from django.db.models.options import Options


def template_names(opts: Options[Any], name: str, ours: str) -> list[str]:
    """``admin/<app_label>/<model_name>/<name>.html``, ``admin/<app_label>/<name>.html``, ours.

    A project overrides one of our pages for one model or a whole app with a
    template at one of the first two names, as it overrides Django's
    ``change_form.html``; extending ``ours`` from there keeps what we show. A
    ModelAdmin attribute (``change_form_template``, ``action_confirmation_template``)
    that is set wins over the list, as in Django.
    """
    return [
        f"admin/{opts.app_label}/{opts.model_name}/{name}.html",
        f"admin/{opts.app_label}/{name}.html",
        ours,
    ]
