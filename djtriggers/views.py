"""The core's one view: Prometheus's scrape of ``djtriggers.prometheus``.

No login, so that a scraper can call it: a project routes it itself, where only
the scraper reaches it (``path("metrics", djtriggers.views.metrics)``), as it
does the dashboard's ``health_check``. Staff find it on the dashboard
(``dashboard:metrics``), behind its login and permission.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from . import prometheus
from .conf import settings


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus's text format (or OpenMetrics, if the scraper asks).

    While DJTRIGGERS_PROMETHEUS is off it answers 404, and without
    prometheus_client 501, each with a body that says how to fix it.
    """
    reason = prometheus.problem()
    if reason:
        status = 404 if settings.PROMETHEUS is not True else 501
        return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
    body, content_type = prometheus.exposition(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)
