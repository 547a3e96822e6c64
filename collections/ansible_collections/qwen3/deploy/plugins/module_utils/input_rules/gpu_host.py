"""Input rules of role gpu_host (see module_utils/inputs.py)."""

import re

from ansible_collections.qwen3.deploy.plugins.module_utils import cuda_route
from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

# Pinning packages nvidia-driver-pinning-<branch> exist from branch 570 on (apt-cache capture of NVIDIA's
# ubuntu2404 repository: 570, 575, 580, 590, 595, 610; roles/gpu_host/README.md "Sources").
LOWEST_PINNED_BRANCH = 570
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def _branch(value, _values, profile):
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{3}", value):
        return f'must be an NVIDIA driver branch like "580" (three digits, quoted), got {value!r}'
    if int(value) < LOWEST_PINNED_BRANCH:
        return (
            f"branch {value} has no nvidia-driver-pinning package (NVIDIA's apt branch lock starts at "
            f"{LOWEST_PINNED_BRANCH}); use {LOWEST_PINNED_BRANCH} or newer"
        )
    req = cuda_route.requirement(profile) if profile else None
    if req and int(value) < int(req["min_driver"].split(".")[0]):
        return (
            f"branch {value} cannot run {req['build']}, which needs driver >= {req['min_driver']}; use "
            f"{req['min_driver'].split('.')[0]} or newer, or select the profile's CUDA 12 route "
            f"({cuda_route.ROUTE_HINT})"
        )
    return None


def _toolkit_version(value, _values, _profile):
    if not isinstance(value, str) or not re.fullmatch(r"1[0-9]-[0-9]{1,2}", value):
        return f"must be NVIDIA's package suffix <major>-<minor> like 12-9 (cuda-toolkit-12-9), got {value!r}"
    return None


def _package(value, _values, _profile):
    if value in ("", None):
        return None
    if not isinstance(value, str) or not _PACKAGE.match(value):
        return f"must be a Debian package name (or empty for the default), got {value!r}"
    return None


def _command(value, values, profile):
    message = c.word(value, values, profile)
    if message:
        return message
    return (
        None
        if value.startswith("/") or "/" not in value
        else f"must be a name on PATH or an absolute path, got {value!r}"
    )


def _boot_time_command(value, values, profile):
    message = c.text_line(value, values, profile)
    if message:
        return message
    return None if value.strip() else "must be a command that prints something that changes with every boot"


RULES = {
    "gpu_host_driver_branch": _branch,
    "gpu_host_driver_open": c.ok,
    "gpu_host_driver_replace_other_branch": c.ok,
    "gpu_host_install_recommends": c.ok,
    "gpu_host_cuda_toolkit_install": c.ok,
    "gpu_host_cuda_toolkit_version": _toolkit_version,
    "gpu_host_cuda_repo_base_url": c.url("http", "https", "file"),
    "gpu_host_kernel_headers_package": _package,
    "gpu_host_kernel_headers_meta_package": _package,
    "gpu_host_container_runtime": c.ok,
    "gpu_host_container_toolkit_repo_base_url": c.url("http", "https", "file"),
    "gpu_host_reboot_allowed": c.ok,
    "gpu_host_reboot_timeout": c.int_range(60, 7200),
    "gpu_host_reboot_boot_time_command": _boot_time_command,
    "gpu_host_persistence_mode": c.ok,
    "gpu_host_nvidia_smi_command": _command,
}
