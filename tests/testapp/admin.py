"""The test project's admin: a concrete trigger subclass and a model that triggers point at."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from djtriggers.admin import SourceTriggersMixin, TriggerAdmin

from .models import PayBill, UniqueSourceTrigger

admin.site.register(PayBill, TriggerAdmin)
admin.site.register(UniqueSourceTrigger, TriggerAdmin)

admin.site.unregister(User)


@admin.register(User)
class UserWithTriggersAdmin(SourceTriggersMixin, UserAdmin):
    pass
