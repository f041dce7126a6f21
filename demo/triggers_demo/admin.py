"""The demo's PayBill admin: its own data (amount, recipient) as columns, searched, and
corrected on a failed bill's page with "Save and reprocess"."""

from django.contrib import admin

from djtriggers.admin import TriggerAdmin

from .models import PayBill

admin.site.register(PayBill, TriggerAdmin)
