#!/usr/bin/python
"""Module qwen3.deploy.bundle_wheels: the wheels of one venv, resolved once, into an offline bundle."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bundle_wheels
short_description: Resolve one venv's requirements and put every wheel of the resolution into the bundle
description:
  - Runs C(pip wheel) (sdists are built into wheels, so targets build nothing) into I(dir)/.partial/I(venv), with
    the bundle's wheels as a find-links source, then moves new wheels to I(dir)/wheels and writes the exact
    resolution to I(dir)/pins/I(venv).txt (a pip constraints file).
  - Resumable. Wheels already in the bundle or left in the partial directory by an interrupted run are not
    fetched again. When the pins file has the same requirements and every wheel it names is present, nothing is
    run at all (no index is asked), so a second build fetches nothing.
options:
  dir: {description: Bundle directory on the builder, type: path, required: true}
  venv: {description: Name of the venv (the pins file's name), type: str, required: true}
  requirements: {description: What the role installs into the venv, type: list, elements: str, required: true}
  pip: {description: pip executable that resolves (same Python as the targets), type: path, default: /usr/bin/pip3}
  pip_args: {description: Extra pip options (indexes of a CUDA route), type: list, elements: str, default: []}
"""

RETURN = r"""
fetched: {description: wheels new in the bundle, type: list, returned: always}
pins: {description: name -> version of the venv, type: dict, returned: always}
"""

import os  # noqa: E402
import shutil  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - modules keep DOCUMENTATION first
from ansible_collections.qwen3.deploy.plugins.module_utils.bundle import layout  # noqa: E402


def _complete(bundle_dir: str, venv: str, requirements: list[str]) -> dict | None:
    pins = layout.read_pins(bundle_dir, venv)
    if pins is None or sorted(pins["requirements"]) != sorted(requirements) or not pins["files"]:
        return None
    wheels = os.path.join(bundle_dir, "wheels")
    return pins if all(os.path.isfile(os.path.join(wheels, f)) for f in pins["files"]) else None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dir": {"type": "path", "required": True},
            "venv": {"type": "str", "required": True},
            "requirements": {"type": "list", "elements": "str", "required": True},
            "pip": {"type": "path", "default": "/usr/bin/pip3"},
            "pip_args": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    done = _complete(p["dir"], p["venv"], p["requirements"])
    if done is not None:
        module.exit_json(changed=False, fetched=[], pins=done["pins"])
    if module.check_mode:
        module.exit_json(changed=True, fetched=[], pins={})
    wheels = os.path.join(p["dir"], "wheels")
    partial = os.path.join(p["dir"], ".partial", p["venv"])
    os.makedirs(wheels, exist_ok=True)
    os.makedirs(partial, exist_ok=True)
    os.makedirs(os.path.join(p["dir"], "pins"), exist_ok=True)
    argv = [p["pip"], "wheel", "--wheel-dir", partial, "--find-links", wheels, "--find-links", partial,
            *p["pip_args"], *p["requirements"]]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg=f"pip wheel for venv {p['venv']} failed (rc {rc})", stdout=out[-4000:], stderr=err[-4000:])
    fetched, files = [], []
    for name in sorted(os.listdir(partial)):
        if not name.endswith(".whl"):
            continue
        files.append(name)
        target = os.path.join(wheels, name)
        if os.path.exists(target):
            os.unlink(os.path.join(partial, name))
        else:
            shutil.move(os.path.join(partial, name), target)
            fetched.append(name)
    text = layout.render_pins(p["requirements"], files)
    pins_file = layout.pins_path(p["dir"], p["venv"])
    with open(pins_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(pins_file + ".tmp", pins_file)
    shutil.rmtree(partial, ignore_errors=True)
    module.exit_json(changed=True, fetched=fetched, pins=layout.parse_pins(text)["pins"])


if __name__ == "__main__":
    main()
