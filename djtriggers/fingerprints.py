"""Failures that are "the same": type, exception class and message without the specifics."""

from __future__ import annotations

import hashlib
import re

# Ids, numbers, hex and quoted values differ between failures that are alike.
_SPECIFICS = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuids
    r"|0x[0-9a-f]+|\b[0-9a-f]{12,}\b"  # addresses, hashes
    r"|\d+(?:\.\d+)?"  # numbers
    r"|'[^']*'|\"[^\"]*\"",  # quoted values
    re.IGNORECASE,
)


def normalize(message: str) -> str:
    return _SPECIFICS.sub("#", message)[:500]


def fingerprint(trigger_type: str, exception_class: str, message: str) -> str:
    text = "\0".join((trigger_type, exception_class, normalize(message)))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]
