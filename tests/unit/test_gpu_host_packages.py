"""gpu_host: per-OS repository URLs and package names, from the role's vars files and from a check-mode run of
the role's planning tasks against localhost with injected facts (Ubuntu 22.04, 24.04, Debian 12, RHEL 9).

The run uses the nvidia-smi test double (tests/fixtures/nvidia-smi/fake_bin) and writes only the plan file
under pytest's tmp_path; package tasks themselves are not executed (they would need NVIDIA's network repo).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "gpu_host"
DOUBLE = REPO / "tests" / "fixtures" / "nvidia-smi" / "fake_bin" / "nvidia-smi"
PLAYBOOK = REPO / "tests" / "gpu" / "gpu_host_plan.yml"
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
BASE = "https://developer.download.nvidia.com/compute/cuda/repos"

OSES = {
    "ubuntu2204": {
        "distribution": "Ubuntu",
        "os_family": "Debian",
        "distribution_major_version": "22",
        "distribution_version": "22.04",
        "vars": "Ubuntu_22.yml",
        "family": "apt",
    },
    "ubuntu2404": {
        "distribution": "Ubuntu",
        "os_family": "Debian",
        "distribution_major_version": "24",
        "distribution_version": "24.04",
        "vars": "Ubuntu_24.yml",
        "family": "apt",
    },
    "debian12": {
        "distribution": "Debian",
        "os_family": "Debian",
        "distribution_major_version": "12",
        "distribution_version": "12.8",
        "vars": "Debian_12.yml",
        "family": "apt",
    },
    "rhel9": {
        "distribution": "RedHat",
        "os_family": "RedHat",
        "distribution_major_version": "9",
        "distribution_version": "9.5",
        "vars": "RedHat_9.yml",
        "family": "dnf",
    },
}


def load(name: str) -> dict:
    return yaml.safe_load((ROLE / "vars" / name).read_text())


@pytest.mark.parametrize("distro", OSES)
def test_vars_files_name_nvidia_repo_and_packages(distro):
    data = load(OSES[distro]["vars"])
    assert data["__gpu_host_repo_distro"] == distro
    assert data["__gpu_host_pkg_family"] == OSES[distro]["family"]
    if OSES[distro]["family"] == "apt":
        assert data["__gpu_host_keyring_deb"] == "cuda-keyring_1.1-1_all.deb"
        assert data["__gpu_host_initramfs_command"] == ["update-initramfs", "-u"]
    else:
        assert data["__gpu_host_repo_file"] == "cuda-rhel9.repo"
        assert data["__gpu_host_initramfs_command"] == ["dracut", "--force"]


def test_defaults_pin_branch_toolkit_and_repo():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert defaults["gpu_host_driver_branch"] == "580"
    assert defaults["gpu_host_cuda_toolkit_version"] == "12-9"
    assert defaults["gpu_host_cuda_repo_base_url"] == BASE
    assert defaults["gpu_host_reboot_allowed"] is False


def plan(tmp_path: Path, distro: str, smi_case: str, *extra: str) -> dict:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("controller venv .venv is missing")
    facts = {k: v for k, v in OSES[distro].items() if k not in ("vars", "family")}
    facts.update({"architecture": "x86_64", "service_mgr": "systemd"})
    facts_file = tmp_path / "facts.yml"
    facts_file.write_text(
        yaml.safe_dump(
            {"ansible_facts": facts, "llm_profile": "vllm-fp8", "ansible_python_interpreter": sys.executable}
        )
    )
    out = tmp_path / "plan.json"
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "NVIDIA_SMI_DOUBLE_CASE": smi_case,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
    }
    proc = subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            "localhost,",
            str(PLAYBOOK),
            "--check",
            "--tags",
            "gpu_host_plan",
            "-e",
            f"@{facts_file}",
            "-e",
            f"plan_out={out}",
            "-e",
            f"gpu_host_nvidia_smi_command={DOUBLE}",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "changed=0" in proc.stdout
    return json.loads(out.read_text())


@pytest.mark.parametrize("distro", OSES)
def test_fresh_host_plans_repo_driver_and_toolkit(tmp_path, distro):
    result = plan(tmp_path, distro, "missing")
    url = f"{BASE}/{distro}/x86_64"
    assert result["install_driver"] is True
    assert result["install_toolkit"] is True
    assert result["add_repo"] is True
    assert result["repo_url"] == url
    assert result["toolkit_package"] == "cuda-toolkit-12-9"
    if OSES[distro]["family"] == "apt":
        assert result["keyring_url"] == f"{url}/cuda-keyring_1.1-1_all.deb"
        assert result["driver_packages"] == ["nvidia-open-580"]
    else:
        assert result["repo_file_url"] == f"{url}/cuda-rhel9.repo"
        assert result["driver_packages"] == ["@nvidia-driver:580-open"]


def test_proprietary_modules_and_mirror(tmp_path):
    apt = plan(
        tmp_path,
        "ubuntu2404",
        "missing",
        "-e",
        "gpu_host_driver_open=false",
        "-e",
        "gpu_host_cuda_repo_base_url=http://mirror.example/cuda",
    )
    assert apt["driver_packages"] == ["cuda-drivers-580"]
    assert apt["keyring_url"] == "http://mirror.example/cuda/ubuntu2404/x86_64/cuda-keyring_1.1-1_all.deb"
    dnf = plan(tmp_path, "rhel9", "missing", "-e", "gpu_host_driver_open=false")
    assert dnf["driver_packages"] == ["@nvidia-driver:580"]


def test_driver_already_present_is_left_alone(tmp_path):
    result = plan(tmp_path, "ubuntu2404", "h200", "-e", "gpu_host_cuda_toolkit_install=false")
    assert result["driver_present"] is True
    assert result["driver_version"] == "580.159.04"
    assert result["install_driver"] is False
    assert result["add_repo"] is False


def test_old_driver_is_replaced_and_other_branch_only_when_asked(tmp_path):
    assert plan(tmp_path, "debian12", "v100-old-driver")["install_driver"] is True
    a100 = plan(tmp_path, "debian12", "a100x2")  # 535 supports CUDA 12.2: kept
    assert a100["install_driver"] is False
    forced = plan(tmp_path, "debian12", "a100x2", "-e", "gpu_host_driver_replace_other_branch=true")
    assert forced["install_driver"] is True


def test_unsupported_os_is_refused(tmp_path):
    OSES_BAD = {
        "distribution": "Ubuntu",
        "os_family": "Debian",
        "distribution_major_version": "20",
        "distribution_version": "20.04",
        "vars": "x",
        "family": "apt",
    }
    OSES["ubuntu2004"] = OSES_BAD
    try:
        with pytest.raises(AssertionError, match="gpu_host supports"):
            plan(tmp_path, "ubuntu2004", "missing")
    finally:
        del OSES["ubuntu2004"]
