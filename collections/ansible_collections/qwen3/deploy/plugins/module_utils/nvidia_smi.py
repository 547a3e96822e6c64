"""Read GPU facts from nvidia-smi output, and which CUDA a driver supports.

The module ``qwen3.deploy.nvidia_smi_facts`` (used by preflight and by gpu_host after a reboot) runs

    nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total,memory.used,compute_cap,persistence_mode \
        --format=csv,noheader,nounits
    nvidia-smi            # only for the header's "CUDA Version: 13.0"

and hands rc/stdout/stderr of both to :func:`parse`, which returns one dict (the published fact ``qwen3_gpus``,
plus ``pci_nvidia_devices`` from :func:`count_pci_gpus`).
Outcomes: ``ok``; ``missing`` (no nvidia-smi: no driver installed); ``no_devices`` ("No devices were
found"); ``driver_not_loaded`` ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA
driver"); ``error`` (anything else, message kept).

Driver -> CUDA. nvidia-smi's header states the newest CUDA the running driver supports; when it cannot be
read we use :data:`DRIVER_CUDA_TABLE`, the minimum Linux x86_64 driver of each CUDA toolkit release, from
NVIDIA's CUDA Toolkit Release Notes, table "CUDA Toolkit and Corresponding Driver Versions"
(https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/). With CUDA minor version compatibility a
driver of the 12.0 row (>= 525.60.13) runs every CUDA 12.x application and one of the 13.0 row
(>= 580.65.06) every 13.x application (NVIDIA data center docs, "Supported Drivers and CUDA Toolkit
Versions": R535/R570 support CUDA 12.x, R580 supports 13.x). Newer toolkits than the table knows are
reported by the header, which wins.
"""

from __future__ import annotations

import csv
import io
import os
import re
from typing import Any

QUERY_FIELDS = (
    "index",
    "name",
    "uuid",
    "driver_version",
    "memory.total",
    "memory.used",
    "compute_cap",
    "persistence_mode",
)
QUERY_ARGS = [f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv,noheader,nounits"]

# (minimum driver, CUDA toolkit version): Linux x86_64, GA releases, newest first.
DRIVER_CUDA_TABLE: tuple[tuple[str, str], ...] = (
    ("580.65.06", "13.0"),
    ("575.51.03", "12.9"),
    ("570.26", "12.8"),
    ("560.28.03", "12.6"),
    ("555.42.02", "12.5"),
    ("550.54.14", "12.4"),
    ("545.23.06", "12.3"),
    ("535.54.03", "12.2"),
    ("530.30.02", "12.1"),
    ("525.60.13", "12.0"),
    ("520.61.05", "11.8"),
    ("515.43.04", "11.7"),
    ("510.39.01", "11.6"),
    ("495.29.05", "11.5"),
    ("470.42.01", "11.4"),
    ("465.19.01", "11.3"),
    ("460.27.03", "11.2"),
    ("455.23", "11.1"),
    ("450.36.06", "11.0"),
)

NO_DEVICES = re.compile(r"No devices were found", re.IGNORECASE)
DRIVER_NOT_LOADED = re.compile(r"couldn't communicate with the NVIDIA driver", re.IGNORECASE)
MISSING = re.compile(r"No such file or directory|command not found|not found", re.IGNORECASE)
CUDA_VERSION = re.compile(r"CUDA Version\s*:\s*([0-9]+\.[0-9]+)")
NOT_AVAILABLE = ("[N/A]", "N/A", "[Not Supported]", "[Insufficient Permissions]", "[Unknown Error]")


class NvidiaSmiError(ValueError):
    """Output that does not look like the query we ran."""


def version_tuple(version: str) -> tuple[int, ...]:
    """'580.159.04' -> (580, 159, 4); raises NvidiaSmiError on anything else."""
    text = str(version).strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", text):
        raise NvidiaSmiError(f"not a version number: {version!r}")
    return tuple(int(part) for part in text.split("."))


def max_cuda_for_driver(driver_version: str) -> str | None:
    """Newest CUDA toolkit (from the table) that ``driver_version`` supports; None if older than all rows."""
    driver = version_tuple(driver_version)
    for minimum, cuda in DRIVER_CUDA_TABLE:
        if driver >= version_tuple(minimum):
            return cuda
    return None


def cuda_at_least(cuda_version: str | None, wanted: str) -> bool:
    """True when ``cuda_version`` (e.g. '13.0') >= ``wanted`` (e.g. '12.0')."""
    if not cuda_version:
        return False
    return version_tuple(cuda_version) >= version_tuple(wanted)


def _value(text: str) -> str | None:
    text = text.strip()
    return None if text in NOT_AVAILABLE or text == "" else text


def _number(text: str | None, field: str, line: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise NvidiaSmiError(f"{field}: expected a number, got {text!r} in line {line!r}") from None


def parse_query(stdout: str) -> list[dict[str, Any]]:
    """Rows of the --query-gpu CSV as dicts (memory in MiB, compute capability as float)."""
    gpus = []
    for row in csv.reader(io.StringIO(stdout), skipinitialspace=True):
        if not row or not "".join(row).strip():
            continue
        line = ", ".join(row)
        if len(row) != len(QUERY_FIELDS):
            raise NvidiaSmiError(f"expected {len(QUERY_FIELDS)} fields ({','.join(QUERY_FIELDS)}), got {line!r}")
        raw = dict(zip(QUERY_FIELDS, (_value(cell) for cell in row), strict=True))
        index = _number(raw["index"], "index", line)
        total = _number(raw["memory.total"], "memory.total", line)
        used = _number(raw["memory.used"], "memory.used", line)
        cap = _number(raw["compute_cap"], "compute_cap", line)
        persistence = (raw["persistence_mode"] or "").lower()
        gpus.append(
            {
                "index": int(index) if index is not None else len(gpus),
                "name": raw["name"] or "unknown",
                "uuid": raw["uuid"] or "",
                "driver_version": raw["driver_version"] or "",
                "memory_total_mib": int(total) if total is not None else None,
                "memory_used_mib": int(used) if used is not None else None,
                "compute_cap": cap,
                "persistence_mode": persistence == "enabled",
            }
        )
    return gpus


def parse_cuda_version(header: str) -> str | None:
    """'CUDA Version: 13.0' from plain `nvidia-smi` (or `nvidia-smi -q`) output."""
    match = CUDA_VERSION.search(header or "")
    return match.group(1) if match else None


def _empty(status: str, message: str) -> dict[str, Any]:
    return {
        "status": status,
        "message": message,
        "present": False,
        "count": 0,
        "gpus": [],
        "driver_version": None,
        "cuda_version": None,
        "cuda_version_source": None,
        "min_memory_total_mib": None,
        "min_compute_cap": None,
        "persistence_mode_all": False,
    }


def parse(rc: int, stdout: str = "", stderr: str = "", header: str = "", msg: str = "") -> dict[str, Any]:
    """One dict describing the host's GPUs from the two probes (see module doc)."""
    text = "\n".join(part for part in (stdout, stderr, msg) if part)
    if rc != 0 or not stdout.strip():
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if DRIVER_NOT_LOADED.search(text):
            return _empty("driver_not_loaded", first or "NVIDIA driver not loaded")
        if NO_DEVICES.search(text):
            return _empty("no_devices", first or "No devices were found")
        if rc in (2, 127) and (MISSING.search(text) or not text.strip()):
            return _empty("missing", "nvidia-smi not found (no NVIDIA driver installed)")
        if rc == 0:
            return _empty("no_devices", "nvidia-smi listed no GPUs")
        return _empty("error", f"nvidia-smi exited {rc}: {first or '(no output)'}")
    gpus = parse_query(stdout)
    if not gpus:
        return _empty("no_devices", "nvidia-smi listed no GPUs")
    drivers = sorted({gpu["driver_version"] for gpu in gpus if gpu["driver_version"]})
    driver = drivers[0] if drivers else None
    cuda = parse_cuda_version(header)
    source = "nvidia-smi" if cuda else None
    if cuda is None and driver:
        cuda = max_cuda_for_driver(driver)
        source = "driver table" if cuda else None
    totals = [gpu["memory_total_mib"] for gpu in gpus if gpu["memory_total_mib"] is not None]
    caps = [gpu["compute_cap"] for gpu in gpus if gpu["compute_cap"] is not None]
    return {
        "status": "ok",
        "message": f"{len(gpus)} GPU(s): " + "; ".join(summary_line(gpu) for gpu in gpus),
        "present": True,
        "count": len(gpus),
        "gpus": gpus,
        "driver_version": driver,
        "cuda_version": cuda,
        "cuda_version_source": source,
        "min_memory_total_mib": min(totals) if totals else None,
        "min_compute_cap": min(caps) if caps else None,
        "persistence_mode_all": all(gpu["persistence_mode"] for gpu in gpus),
    }


def summary_line(gpu: dict[str, Any]) -> str:
    """'GPU 0 NVIDIA H200, 143771 MiB, compute 9.0, driver 580.159.04, persistence on'."""
    cap = "?" if gpu["compute_cap"] is None else f"{gpu['compute_cap']:.1f}"
    return (
        f"GPU {gpu['index']} {gpu['name']}, {gpu['memory_total_mib']} MiB, compute {cap}, "
        f"driver {gpu['driver_version']}, persistence {'on' if gpu['persistence_mode'] else 'off'}"
    )


def count_pci_gpus(root: str = "/sys/bus/pci/devices") -> int:
    """NVIDIA (vendor 0x10de) display/3D controllers (class 0x03xxxx) on the PCI bus; 0 when unreadable."""
    count = 0
    try:
        devices = sorted(os.listdir(root))
    except OSError:
        return 0
    for device in devices:
        try:
            with open(os.path.join(root, device, "vendor"), encoding="ascii") as handle:
                vendor = handle.read().strip()
            with open(os.path.join(root, device, "class"), encoding="ascii") as handle:
                klass = handle.read().strip()
        except OSError:
            continue
        if vendor == "0x10de" and klass.startswith("0x03"):
            count += 1
    return count
