"""Which CUDA the profile's engine build needs, the NVIDIA driver that takes, and how the build is installed.

Routes (profile field ``vllm.cuda_route``; per host through ``llm_profile_overrides.vllm.cuda_route``):

``default``
    The profile's vLLM as pinned (``vllm.package==vllm.version``) from the site's pip index. Its CUDA major is
    ``vllm.cuda_major``: PyPI ``vllm`` 0.32.0 pins ``torch==2.13.0`` and needs ``nvidia-cutlass-dsl[cu13]`` and
    ``humming-kernels[cu13]`` (wheel metadata, FACTS.md section 3), so it is a CUDA 13 build. vLLM's default
    wheels are CUDA 13 since v0.20.0 (vllm-project/router PR #154: "The vLLM 0.20.0 release has switched to
    CUDA 13 for the default wheels").
``cuda12``
    CUDA 12 builds for hosts that must stay on a CUDA 12 driver (branches 525-575): vLLM's ``+cu129`` wheel
    from vLLM's per-release wheel index and a CUDA 12 PyTorch from PyTorch's index (``vllm.cuda12``). vLLM
    releases cu129 and cu130 wheels only (vllm-project/vllm issue #42756, maintainer khluu: "We only release
    cu129 and cu130 wheels at the moment"); PyTorch 2.13 ships CUDA 12.6 and 13.0 builds
    (pytorch/pytorch PR #187075), so the CUDA 12 torch for 2.13 comes from ``.../whl/cu126``. Whether
    ``vllm 0.32.0+cu129`` is published was NOT verified (no index is reachable here): sites point
    ``vllm.cuda12.index_urls`` at the mirror that holds their matching pair. Rendered and checked here, never
    installed here.

Driver per CUDA major (NVIDIA, CUDA Compatibility, "Minor Version Compatibility", Table 1: "CUDA 13.x >= 580",
"CUDA 12.x >= 525"; the release notes' Linux x86_64 row for 12.x is ">=525.60.13"; 13.0 GA ships driver
580.65.06, the local installer ``cuda-repo-...-13-0-local_13.0.0-580.65.06-1``). With minor version
compatibility a driver of the 580 branch runs every CUDA 13.x build, one of 525+ every CUDA 12.x build.

Ollama bundles its own CUDA runtimes; ollama/ollama ``docs/gpu.mdx``: "Ollama supports Nvidia GPUs with
compute capability 5.0+ and driver version 550 and newer".

``install_plan(profile)`` fills ``llm.vllm.install`` (profile.derive), e.g. for the default route

    {"package": "vllm", "version": "0.32.0", "packages": ["vllm==0.32.0"], "pip_args": [], "env": {},
     "route": "default", "cuda_major": 13, "min_driver": "580.65.06"}

The vllm_service role installs exactly ``packages`` with ``pip_args`` (unless ``package`` is already installed
at ``version``) and adds ``env`` to the unit, so a route changes this plan and nothing in the role.
``validate(profile, at)`` checks the
route fields (profile.validate); ``requirement``/``driver_refusal``/``driver_action`` serve preflight and
gpu_host, so both roles judge a driver by the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ansible_collections.qwen3.deploy.plugins.module_utils import nvidia_smi

ROUTES = ("default", "cuda12")
CUDA_MIN_DRIVER = {12: "525.60.13", 13: "580.65.06"}
OLLAMA_MIN_DRIVER = "550"
OLLAMA_SOURCE = "ollama/ollama docs/gpu.mdx: driver 550 and newer"
CU12_LOCAL = re.compile(r"^(?P<public>[0-9][0-9A-Za-z.]*)\+cu12[0-9]$")
INDEX_URL = re.compile(r"^(https?|file)://[^\s]+$")
ROUTE_HINT = "llm_profile_overrides: {vllm: {cuda_route: cuda12}}"


class RouteError(ValueError):
    """A profile whose CUDA fields cannot be installed; the message names the field (via ``at``)."""


def _major(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def validate(profile: dict, at: Callable[[str], str]) -> None:
    """Raise RouteError for bad ``vllm.cuda_major`` / ``vllm.cuda_route`` / ``vllm.cuda12`` values.

    ``at(field)`` names the variable an operator edits (profile.validate's helper)."""
    vllm = profile["vllm"]
    route = vllm.get("cuda_route")
    if route not in ROUTES:
        raise RouteError(f"{at('vllm.cuda_route')}: {route!r} is not one of {', '.join(ROUTES)}")
    raw = vllm.get("cuda_major")
    major = _major(raw)
    gpu_vllm = profile["accelerator"] == "nvidia" and profile["engine"] == "vllm"
    if raw is not None and major not in CUDA_MIN_DRIVER:
        known = ", ".join(str(m) for m in CUDA_MIN_DRIVER)
        raise RouteError(f"{at('vllm.cuda_major')}: {raw!r} is not a CUDA major this project knows ({known})")
    if gpu_vllm and major is None:
        raise RouteError(
            f"{at('vllm.cuda_major')}: state the CUDA major of {vllm['package']}=={vllm['version']} "
            "(12 or 13); preflight derives the minimum NVIDIA driver from it"
        )
    if profile["accelerator"] != "nvidia" and route != "default":
        raise RouteError(f"{at('vllm.cuda_route')}: only GPU profiles have CUDA routes; use default")
    vllm["cuda_major"] = major
    cu12 = vllm.get("cuda12")
    if not isinstance(cu12, dict):
        raise RouteError(f"{at('vllm.cuda12')}: must be a mapping (vllm_version, torch_version, index_urls)")
    # The CUDA 12 build fields are required for the cuda12 route and checked whenever they are set.
    required = route == "cuda12"
    version = cu12.get("vllm_version")
    match = CU12_LOCAL.match(str(version or ""))
    # the build must be vllm.version's when it is used (an unused one may lag behind an override of vllm.version)
    if (required or version) and (not match or (required and match["public"] != str(vllm["version"]))):
        raise RouteError(
            f"{at('vllm.cuda12.vllm_version')}: must be {vllm['version']}+cu12<minor> (the CUDA 12 build of "
            f"vllm.version {vllm['version']}), got {version!r}"
        )
    torch = cu12.get("torch_version")
    if (required or torch) and not CU12_LOCAL.match(str(torch or "")):
        raise RouteError(
            f"{at('vllm.cuda12.torch_version')}: must be a CUDA 12 PyTorch like 2.13.0+cu126, got {torch!r}"
        )
    urls = cu12.get("index_urls")
    if (required or urls) and (
        not isinstance(urls, list) or not urls or not all(INDEX_URL.match(str(u)) for u in urls)
    ):
        raise RouteError(
            f"{at('vllm.cuda12.index_urls')}: must list the pip indexes holding the CUDA 12 builds "
            f"(http/https/file URLs), got {urls!r}"
        )


def install_plan(profile: dict) -> dict:
    """What the vLLM venv installs (see the module docstring for the shape)."""
    vllm = profile["vllm"]
    route = vllm.get("cuda_route", "default")
    major = _major(vllm.get("cuda_major"))
    if route == "cuda12":
        cu12 = vllm["cuda12"]
        pip_args: list[str] = []
        for url in cu12["index_urls"]:
            pip_args += ["--extra-index-url", str(url)]
        version = str(cu12["vllm_version"])
        packages = [f"{vllm['package']}=={version}", f"torch=={cu12['torch_version']}"]
        major = 12
    else:
        version = str(vllm["version"])
        packages, pip_args = [f"{vllm['package']}=={version}"], []
    if profile.get("accelerator") != "nvidia":
        major = None
    return {
        "package": vllm["package"],
        "version": version,
        "packages": packages,
        "pip_args": pip_args,
        "env": {},
        "route": route,
        "cuda_major": major,
        "min_driver": CUDA_MIN_DRIVER.get(major) if major is not None else None,
    }


def requirement(profile: dict) -> dict | None:
    """The driver the profile's engine build needs on this host: ``{"min_driver", "cuda_major", "build",
    "source"}``; None for CPU profiles."""
    if profile.get("accelerator") != "nvidia":
        return None
    if profile.get("engine") == "ollama":
        return {"min_driver": OLLAMA_MIN_DRIVER, "cuda_major": None, "build": "Ollama", "source": OLLAMA_SOURCE}
    plan = profile["vllm"].get("install") or install_plan(profile)
    major = plan["cuda_major"]
    build = plan["packages"][0]
    kind = "a CUDA 12 build" if plan["route"] == "cuda12" else f"a CUDA {major} build"
    return {
        "min_driver": CUDA_MIN_DRIVER[major],
        "cuda_major": major,
        "build": f"{build} ({kind})",
        "source": f"NVIDIA CUDA compatibility: CUDA {major}.x needs driver >= {CUDA_MIN_DRIVER[major].split('.')[0]}",
    }


def branch_of(version: str | None) -> int | None:
    """580 for '580.159.04'; None when unknown."""
    try:
        return nvidia_smi.version_tuple(str(version))[0] if version else None
    except nvidia_smi.NvidiaSmiError:
        return None


def driver_ok(driver_version: str | None, req: dict | None) -> bool:
    if req is None:
        return True
    if not driver_version:
        return False
    try:
        return nvidia_smi.version_tuple(driver_version) >= nvidia_smi.version_tuple(req["min_driver"])
    except nvidia_smi.NvidiaSmiError:
        return False


def driver_refusal(profile: dict, gpus: dict, host: str) -> str | None:
    """Why the running driver cannot run the profile's engine build, with the numbers; None when it can."""
    req = requirement(profile)
    if req is None or gpus.get("status") != "ok" or driver_ok(gpus.get("driver_version"), req):
        return None
    name = profile.get("name", "?")
    head = (
        f"driver {gpus.get('driver_version')} on {host} (CUDA {gpus.get('cuda_version') or 'unknown'}) is too old "
        f"for profile {name}: it installs {req['build']}, which needs NVIDIA driver >= {req['min_driver']} "
        f"({req['source']})"
    )
    upgrade = (
        "upgrade the driver (playbooks/gpu_host.yml with gpu_host_driver_replace_other_branch: true and "
        "gpu_host_reboot_allowed: true installs gpu_host_driver_branch)"
    )
    if req["cuda_major"] == 13:
        cu12 = profile["vllm"]["cuda12"]
        return (
            f"{head}. Either {upgrade}, or keep this CUDA 12 driver and select the CUDA 12 route for this host: "
            f"{ROUTE_HINT} (installs {profile['vllm']['package']}=={cu12.get('vllm_version')} and "
            f"torch=={cu12.get('torch_version')}; driver >= {CUDA_MIN_DRIVER[12]})"
        )
    return f"{head}. {upgrade[0].upper()}{upgrade[1:]}"


def driver_action(gpus: dict, profile: dict, branch: str, replace_other_branch: bool, host: str) -> dict:
    """gpu_host's decision for the present driver: ``{"install": bool, "refusal": str|None, "reason": str}``.

    Keeps a loaded driver that runs the profile's build; installs ``branch`` when there is none (nvidia-smi
    missing, driver not loaded, NVML error such as a version mismatch after an upgrade without reboot);
    replaces another branch only when asked, and refuses (with the numbers) a too-old driver otherwise."""
    req = requirement(profile)
    status = gpus.get("status")
    version = gpus.get("driver_version")
    wanted = int(str(branch))
    if status == "ok":
        present = branch_of(version)
        if not driver_ok(version, req):
            if replace_other_branch:
                return {"install": True, "refusal": None, "reason": f"driver {version} too old; installing {wanted}"}
            return {"install": False, "refusal": driver_refusal(profile, gpus, host), "reason": "driver too old"}
        if present != wanted and replace_other_branch:
            return {"install": True, "refusal": None, "reason": f"replacing branch {present} with {wanted}"}
        return {"install": False, "refusal": None, "reason": f"driver {version} kept"}
    if status == "no_devices":
        return {"install": False, "refusal": None, "reason": "driver loaded, nvidia-smi lists no GPU"}
    return {"install": True, "refusal": None, "reason": f"nvidia-smi {status}: {gpus.get('message')}"}
