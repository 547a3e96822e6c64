#!/usr/bin/env python3
"""Watch every process on a host for secrets in its command line or environment (test tool, stdlib only).

    python3 proc_watch.py SECRETS_FILE OUT_FILE STOP_FILE [--interval 0.05]

SECRETS_FILE holds one secret per line (read once; the secrets never appear in this process's own argv).
Every ``--interval`` seconds (default 50 ms, i.e. 20 Hz) it reads /proc/<pid>/cmdline and /proc/<pid>/environ of
every process but itself and appends one JSON line per finding to OUT_FILE: {"pid", "comm", "where", "secret_index",
"unit"} (the index into SECRETS_FILE, never the secret; "unit" is the systemd unit whose cgroup holds the process,
from /proc/<pid>/cgroup, or "" outside any service). It stops when STOP_FILE exists and then writes a last line
{"done": true, "scans": N, "seconds": S} so a test can check it really polled at the promised rate.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def unit_of(cgroup: str) -> str:
    """The systemd service whose cgroup holds a process ("0::/system.slice/qwen3-vllm.service" -> its name)."""
    for line in cgroup.splitlines():
        for part in reversed(line.split(":", 2)[-1].split("/")):
            if part.endswith(".service"):
                return part
    return ""


def scan_once(secrets: list[bytes], own_pid: int, seen: set, out) -> None:
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == own_pid:
            continue
        for where in ("cmdline", "environ"):
            try:
                with open(f"/proc/{name}/{where}", "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            for index, secret in enumerate(secrets):
                if secret and secret in data and (name, where, index) not in seen:
                    seen.add((name, where, index))
                    comm = _read(f"/proc/{name}/comm").strip() or "?"
                    record = {"pid": int(name), "comm": comm, "where": where, "secret_index": index,
                              "unit": unit_of(_read(f"/proc/{name}/cgroup"))}
                    out.write(json.dumps(record) + "\n")
                    out.flush()


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    secrets_file, out_file, stop_file = argv[:3]
    interval = float(argv[argv.index("--interval") + 1]) if "--interval" in argv else 0.05
    with open(secrets_file, "rb") as handle:
        secrets = [line.strip() for line in handle.read().splitlines() if line.strip()]
    seen: set = set()
    scans, started = 0, time.monotonic()
    with open(out_file, "a", encoding="utf-8") as out:
        while not os.path.exists(stop_file):
            scan_once(secrets, os.getpid(), seen, out)
            scans += 1
            time.sleep(interval)
        out.write(json.dumps({"done": True, "scans": scans, "seconds": round(time.monotonic() - started, 2)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
