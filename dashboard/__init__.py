"""The htmx operations dashboard for djtriggers."""
