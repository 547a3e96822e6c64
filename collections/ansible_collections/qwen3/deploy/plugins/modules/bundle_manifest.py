#!/usr/bin/python
"""Module qwen3.deploy.bundle_manifest: write (or check) the bundle's manifest."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bundle_manifest
short_description: The bundle's manifest (sha256 and size of every file, what it serves), or a check against it
description:
  - C(state=present) (the builder) writes I(dir)/manifest.json; a file whose size and mtime are unchanged keeps its
    recorded sha256. Changed only when the content differs.
  - C(state=checked) (a target, preflight) compares I(needs) (the fact C(qwen3_bundle_needs) the roles publish) with
    what the manifest serves and every file with its sha256; changes nothing. C(problems) names each missing or
    corrupt file; the task fails when there is one.
options:
  dir: {description: Bundle directory, type: path, required: true}
  state: {description: What to do, type: str, choices: [present, checked], default: present}
  needs: {description: What the hosts need (state=checked), type: dict, default: {}}
  hash_files: {description: Compare every file's sha256 (false - sizes only), type: bool, default: true}
"""

RETURN = r"""
problems: {description: one line per problem (state=checked), type: list, returned: always}
files: {description: number of files in the manifest, type: int, returned: always}
bytes: {description: their total size, type: int, returned: always}
"""

import json  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - modules keep DOCUMENTATION first
from ansible_collections.qwen3.deploy.plugins.module_utils.bundle import check, layout  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={"dir": {"type": "path", "required": True},
                       "state": {"type": "str", "choices": ["present", "checked"], "default": "present"},
                       "needs": {"type": "dict", "default": {}},
                       "hash_files": {"type": "bool", "default": True}},
        supports_check_mode=True,
    )
    bundle_dir = module.params["dir"]
    if module.params["state"] == "checked":
        problems = check.check(bundle_dir, module.params["needs"], module.params["hash_files"])
        manifest = layout.read_manifest(bundle_dir) or {}
        files = manifest.get("files", {})
        result = {"changed": False, "problems": problems, "files": len(files),
                  "bytes": sum(e["size"] for e in files.values())}
        if problems:
            module.fail_json(msg=["the offline bundle cannot serve this host, nothing was changed:", *problems],
                             **result)
        module.exit_json(**result)
    previous = layout.read_manifest(bundle_dir)
    manifest = layout.build_manifest(bundle_dir, previous)
    changed = manifest != previous
    if changed and not module.check_mode:
        path = os.path.join(bundle_dir, layout.MANIFEST)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)
    files = manifest["files"]
    module.exit_json(changed=changed, problems=[], files=len(files), bytes=sum(e["size"] for e in files.values()))


if __name__ == "__main__":
    main()
