"""The dashboard's URLs (dashboard.urls), under the project's prefix."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

from dashboard import views


@pytest.mark.parametrize(
    ("name", "args", "path", "view"),
    [
        ("index", [], "/triggers/", views.index),
        ("summary", [], "/triggers/summary.json", views.summary),
        ("health", [], "/triggers/health/", views.health),
        ("metrics", [], "/triggers/metrics/", views.metrics),
        ("trigger_action", [12, "cancel"], "/triggers/triggers/12/cancel/", views.trigger_action),
        ("group_action", ["reprocess"], "/triggers/failures/reprocess/", views.group_action),
    ],
)
def test_urls__each_view_by_name(name, args, path, view):
    assert reverse(f"dashboard:{name}", args=args) == path
    match = resolve(path)
    assert (match.func, match.namespace) == (view, "dashboard")


def test_urls__a_trigger_id_is_a_number():
    from django.urls import Resolver404

    with pytest.raises(Resolver404):
        resolve("/triggers/triggers/abc/cancel/")
