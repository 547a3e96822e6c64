"""Plain Python values from what Ansible hands plugins (2.19 passes tagged/lazy containers and scalars)."""

from __future__ import annotations


def plain(value):
    """Dicts, lists and scalars as plain Python types, so the project's checks compare and serialize them as data."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    for kind in (bool, int, float, str):  # bool first: it is an int too
        if isinstance(value, kind):
            return kind(value)
    return value
