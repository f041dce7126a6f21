from djtriggers.models import Worker


class Dashboard(Worker):
    """No data of its own: the admin index lists it, and its link opens the dashboard."""

    class Meta:
        proxy = True
        verbose_name = "live dashboard"
        verbose_name_plural = "live dashboard"
        default_permissions = ()
