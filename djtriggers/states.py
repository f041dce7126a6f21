# Temporary: the vocabulary moved to djtriggers.lifecycle.
from .lifecycle import FINAL, State, Status  # noqa: F401
