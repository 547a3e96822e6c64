"""Ansible filters for GPU facts and fit checks; the logic lives in module_utils/{nvidia_smi,vram}.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils import nvidia_smi, vram


def _plain(value):
    """Ansible hands tagged/lazy containers to filters; give the Python code plain dicts and lists."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def nvidia_smi_facts(query_result, header_result=None):
    """The GPU inventory dict from the registered results of the two nvidia-smi probes."""
    query = _plain(query_result or {})
    header = _plain(header_result or {})
    rc = query.get("rc")
    if rc is None:
        rc = 127 if query.get("failed") else 0
    try:
        return nvidia_smi.parse(
            int(rc),
            query.get("stdout", ""),
            query.get("stderr", ""),
            header.get("stdout", "") if header.get("rc", 1) == 0 else "",
            query.get("msg", "") if rc else "",
        )
    except nvidia_smi.NvidiaSmiError as error:
        raise AnsibleFilterError(f"nvidia-smi output not understood: {error}") from None


def gpu_fit_check(profile, gpus, host, *, min_cuda="12.0", overhead_gib=None, kv_policy="full", pci_gpu_count=0):
    """Refusals, warnings and the VRAM estimate for the resolved profile `llm` on a host."""
    try:
        return vram.check_host(
            _plain(profile),
            _plain(gpus),
            host=str(host),
            min_cuda=str(min_cuda),
            overhead_gib=None if overhead_gib in (None, "") else float(overhead_gib),
            kv_policy=str(kv_policy),
            pci_gpu_count=int(pci_gpu_count),
        )
    except vram.VramError as error:
        raise AnsibleFilterError(str(error)) from None


def gpu_disk_check(free_bytes, path, disk_gib, host, name):
    """A refusal message (or '') when the models dir has less free disk than the profile needs."""
    return vram.check_disk(float(free_bytes), str(path), float(disk_gib), host=str(host), name=str(name)) or ""


def driver_max_cuda(driver_version):
    """Newest CUDA the driver supports, from NVIDIA's table (see nvidia_smi.DRIVER_CUDA_TABLE); '' if unknown."""
    try:
        return nvidia_smi.max_cuda_for_driver(str(driver_version)) or ""
    except nvidia_smi.NvidiaSmiError:
        return ""


def cuda_at_least(cuda_version, wanted):
    """True when cuda_version >= wanted (both like '12.4')."""
    try:
        return nvidia_smi.cuda_at_least(str(cuda_version) if cuda_version else None, str(wanted))
    except nvidia_smi.NvidiaSmiError:
        return False


class FilterModule:
    def filters(self):
        return {
            "nvidia_smi_facts": nvidia_smi_facts,
            "gpu_fit_check": gpu_fit_check,
            "gpu_disk_check": gpu_disk_check,
            "driver_max_cuda": driver_max_cuda,
            "cuda_at_least": cuda_at_least,
        }
