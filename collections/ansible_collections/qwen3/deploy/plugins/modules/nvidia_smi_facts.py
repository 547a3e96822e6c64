#!/usr/bin/python
"""Module qwen3.deploy.nvidia_smi_facts: the host's NVIDIA GPUs as one dict (probes only)."""

from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qwen3.deploy.plugins.module_utils import nvidia_smi

DOCUMENTATION = r"""
module: nvidia_smi_facts
short_description: Read the NVIDIA GPUs, driver and CUDA version with nvidia-smi
description:
  - Runs C(nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total,memory.used,compute_cap,persistence_mode
    --format=csv,noheader,nounits) and plain C(nvidia-smi) (for the header's CUDA version), and counts NVIDIA
    display/3D controllers on the PCI bus (/sys/bus/pci/devices).
  - Changes nothing; runs in check mode. A missing nvidia-smi, a driver that is not loaded or "No devices were
    found" are results (C(inventory.status)), not failures.
options:
  command:
    description: nvidia-smi to run (a name on PATH or an absolute path).
    type: str
    default: nvidia-smi
  pci_root:
    description: Directory of PCI devices to count NVIDIA GPUs in.
    type: path
    default: /sys/bus/pci/devices
author: qwen3-deploy
"""

EXAMPLES = r"""
- name: Read the GPUs
  qwen3.deploy.nvidia_smi_facts:
  register: gpus

- name: Publish them
  ansible.builtin.set_fact:
    qwen3_gpus: "{{ gpus.inventory }}"
"""

RETURN = r"""
inventory:
  description: >-
    status (ok, missing, no_devices, driver_not_loaded, error), message, present, count, gpus (index, name, uuid,
    driver_version, memory_total_mib, memory_used_mib, compute_cap, persistence_mode), driver_version,
    cuda_version, cuda_version_source, min_memory_total_mib, min_compute_cap, persistence_mode_all,
    pci_nvidia_devices.
  returned: always
  type: dict
"""


def _resolve(module: AnsibleModule, command: str) -> str | None:
    if "/" in command:
        return command if os.path.isfile(command) and os.access(command, os.X_OK) else None
    return module.get_bin_path(command, required=False)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "command": {"type": "str", "default": "nvidia-smi"},
            "pci_root": {"type": "path", "default": "/sys/bus/pci/devices"},
        },
        supports_check_mode=True,
    )
    command = module.params["command"]
    binary = _resolve(module, command)
    if binary is None:
        inventory = nvidia_smi.parse(127, "", f"{command}: command not found")
    else:
        rc, out, err = module.run_command([binary, *nvidia_smi.QUERY_ARGS])
        header = ""
        if rc == 0:
            hrc, hout, _herr = module.run_command([binary])
            header = hout if hrc == 0 else ""
        try:
            inventory = nvidia_smi.parse(rc, out, err, header)
        except nvidia_smi.NvidiaSmiError as error:
            module.fail_json(msg=f"nvidia-smi output not understood: {error}", stdout=out, stderr=err)
    inventory["pci_nvidia_devices"] = nvidia_smi.count_pci_gpus(module.params["pci_root"])
    inventory["command"] = command
    module.exit_json(changed=False, inventory=inventory)


if __name__ == "__main__":
    main()
