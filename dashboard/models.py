from django.utils.translation import gettext_lazy as _

from djtriggers.models import Worker


class Dashboard(Worker):
    """No data of its own: the admin index lists it, and its link opens the dashboard."""

    class Meta:
        proxy = True
        verbose_name = _("live dashboard")
        verbose_name_plural = _("live dashboard")
        default_permissions = ()
