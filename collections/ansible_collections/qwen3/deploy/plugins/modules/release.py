#!/usr/bin/python
"""Module qwen3.deploy.release: keep the last known good copy of a service's files, and put it back."""

from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: Last known good copy of a service's configuration files, for rollback
description:
  - A release is the set of live files that make up one service's configuration (unit, EnvironmentFile,
    drop-in, Modelfile). Copies live under I(state_dir)/<name>/good and I(state_dir)/<name>/pending, with the
    files' modes and owners; secrets stay 0600.
  - C(state=pending) records the live files as a candidate (after the service came up healthy).
    C(state=promote) makes the pending copy the known good one (after verification passed).
    C(state=restore) writes the known good copy back over the live files (rollback).
    C(state=adopt) records the live files as known good when neither a good nor a pending copy exists (a host
    deployed before releases were kept). C(state=discard) forgets the pending copy. C(state=status) reports.
options:
  name: {description: Release name (the service), type: str, required: true}
  files: {description: Live paths that make up the release, type: list, elements: path, required: true}
  state:
    description: What to do.
    type: str
    choices: [status, pending, promote, restore, adopt, discard]
    default: status
  state_dir: {description: Where copies are kept, type: path, default: /var/lib/qwen3-deploy/releases}
"""

RETURN = r"""
has_good: {description: a known good copy exists, type: bool, returned: always}
has_pending: {description: an unverified copy exists, type: bool, returned: always}
live_is_good: {description: the live files equal the known good copy, type: bool, returned: always}
restored: {description: live paths written back from the good copy, type: list, returned: state=restore}
"""

import filecmp  # noqa: E402 - modules keep DOCUMENTATION first
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

MANIFEST = "manifest.json"


def slot_dir(state_dir: str, name: str, slot: str) -> str:
    return os.path.join(state_dir, name, slot)


def read_manifest(slot: str) -> dict | None:
    try:
        with open(os.path.join(slot, MANIFEST), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def copy_keeping_mode(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    tmp = dst + ".qwen3-tmp"
    shutil.copy2(src, tmp)
    stat = os.stat(src)
    os.chown(tmp, stat.st_uid, stat.st_gid)
    os.replace(tmp, dst)


def save(slot: str, files: list[str]) -> None:
    """Copy the live files into ``slot`` (replacing it); missing live files are recorded as absent."""
    tmp = slot + ".new"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp, mode=0o700)
    entries = []
    for index, path in enumerate(files):
        present = os.path.isfile(path)
        if present:
            copy_keeping_mode(path, os.path.join(tmp, str(index)))
        entries.append({"path": path, "copy": str(index), "present": present})
    with open(os.path.join(tmp, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump({"saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": entries}, handle, indent=1)
    shutil.rmtree(slot, ignore_errors=True)
    os.replace(tmp, slot)


def matches(slot: str, files: list[str]) -> bool:
    manifest = read_manifest(slot)
    if manifest is None or [e["path"] for e in manifest["files"]] != list(files):
        return False
    for entry in manifest["files"]:
        live = entry["path"]
        if entry["present"] != os.path.isfile(live):
            return False
        if entry["present"] and not filecmp.cmp(os.path.join(slot, entry["copy"]), live, shallow=False):
            return False
    return True


def restore(slot: str) -> list[str]:
    written = []
    for entry in read_manifest(slot)["files"]:
        live = entry["path"]
        if entry["present"]:
            copy = os.path.join(slot, entry["copy"])
            if not os.path.isfile(live) or not filecmp.cmp(copy, live, shallow=False):
                copy_keeping_mode(copy, live)
                written.append(live)
        elif os.path.isfile(live):
            os.remove(live)
            written.append(live)
    return written


def run(params: dict, check_mode: bool) -> dict:
    good = slot_dir(params["state_dir"], params["name"], "good")
    pending = slot_dir(params["state_dir"], params["name"], "pending")
    files, state = params["files"], params["state"]
    changed, restored = False, []
    if not check_mode:
        os.makedirs(os.path.dirname(good), mode=0o700, exist_ok=True)
    if state == "pending" and not matches(good, files) and not matches(pending, files):
        changed = True
        if not check_mode:
            save(pending, files)
    elif state == "promote" and read_manifest(pending) is not None:
        changed = True
        if not check_mode:
            shutil.rmtree(good, ignore_errors=True)
            os.replace(pending, good)
    elif (state == "adopt" and read_manifest(good) is None and read_manifest(pending) is None
          and all(os.path.isfile(f) for f in files)):
        changed = True
        if not check_mode:
            save(good, files)
    elif state == "discard" and read_manifest(pending) is not None:
        changed = True
        if not check_mode:
            shutil.rmtree(pending, ignore_errors=True)
    elif state == "restore":
        if read_manifest(good) is None:
            return {"failed": True, "msg": f"no known good release of {params['name']} to restore"}
        if not matches(good, files):
            changed = True
            restored = [] if check_mode else restore(good)
        if not check_mode:
            shutil.rmtree(pending, ignore_errors=True)
    return {
        "changed": changed,
        "restored": restored,
        "has_good": read_manifest(good) is not None,
        "has_pending": read_manifest(pending) is not None,
        "live_is_good": matches(good, files),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "files": {"type": "list", "elements": "path", "required": True},
            "state": {"type": "str", "default": "status",
                      "choices": ["status", "pending", "promote", "restore", "adopt", "discard"]},
            "state_dir": {"type": "path", "default": "/var/lib/qwen3-deploy/releases"},
        },
        supports_check_mode=True,
    )
    result = run(module.params, module.check_mode)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
