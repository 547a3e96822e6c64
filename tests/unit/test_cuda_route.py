"""The engine build's CUDA major decides the driver (module_utils/cuda_route.py), and preflight says so.

Drivers from real published nvidia-smi output (tests/fixtures/nvidia-smi/README.md): 550.163.01 (CUDA 12.4,
2x L40S) and 570.195.03 (CUDA 12.8, 8x H100). The catalog's vLLM 0.32.0 is a CUDA 13 build, so both are refused
with the default route and accepted with the CUDA 12 route, whose rendered install asks for CUDA 12 builds.
The CUDA 12 route is rendered and checked here, never installed (no wheel index is reachable).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import cuda_route, nvidia_smi, profile, vram

REPO = Path(__file__).resolve().parents[2]
CATALOG = profile.load_catalog(REPO / "roles" / "llm_profile" / "vars" / "profiles.yml")
FIXTURES = REPO / "tests" / "fixtures" / "nvidia-smi"
DOUBLE = FIXTURES / "fake_bin" / "nvidia-smi"
PLAYBOOK = REPO / "tests" / "gpu" / "preflight_gpu.yml"
CUDA12 = {"vllm": {"cuda_route": "cuda12"}}


def resolve(name: str, overrides: dict | None = None) -> dict:
    return profile.resolve(CATALOG, name, overrides)  # cuda_route.validate runs inside, once


def gpus(case: str) -> dict:
    return nvidia_smi.parse(
        0, (FIXTURES / f"{case}.query.txt").read_text(), "", (FIXTURES / f"{case}.header.txt").read_text()
    )


def test_default_route_installs_the_cuda13_build_from_the_index():
    plan = resolve("vllm-fp8")["vllm"]["install"]
    assert plan == {
        "package": "vllm",
        "version": "0.32.0",
        "packages": ["vllm==0.32.0"],
        "pip_args": [],
        "env": {},
        "route": "default",
        "cuda_major": 13,
        "min_driver": "580.65.06",
    }


def test_cuda12_route_renders_cuda12_builds_of_vllm_and_torch():
    plan = resolve("vllm-fp8", CUDA12)["vllm"]["install"]
    assert plan["packages"] == ["vllm==0.32.0+cu129", "torch==2.13.0+cu126"]
    assert plan["version"] == "0.32.0+cu129"
    assert plan["pip_args"] == [
        "--extra-index-url",
        "https://wheels.vllm.ai/0.32.0/cu129",
        "--extra-index-url",
        "https://download.pytorch.org/whl/cu126",
    ]
    assert plan["cuda_major"] == 12 and plan["min_driver"] == "525.60.13"
    assert all("+cu12" in package for package in plan["packages"])


def test_cpu_profile_needs_no_driver():
    p = resolve("cpu-demo")
    assert p["vllm"]["install"]["cuda_major"] is None
    assert cuda_route.requirement(p) is None


def test_ollama_profiles_need_ollama_s_driver():
    req = cuda_route.requirement(resolve("ollama-q8_0"))
    assert req["min_driver"] == "550"
    assert "ollama" in req["source"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"vllm": {"cuda_route": "cu12"}},
            "llm_profile_overrides.vllm.cuda_route: 'cu12' is not one of default, cuda12",
        ),
        ({"vllm": {"cuda_major": 11}}, "llm_profile_overrides.vllm.cuda_major: 11 is not a CUDA major"),
        ({"vllm": {"cuda_major": None}}, "llm_profile_overrides.vllm.cuda_major: state the CUDA major"),
        (
            {"vllm": {"cuda_route": "cuda12", "version": "0.33.0"}},
            "llm_profile (vllm-fp8) field vllm.cuda12.vllm_version: must be 0.33.0+cu12<minor>",
        ),
        (
            {"vllm": {"cuda_route": "cuda12", "cuda12": {"torch_version": "2.13.0+cu130"}}},
            "llm_profile_overrides.vllm.cuda12.torch_version: must be a CUDA 12 PyTorch",
        ),
        (
            {"vllm": {"cuda_route": "cuda12", "cuda12": {"index_urls": []}}},
            "llm_profile_overrides.vllm.cuda12.index_urls: must list the pip indexes",
        ),
    ],
)
def test_bad_route_fields_name_the_variable(overrides, message):
    with pytest.raises(profile.ProfileError, match=re.escape(message)):
        resolve("vllm-fp8", overrides)


def test_cpu_profile_has_no_cuda12_route():
    with pytest.raises(profile.ProfileError, match="only GPU profiles have CUDA routes"):
        resolve("cpu-demo", CUDA12)


@pytest.mark.parametrize(
    ("case", "driver", "cuda"), [("l40sx2-550", "550.163.01", "12.4"), ("h100x8-570", "570.195.03", "12.8")]
)
def test_cuda12_drivers_are_refused_for_the_cuda13_build_naming_the_route(case, driver, cuda):
    message = cuda_route.driver_refusal(resolve("vllm-fp8"), gpus(case), "gpu-a")
    assert message.startswith(f"driver {driver} on gpu-a (CUDA {cuda}) is too old for profile vllm-fp8")
    assert "vllm==0.32.0 (a CUDA 13 build), which needs NVIDIA driver >= 580.65.06" in message
    assert "llm_profile_overrides: {vllm: {cuda_route: cuda12}}" in message
    assert "vllm==0.32.0+cu129 and torch==2.13.0+cu126" in message


@pytest.mark.parametrize("case", ["l40sx2-550", "h100x8-570"])
def test_cuda12_route_accepts_cuda12_drivers(case):
    assert cuda_route.driver_refusal(resolve("vllm-fp8", CUDA12), gpus(case), "gpu-a") is None


def test_cuda13_driver_runs_the_default_build_and_old_drivers_fail_the_cuda12_route_too():
    assert cuda_route.driver_refusal(resolve("vllm-fp8"), gpus("h200"), "h") is None
    message = cuda_route.driver_refusal(resolve("vllm-fp8", CUDA12), gpus("v100-old-driver"), "old")
    assert "needs NVIDIA driver >= 525.60.13" in message and "cuda_route" not in message


def test_vram_check_host_carries_the_driver_refusal():
    result = vram.check_host(resolve("vllm-fp8"), gpus("h100x8-570"), host="gpu-a")
    assert any("CUDA 13 build" in refusal for refusal in result["refusals"])
    assert vram.check_host(resolve("vllm-fp8", CUDA12), gpus("h100x8-570"), host="gpu-a")["refusals"] == []


@pytest.mark.parametrize(
    ("case", "overrides", "branch", "replace", "expected"),
    [
        ("h200", None, "580", False, {"install": False, "refusal": None}),
        ("h100x8-570", None, "580", True, {"install": True, "refusal": None}),
        ("h100x8-570", CUDA12, "580", False, {"install": False, "refusal": None}),
        ("h100x8-570", CUDA12, "580", True, {"install": True, "refusal": None}),
    ],
)
def test_gpu_host_driver_action(case, overrides, branch, replace, expected):
    action = cuda_route.driver_action(gpus(case), resolve("vllm-fp8", overrides), branch, replace, "h")
    assert {k: action[k] for k in expected} == expected


def test_gpu_host_refuses_a_too_old_driver_it_may_not_replace():
    action = cuda_route.driver_action(gpus("l40sx2-550"), resolve("vllm-fp8"), "580", False, "h")
    assert action["install"] is False and "cuda_route: cuda12" in action["refusal"]


@pytest.mark.parametrize(
    ("status", "install"), [("missing", True), ("driver_not_loaded", True), ("error", True), ("no_devices", False)]
)
def test_gpu_host_driver_action_without_a_working_driver(status, install):
    action = cuda_route.driver_action({"status": status, "message": "x"}, resolve("vllm-fp8"), "580", False, "h")
    assert action["install"] is install and action["refusal"] is None


def preflight(tmp_path: Path, case: str, overrides: dict) -> subprocess.CompletedProcess:
    """preflight's GPU checks (roles/preflight/tasks/gpu.yml) on localhost against the nvidia-smi double."""
    ansible = REPO / ".venv" / "bin" / "ansible-playbook"
    if not ansible.exists():
        pytest.skip("controller venv .venv is missing")
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "llm_profile": "vllm-fp8",
                "llm_profile_overrides": overrides,
                "preflight_nvidia_smi_command": str(DOUBLE),
                "ansible_python_interpreter": sys.executable,
            }
        )
    )
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "NVIDIA_SMI_DOUBLE_CASE": case,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "remote"),
    }
    return subprocess.run(
        [str(ansible), "-i", "localhost,", str(PLAYBOOK), "--check", "-e", f"@{extra}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# The L40S has 46 GB: with max_num_seqs 2 the FP8 14B fits, so only the driver decides.
@pytest.mark.parametrize(("case", "fit"), [("l40sx2-550", {"max_num_seqs": 2}), ("h100x8-570", {})])
def test_preflight_refuses_then_accepts_with_the_cuda12_route(tmp_path, case, fit):
    refused = preflight(tmp_path, case, fit)
    said = " ".join(refused.stdout.split())
    assert refused.returncode != 0, said[-2000:]
    assert "preflight refused profile vllm-fp8 on localhost: driver " in said
    assert "(a CUDA 13 build), which needs NVIDIA driver >= 580.65.06" in said
    assert "llm_profile_overrides: {vllm: {cuda_route: cuda12}}" in said
    accepted = preflight(tmp_path, case, {**fit, **CUDA12})
    said = " ".join(accepted.stdout.split())
    assert accepted.returncode == 0, said[-3000:]
    assert "changed=0" in said
    assert "VLLM_INSTALL {" in said and '"packages": ["vllm==0.32.0+cu129", "torch==2.13.0+cu126"]' in said
    assert "the profile needs NVIDIA driver >= 525.60.13 for vllm==0.32.0+cu129 (a CUDA 12 build)" in said
