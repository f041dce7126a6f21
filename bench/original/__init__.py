"""The original django-triggers 2.1.5's side of the benchmark: settings and a no-op trigger.

Runs in bench/.venv-original, where ``djtriggers`` is the release from PyPI.
"""
