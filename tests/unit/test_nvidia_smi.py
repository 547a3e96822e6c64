"""nvidia-smi parsing, the driver -> CUDA table (module_utils/nvidia_smi.py) and the module nvidia_smi_facts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import nvidia_smi

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "nvidia-smi"
DOUBLE = FIXTURES / "fake_bin" / "nvidia-smi"


def parse_case(case: str) -> dict:
    return nvidia_smi.parse(
        0, (FIXTURES / f"{case}.query.txt").read_text(), "", (FIXTURES / f"{case}.header.txt").read_text()
    )


def test_h200_line_read_on_the_lent_host():
    facts = parse_case("h200")
    assert facts["status"] == "ok"
    assert facts["count"] == 1
    (gpu,) = facts["gpus"]
    assert gpu == {
        "index": 0,
        "name": "NVIDIA H200",
        "uuid": "GPU-ac1d22d8-7547-7205-62b1-d76296d760b7",
        "driver_version": "580.159.04",
        "memory_total_mib": 143771,
        "memory_used_mib": 0,
        "compute_cap": 9.0,
        "persistence_mode": True,
    }
    assert facts["driver_version"] == "580.159.04"
    assert facts["cuda_version"] == "13.0"
    assert facts["cuda_version_source"] == "nvidia-smi"
    assert facts["min_memory_total_mib"] == 143771
    assert facts["persistence_mode_all"] is True


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("h100", ("NVIDIA H100 80GB HBM3", 1, 81559, 9.0, "13.0")),
        ("a100x2", ("NVIDIA A100-SXM4-80GB", 2, 81920, 8.0, "12.2")),
        ("rtx4090", ("NVIDIA GeForce RTX 4090", 1, 24564, 8.9, "12.4")),
        ("v100-old-driver", ("Tesla V100-SXM2-32GB", 1, 32768, 7.0, "11.4")),
        ("l40sx2-550", ("NVIDIA L40S", 2, 46068, 8.9, "12.4")),
        ("h100x8-570", ("NVIDIA H100 80GB HBM3", 8, 81559, 9.0, "12.8")),
    ],
)
def test_gpu_classes(case, expected):
    name, count, total, cap, cuda = expected
    facts = parse_case(case)
    assert facts["status"] == "ok"
    assert facts["count"] == count
    assert {gpu["name"] for gpu in facts["gpus"]} == {name}
    assert facts["min_memory_total_mib"] == total
    assert facts["min_compute_cap"] == cap
    assert facts["cuda_version"] == cuda


def test_rtx4090_persistence_off_and_memory_used():
    facts = parse_case("rtx4090")
    assert facts["persistence_mode_all"] is False
    assert facts["gpus"][0]["memory_used_mib"] == 301


def test_command_missing():
    facts = nvidia_smi.parse(2, "", "", "", "[Errno 2] No such file or directory: b'nvidia-smi'")
    assert facts["status"] == "missing"
    assert facts["present"] is False
    assert facts["count"] == 0
    assert nvidia_smi.parse(127, "", "sh: nvidia-smi: command not found")["status"] == "missing"


def test_no_devices():
    facts = nvidia_smi.parse(6, (FIXTURES / "no-devices.stdout.txt").read_text())
    assert facts["status"] == "no_devices"
    assert facts["message"] == "No devices were found"


def test_driver_not_loaded():
    facts = nvidia_smi.parse(9, (FIXTURES / "driver-not-loaded.stdout.txt").read_text())
    assert facts["status"] == "driver_not_loaded"
    assert "couldn't communicate with the NVIDIA driver" in facts["message"]


def test_other_failure_keeps_the_message():
    facts = nvidia_smi.parse(15, "", "Unable to determine the device handle for GPU0000:01:00.0: Unknown Error")
    assert facts["status"] == "error"
    assert "Unknown Error" in facts["message"]


def test_not_available_values_become_none():
    facts = nvidia_smi.parse(0, "0, NVIDIA A100-SXM4-40GB MIG 1g.5gb, GPU-x, 535.54.03, [N/A], [N/A], 8.0, Enabled\n")
    assert facts["gpus"][0]["memory_total_mib"] is None
    assert facts["min_memory_total_mib"] is None
    assert facts["cuda_version"] == "12.2"
    assert facts["cuda_version_source"] == "driver table"


def test_garbage_raises():
    with pytest.raises(nvidia_smi.NvidiaSmiError):
        nvidia_smi.parse(0, "NVIDIA H200, 580.159.04, 143771, 9.0\n")  # the 4-field query, not ours
    with pytest.raises(nvidia_smi.NvidiaSmiError):
        nvidia_smi.parse(0, "0, X, GPU-x, 580.1, lots, 0, 9.0, Enabled\n")


@pytest.mark.parametrize(
    ("driver", "cuda"),
    [
        ("580.159.04", "13.0"),
        ("580.65.06", "13.0"),
        ("580.65.05", "12.9"),
        ("575.57.08", "12.9"),
        ("570.124.06", "12.8"),
        ("550.127.05", "12.4"),
        ("535.183.01", "12.2"),
        ("525.60.13", "12.0"),
        ("525.60.12", "11.8"),
        ("470.256.02", "11.4"),
        ("440.33", None),
    ],
)
def test_driver_to_max_cuda(driver, cuda):
    assert nvidia_smi.max_cuda_for_driver(driver) == cuda


def test_cuda_at_least():
    assert nvidia_smi.cuda_at_least("13.0", "12.0")
    assert nvidia_smi.cuda_at_least("12.0", "12.0")
    assert not nvidia_smi.cuda_at_least("11.8", "12.0")
    assert not nvidia_smi.cuda_at_least(None, "12.0")
    assert nvidia_smi.version_tuple("12.10") > nvidia_smi.version_tuple("12.9")
    with pytest.raises(nvidia_smi.NvidiaSmiError):
        nvidia_smi.version_tuple("580.x")


@pytest.mark.parametrize("case", ["h100", "h200", "a100x2", "rtx4090", "v100-old-driver", "l40sx2-550", "h100x8-570"])
def test_the_test_double_replays_its_fixtures(case):
    env = {**os.environ, "NVIDIA_SMI_DOUBLE_CASE": case}
    query = subprocess.run([DOUBLE, *nvidia_smi.QUERY_ARGS], capture_output=True, text=True, env=env, check=True)
    header = subprocess.run([DOUBLE], capture_output=True, text=True, env=env, check=True)
    assert nvidia_smi.parse(0, query.stdout, "", header.stdout) == parse_case(case)


@pytest.mark.parametrize(
    ("case", "rc", "status"), [("no-devices", 6, "no_devices"), ("driver-not-loaded", 9, "driver_not_loaded")]
)
def test_the_test_double_failure_cases(case, rc, status):
    env = {**os.environ, "NVIDIA_SMI_DOUBLE_CASE": case}
    proc = subprocess.run([DOUBLE, *nvidia_smi.QUERY_ARGS], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == rc
    assert nvidia_smi.parse(proc.returncode, proc.stdout, proc.stderr)["status"] == status


def test_count_pci_gpus(tmp_path):
    for name, vendor, klass in [
        ("0000:16:00.0", "0x10de", "0x030200"),  # NVIDIA 3D controller
        ("0000:17:00.0", "0x10de", "0x030000"),  # NVIDIA VGA
        ("0000:18:00.0", "0x10de", "0x068000"),  # NVIDIA bridge (NVSwitch): not a GPU
        ("0000:00:02.0", "0x8086", "0x030000"),  # Intel VGA
    ]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "vendor").write_text(vendor + "\n")
        (tmp_path / name / "class").write_text(klass + "\n")
    assert nvidia_smi.count_pci_gpus(str(tmp_path)) == 2
    assert nvidia_smi.count_pci_gpus(str(tmp_path / "absent")) == 0


def module(tmp_path, command: str, case: str) -> dict:
    """Run the module qwen3.deploy.nvidia_smi_facts on localhost (ad-hoc, check mode) and return its result."""
    ansible = REPO / ".venv" / "bin" / "ansible"
    if not ansible.exists():
        pytest.skip("controller venv .venv is missing")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "NVIDIA_SMI_DOUBLE_CASE": case,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "remote"),
    }
    proc = subprocess.run(
        [
            str(ansible),
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "--check",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-m",
            "qwen3.deploy.nvidia_smi_facts",
            "-a",
            json.dumps({"command": command, "pci_root": str(tmp_path)}),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is False
    return result["inventory"]


@pytest.mark.parametrize("case", ["h200", "h100x8-570"])
def test_module_reads_the_double_like_parse(tmp_path, case):
    inventory = module(tmp_path, str(DOUBLE), case)
    assert {k: v for k, v in inventory.items() if k not in ("pci_nvidia_devices", "command")} == parse_case(case)
    assert inventory["pci_nvidia_devices"] == 0


@pytest.mark.parametrize(
    ("command", "case", "status"),
    [
        ("/nonexistent/nvidia-smi", "h200", "missing"),
        ("nvidia-smi-not-on-path", "h200", "missing"),
        (str(DOUBLE), "driver-not-loaded", "driver_not_loaded"),
        (str(DOUBLE), "no-devices", "no_devices"),
    ],
)
def test_module_reports_a_missing_or_unloaded_driver_as_a_status(tmp_path, command, case, status):
    assert module(tmp_path, command, case)["status"] == status
