"""Quoting for systemd unit files: a value written here is read back by systemd exactly as given.

systemd.syntax(7) and systemd.service(5) "Command lines": ``%`` is a specifier everywhere (written ``%%``),
``$`` expands variables on Exec lines (written ``$$``), and a word with spaces or quotes must be quoted.
Every role that renders a unit line from inventory values goes through these functions, so a value with a
space can never become a second option.
"""

from __future__ import annotations

import re

_SAFE_WORD = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


class UnitValueError(ValueError):
    """A value that cannot be written into a unit file."""


def quote(word, *, exec_line=True):
    """Quote one word for a systemd unit line so systemd reads back exactly `word`."""
    if not isinstance(word, str):
        word = str(word)
    if "\n" in word or "\r" in word:
        raise UnitValueError(f"a unit value may not contain a newline: {word!r}")
    word = word.replace("%", "%%")
    if exec_line:
        word = word.replace("$", "$$")
    if word and _SAFE_WORD.match(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_line(argv):
    """An ExecStart= value from an argv list."""
    if not isinstance(argv, list) or not argv:
        raise UnitValueError("the command must be a non-empty list of words")
    return " ".join(quote(word) for word in argv)


def environment(env):
    """Environment= values (one per variable, sorted) from a dict."""
    return [quote(f"{key}={value}", exec_line=False) for key, value in sorted(env.items())]
