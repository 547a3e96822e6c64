"""Prometheus text exposition for node exporter's textfile collector, shared by the host tools that write it
(``canary``, ``gpu-metrics``): sample and family lines with the format's escaping, and the atomic write the
collector needs (it reads every ``*.prom`` file in its directory at each scrape)."""

from __future__ import annotations

import os
import tempfile


def escape_label(value: str) -> str:
    """Label value escaping of the text exposition format: backslash, double quote and line feed."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value: float) -> str:
    """Integers without ".0" (memory bytes, hertz, counts), other values as Python's shortest round trip."""
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def sample(name: str, labels: dict[str, str], value: float) -> str:
    pairs = ",".join(f'{key}="{escape_label(text)}"' for key, text in labels.items() if text != "")
    return f"{name}{{{pairs}}} {number(value)}" if pairs else f"{name} {number(value)}"


def family(name: str, kind: str, help_text: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {escape_help(help_text)}", f"# TYPE {name} {kind}", *samples]


def write_atomically(path: str | os.PathLike, text: str) -> None:
    """Temporary file beside ``path`` (not ending in .prom, so the collector never reads it half written), 0644
    (node exporter does not run as root), fsync, then os.replace: the collector sees the old file or the new one."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
