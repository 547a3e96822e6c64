#!/usr/bin/python
"""Module qwen3.deploy.bundle_debs: Debian packages with their dependency closure, as a local apt repository."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bundle_debs
short_description: Download Debian packages and every hard dependency into the bundle, with an apt index
description:
  - Resolves the closure with C(apt-cache depends --recurse) (Depends and Pre-Depends; no Recommends), downloads
    the candidate of every package with C(apt-get download) into I(dir)/debs, writes C(Packages) with
    C(dpkg-scanpackages) (Debian's C(dpkg-dev)) and C(closure.json) (packages asked for, files).
  - Packages asked for by an earlier build into the same directory stay in the closure (a bundle may serve several
    inventories or profiles); delete the directory to start over.
  - The closure is complete from an empty system, so a target with fewer packages than the builder still finds
    every dependency. A package file already present is not downloaded again; when C(closure.json) has the same
    packages and every file is present, nothing runs (a second build fetches nothing).
  - Run C(apt-get update) on the builder first (the candidates are the builder's).
options:
  dir: {description: Bundle directory on the builder, type: path, required: true}
  packages: {description: Packages the roles install, type: list, elements: str, required: true}
"""

RETURN = r"""
fetched: {description: package files new in the bundle, type: list, returned: always}
files: {description: every package file of the closure, type: list, returned: always}
"""

import json  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - modules keep DOCUMENTATION first
from ansible_collections.qwen3.deploy.plugins.module_utils.bundle import debs  # noqa: E402


def _run(module, argv, cwd=None):
    rc, out, err = module.run_command(argv, cwd=cwd)
    if rc != 0:
        module.fail_json(msg=f"{' '.join(argv[:3])} ... failed (rc {rc})", stderr=err[-4000:])
    return out


def main() -> None:
    module = AnsibleModule(
        argument_spec={"dir": {"type": "path", "required": True},
                       "packages": {"type": "list", "elements": "str", "required": True}},
        supports_check_mode=True,
    )
    debs_dir = os.path.join(module.params["dir"], "debs")
    wanted = sorted(set(module.params["packages"]))
    state_file = os.path.join(debs_dir, "closure.json")
    if os.path.exists(state_file):
        with open(state_file, encoding="utf-8") as handle:
            state = json.load(handle)
        if (set(wanted) <= set(state.get("packages", [])) and os.path.exists(os.path.join(debs_dir, "Packages"))
                and all(os.path.isfile(os.path.join(debs_dir, f)) for f in state.get("files", []))):
            module.exit_json(changed=False, fetched=[], files=state["files"])
        # A bundle accumulates: built for another inventory or profile before, it keeps serving that too.
        wanted = sorted(set(wanted) | set(state.get("packages", [])))
    if module.check_mode:
        module.exit_json(changed=True, fetched=[], files=[])
    os.makedirs(debs_dir, exist_ok=True)
    names = debs.closure_names(_run(module, ["apt-cache", "depends", *debs.DEPENDS_ARGS, *wanted]))
    files = debs.candidates(_run(module, ["apt-cache", "show", "--no-all-versions", *names]))
    missing = sorted(name for name, filename in files.items() if not os.path.isfile(os.path.join(debs_dir, filename)))
    if missing:
        _run(module, ["apt-get", "download", *missing], cwd=debs_dir)
    absent = [f for f in files.values() if not os.path.isfile(os.path.join(debs_dir, f))]
    if absent:
        module.fail_json(msg=f"apt-get download did not write {absent}")
    index = _run(module, ["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=debs_dir)
    with open(os.path.join(debs_dir, "Packages"), "w", encoding="utf-8") as handle:
        handle.write(index)
    listing = sorted(files.values())
    with open(state_file, "w", encoding="utf-8") as handle:
        json.dump({"packages": wanted, "files": listing}, handle, indent=1, sort_keys=True)
    module.exit_json(changed=True, fetched=[files[name] for name in missing], files=listing)


if __name__ == "__main__":
    main()
