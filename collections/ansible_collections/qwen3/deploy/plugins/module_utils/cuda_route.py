"""How the profile's vLLM build gets onto a host: the pip packages and options, and the unit environment.

``install_plan(profile)`` fills ``llm.vllm.install`` when the profile is resolved (profile.derive):

    {"package": "vllm", "version": "0.32.0", "packages": ["vllm==0.32.0"], "pip_args": [], "env": {}}

The vllm_service role installs exactly ``packages`` with ``pip_args`` (unless ``package`` is already installed at
``version``) and adds ``env`` to the unit, so a route
for hosts that must stay on an older driver changes this plan and nothing in the role.
"""

from __future__ import annotations


def install_plan(profile: dict) -> dict:
    vllm = profile["vllm"]
    return {
        "package": vllm["package"],
        "version": vllm["version"],
        "packages": [f"{vllm['package']}=={vllm['version']}"],
        "pip_args": [],
        "env": {},
    }
