#!/usr/bin/python3
"""Guard of playbooks/tune.yml on the host (installed by role engine_tuner, stdlib only).

    tune_guard.py status  --slot DIR --marker FILE              -> JSON {has_good, live_is_good, marker}
    tune_guard.py restore --slot DIR --unit UNIT --marker FILE  -> puts the known good release back, restarts

DIR is the known good copy role service_release keeps (<state_dir>/<unit>/good, module qwen3.deploy.release:
manifest.json lists {path, copy, present}). ``restore`` writes the good copies over the live files, forgets
the pending copy (a sweep point must never be promoted), reloads systemd, restarts the unit and removes the marker.
It runs from a transient systemd timer the controller re-arms before every sweep point (so it fires when the
controller is gone: ctrl-C, SIGKILL, lost connection) and from the next tune run when the marker is still there.
The copy logic is release.py's restore(); tests/unit/test_tune_guard.py checks both against one saved release.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys

MANIFEST = "manifest.json"


def manifest(slot: str) -> dict | None:
    try:
        with open(os.path.join(slot, MANIFEST), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def live_is_good(slot: str) -> bool:
    doc = manifest(slot)
    if doc is None:
        return False
    for entry in doc["files"]:
        live = entry["path"]
        if entry["present"] != os.path.isfile(live):
            return False
        if entry["present"] and not filecmp.cmp(os.path.join(slot, entry["copy"]), live, shallow=False):
            return False
    return True


def _copy(src: str, dst: str) -> None:
    tmp = dst + ".qwen3-tmp"
    shutil.copy2(src, tmp)
    stat = os.stat(src)
    os.chown(tmp, stat.st_uid, stat.st_gid)
    os.replace(tmp, dst)


def restore_files(slot: str) -> list[str]:
    written = []
    for entry in manifest(slot)["files"]:
        live, copy = entry["path"], os.path.join(slot, entry["copy"])
        if entry["present"]:
            if not os.path.isfile(live) or not filecmp.cmp(copy, live, shallow=False):
                os.makedirs(os.path.dirname(live), exist_ok=True)
                _copy(copy, live)
                written.append(live)
        elif os.path.isfile(live):
            os.remove(live)
            written.append(live)
    shutil.rmtree(os.path.join(os.path.dirname(slot), "pending"), ignore_errors=True)
    return written


def main(argv: list[str] | None = None, systemctl: str = "systemctl") -> int:
    parser = argparse.ArgumentParser(prog="tune_guard.py")
    parser.add_argument("action", choices=["status", "restore"])
    parser.add_argument("--slot", required=True)
    parser.add_argument("--marker", required=True)
    parser.add_argument("--unit", default="")
    parser.add_argument("--systemctl", default=systemctl)
    args = parser.parse_args(argv)
    if args.action == "status":
        print(json.dumps({"has_good": manifest(args.slot) is not None, "live_is_good": live_is_good(args.slot),
                          "marker": os.path.exists(args.marker)}))
        return 0
    if manifest(args.slot) is None:
        print(f"tune guard: no known good release in {args.slot}; nothing restored", file=sys.stderr)
        return 1
    written = restore_files(args.slot)
    print(f"tune guard: restored {written or 'nothing (live files were good)'}; restarting {args.unit}")
    subprocess.run([args.systemctl, "daemon-reload"], check=False)
    rc = subprocess.run([args.systemctl, "restart", args.unit], check=False).returncode
    if rc == 0 and os.path.exists(args.marker):
        os.remove(args.marker)
    print(json.dumps({"restored": written, "restart_rc": rc}))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
