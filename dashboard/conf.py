"""The dashboard's settings (``DJTRIGGERS_<NAME>``), declared like djtriggers' own."""

from __future__ import annotations

from djtriggers.conf import HOUR, WEEK, BaseSettings, Bounds, setting


class DashboardSettings(BaseSettings):
    # The health check fails when the oldest due trigger has waited longer
    # than this, or when triggers are due and no worker has sent a heartbeat
    # for HEALTH_MAX_HEARTBEAT_AGE_SECONDS.
    HEALTH_MAX_DUE_AGE_SECONDS: float = setting(300.0, Bounds(0, WEEK, low_open=True, seconds=True))
    HEALTH_MAX_HEARTBEAT_AGE_SECONDS: float = setting(
        60.0, Bounds(0, WEEK, low_open=True, seconds=True)
    )
    # How often the dashboard refreshes itself: it shows and polls "every Ns",
    # so a fraction would be rounded.
    DASHBOARD_REFRESH_SECONDS: float = setting(5.0, Bounds(1, HOUR, whole=True, seconds=True))
    # The admin site (its name, as in AdminSite(name=...)) whose trigger pages
    # the dashboard links to; checked by check_dashboard_admin_site.
    DASHBOARD_ADMIN_SITE: str = setting("admin")


settings = DashboardSettings()
