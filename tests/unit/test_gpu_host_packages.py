"""gpu_host's plan for Ubuntu 22.04/24.04 (check mode, injected facts) against the package names NVIDIA publishes.

The expected names come from tests/nvidia_repo/published-names.yml (each with its public source), not from the
role's vars. The plan runs the role's planning tasks (--check --tags gpu_host_plan) on localhost with the
nvidia-smi test double and writes only the plan file under pytest's tmp_path. Debian 12 runs for real in
tests/integration/test_gpu_host.py. Also here: EL refused by preflight and by gpu_host, and one bad value per
gpu_host input naming its variable (tests/unit/bad_values/gpu_host.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils import inputs, profile

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "gpu_host"
DOUBLE = REPO / "tests" / "fixtures" / "nvidia-smi" / "fake_bin" / "nvidia-smi"
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
PUBLISHED = yaml.safe_load((REPO / "tests" / "nvidia_repo" / "published-names.yml").read_text())
NVIDIA = "https://developer.download.nvidia.com/compute/cuda/repos"
KERNEL = "6.8.0-88-generic"

OSES = {
    "ubuntu2204": {
        "distribution": "Ubuntu",
        "os_family": "Debian",
        "distribution_major_version": "22",
        "distribution_version": "22.04",
    },
    "ubuntu2404": {
        "distribution": "Ubuntu",
        "os_family": "Debian",
        "distribution_major_version": "24",
        "distribution_version": "24.04",
    },
    "rhel9": {
        "distribution": "RedHat",
        "os_family": "RedHat",
        "distribution_major_version": "9",
        "distribution_version": "9.5",
    },
    "rocky9": {
        "distribution": "Rocky",
        "os_family": "RedHat",
        "distribution_major_version": "9",
        "distribution_version": "9.4",
    },
}


def playbook(
    tmp_path: Path, name: str, distro: str, smi_case: str = "missing", *extra: str
) -> subprocess.CompletedProcess:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("controller venv .venv is missing")
    facts = {**OSES[distro], "architecture": "x86_64", "service_mgr": "systemd", "kernel": KERNEL}
    facts_file = tmp_path / "facts.yml"
    facts_file.write_text(
        yaml.safe_dump(
            {
                "ansible_facts": facts,
                "llm_profile": "vllm-fp8",
                "gpu_host_reboot_allowed": True,
                "gpu_host_nvidia_smi_command": str(DOUBLE),
                "ansible_python_interpreter": sys.executable,
            }
        )
    )
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "NVIDIA_SMI_DOUBLE_CASE": smi_case,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
    }
    return subprocess.run(
        [
            ANSIBLE_PLAYBOOK,
            "-i",
            "localhost,",
            str(REPO / "tests" / "gpu" / name),
            "--check",
            "-e",
            f"@{facts_file}",
            "-e",
            f"plan_out={tmp_path / 'plan.json'}",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def plan(tmp_path: Path, distro: str, smi_case: str = "missing", *extra: str) -> dict:
    proc = playbook(tmp_path, "gpu_host_plan.yml", distro, smi_case, "--tags", "gpu_host_plan", *extra)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "changed=0" in proc.stdout
    return json.loads((tmp_path / "plan.json").read_text())


@pytest.mark.parametrize("distro", PUBLISHED["distros"])
def test_fresh_ubuntu_host_plans_published_names(tmp_path, distro):
    result = plan(tmp_path, distro)
    url = f"{NVIDIA}/{distro}/x86_64"
    assert result["install_driver"] is True and result["add_repo"] is True
    assert result["repo_url"] == url
    assert result["keyring_url"] == f"{url}/{PUBLISHED['keyring']['file']}"
    assert result["source_file"] == f"/etc/apt/sources.list.d/cuda-{distro}-x86_64.list"
    assert result["pinning_package"] == PUBLISHED["pinning"]["580"]["name"]
    assert result["driver_packages"] == [PUBLISHED["driver_meta"]["open"]["name"]]
    assert result["headers_packages"] == [f"linux-headers-{KERNEL}", PUBLISHED["headers_meta"]["name"]]
    assert result["toolkit_package"] in PUBLISHED["toolkit"]
    used = {result["pinning_package"], *result["driver_packages"]}
    assert not used & set(PUBLISHED["suffixed_until_580"]), "names built from the branch end with 580"


@pytest.mark.parametrize("branch", ["590", "610"])
def test_newer_branches_and_proprietary_modules_use_published_names(tmp_path, branch):
    result = plan(
        tmp_path,
        "ubuntu2404",
        "missing",
        "-e",
        f"gpu_host_driver_branch={branch}",
        "-e",
        "gpu_host_driver_open=false",
        "-e",
        "gpu_host_cuda_repo_base_url=http://mirror.example/cuda",
    )
    assert result["pinning_package"] == PUBLISHED["pinning"][branch]["name"]
    assert result["driver_packages"] == [PUBLISHED["driver_meta"]["proprietary"]["name"]]
    assert result["keyring_url"] == "http://mirror.example/cuda/ubuntu2404/x86_64/cuda-keyring_1.1-1_all.deb"


def test_container_toolkit_repository_layout(tmp_path):
    result = plan(tmp_path, "ubuntu2204", "missing", "-e", "gpu_host_container_runtime=docker")
    assert result["container_toolkit_repo"] == "https://nvidia.github.io/libnvidia-container/stable/deb/amd64"


def test_driver_that_runs_the_build_is_left_alone(tmp_path):
    result = plan(tmp_path, "ubuntu2404", "h200", "-e", "gpu_host_cuda_toolkit_install=false")
    assert result["driver_status"] == "ok" and result["driver_version"] == "580.159.04"
    assert result["install_driver"] is False and result["add_repo"] is False
    assert result["required_driver"] == "580.65.06"


def test_cuda12_driver_is_refused_unless_replaced_or_cuda12_route(tmp_path):
    refused = playbook(tmp_path, "gpu_host_plan.yml", "ubuntu2404", "h100x8-570", "--tags", "gpu_host_plan")
    said = " ".join(refused.stdout.split())
    assert refused.returncode != 0
    assert "gpu_host refused, nothing was changed: driver 570.195.03" in said
    assert "cuda_route: cuda12" in said
    replaced = plan(tmp_path, "ubuntu2404", "h100x8-570", "-e", "gpu_host_driver_replace_other_branch=true")
    assert replaced["install_driver"] is True
    kept = plan(
        tmp_path, "ubuntu2404", "h100x8-570", "-e", '{"llm_profile_overrides": {"vllm": {"cuda_route": "cuda12"}}}'
    )
    assert kept["install_driver"] is False and kept["required_driver"] == "525.60.13"


def test_no_reboot_permission_refuses_in_check_mode_too(tmp_path):
    proc = playbook(
        tmp_path,
        "gpu_host_plan.yml",
        "ubuntu2204",
        "missing",
        "--tags",
        "gpu_host_plan",
        "-e",
        "gpu_host_reboot_allowed=false",
    )
    assert proc.returncode != 0
    assert "gpu_host_reboot_allowed is false" in " ".join(proc.stdout.split())


@pytest.mark.parametrize("distro", ["rhel9", "rocky9"])
def test_el_is_refused_by_preflight_and_gpu_host(tmp_path, distro):
    proc = playbook(tmp_path, "preflight_os.yml", distro)
    said = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert f"preflight refused localhost: {OSES[distro]['distribution']} {OSES[distro]['distribution_version']}" in said
    assert "Enterprise Linux (RHEL/Rocky/AlmaLinux) is not supported yet" in said
    assert "Supported: Debian 12, Ubuntu 22.04 and 24.04." in said
    role = playbook(tmp_path, "gpu_host_plan.yml", distro, "missing", "--tags", "gpu_host_plan")
    assert role.returncode != 0 and "gpu_host supports" in role.stdout


def test_supported_os_passes_preflight(tmp_path):
    assert playbook(tmp_path, "preflight_os.yml", "ubuntu2404").returncode == 0


def test_no_el_leftovers_in_the_role():
    files = [p.relative_to(ROLE).as_posix() for p in ROLE.rglob("*.yml")]
    assert not [f for f in files if "dnf" in f or "RedHat" in f], files
    tasks = "".join(p.read_text() for p in (ROLE / "tasks").glob("*.yml"))
    assert "ansible.builtin.dnf" not in tasks and "yum_repository" not in tasks


# --- inputs -------------------------------------------------------------------------------------------------
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
CATALOG = profile.load_catalog(REPO / "roles" / "llm_profile" / "vars" / "profiles.yml")


def test_defaults_pass_their_own_rules():
    assert inputs.check_role("gpu_host", SPEC, dict(DEFAULTS), profile.resolve(CATALOG, "vllm-fp8")) == []


def test_branch_too_old_for_the_profile_build():
    """(One bad value per variable is in tests/unit/test_bad_values.py.)"""
    value, expected = "570", "needs driver >= 580.65.06"
    errors = inputs.check_role(
        "gpu_host", SPEC, {**DEFAULTS, "gpu_host_driver_branch": value}, profile.resolve(CATALOG, "vllm-fp8")
    )
    assert any("gpu_host_driver_branch" in e and expected in e for e in errors), errors
    cuda12 = profile.resolve(CATALOG, "vllm-fp8", {"vllm": {"cuda_route": "cuda12"}})
    assert inputs.check_role("gpu_host", SPEC, {**DEFAULTS, "gpu_host_driver_branch": value}, cuda12) == []
