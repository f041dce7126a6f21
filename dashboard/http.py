"""The dashboard's requests: django-htmx's middleware (system check E007) adds ``htmx``."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
