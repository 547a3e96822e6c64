"""Ansible filters for GPU checks; the logic lives in module_utils/{vram,cuda_route,nvidia_smi}.py.

{{ llm | qwen3.deploy.gpu_fit_check(qwen3_gpus, inventory_hostname, overhead_gib=..., kv_policy=...,
                                    pci_gpu_count=...) }}     -> {refusals, warnings, estimate, ...}
{{ free_bytes | qwen3.deploy.gpu_disk_check(path, disk_gib, host, name) }}   -> refusal or ''
{{ llm | qwen3.deploy.gpu_driver_requirement }}                 -> {min_driver, cuda_major, build, source} or None
{{ qwen3_gpus | qwen3.deploy.gpu_driver_action(llm, branch, replace_other_branch, host) }}
                                                                -> {install, refusal, reason}
{{ driver_version | qwen3.deploy.driver_max_cuda }}             -> '13.0' ('' if unknown)
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils import cuda_route, nvidia_smi, vram
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain


def gpu_fit_check(profile, gpus, host, *, overhead_gib=None, kv_policy="full", pci_gpu_count=0):
    """Refusals, warnings and the VRAM estimate for the resolved profile `llm` on a host."""
    try:
        return vram.check_host(
            _plain(profile),
            _plain(gpus),
            host=str(host),
            overhead_gib=None if overhead_gib in (None, "") else float(overhead_gib),
            kv_policy=str(kv_policy),
            pci_gpu_count=int(pci_gpu_count),
        )
    except vram.VramError as error:
        raise AnsibleFilterError(str(error)) from None


def gpu_disk_check(free_bytes, path, disk_gib, host, name):
    """A refusal message (or '') when the models dir has less free disk than the profile needs."""
    return vram.check_disk(float(free_bytes), str(path), float(disk_gib), host=str(host), name=str(name)) or ""


def gpu_driver_requirement(profile):
    """The NVIDIA driver the profile's engine build needs (None for CPU profiles)."""
    return cuda_route.requirement(_plain(profile))


def gpu_driver_action(gpus, profile, branch, replace_other_branch, host):
    """gpu_host's decision for the present driver (see cuda_route.driver_action)."""
    try:
        return cuda_route.driver_action(
            _plain(gpus), _plain(profile), str(branch), bool(replace_other_branch), str(host)
        )
    except (ValueError, KeyError) as error:
        raise AnsibleFilterError(f"gpu_driver_action: {error}") from None


def driver_max_cuda(driver_version):
    """Newest CUDA the driver supports, from NVIDIA's table (see nvidia_smi.DRIVER_CUDA_TABLE); '' if unknown."""
    try:
        return nvidia_smi.max_cuda_for_driver(str(driver_version)) or ""
    except nvidia_smi.NvidiaSmiError:
        return ""


class FilterModule:
    def filters(self):
        return {
            "gpu_fit_check": gpu_fit_check,
            "gpu_disk_check": gpu_disk_check,
            "gpu_driver_requirement": gpu_driver_requirement,
            "gpu_driver_action": gpu_driver_action,
            "driver_max_cuda": driver_max_cuda,
        }
