"""What to put into a bundle: every host's ``qwen3_bundle_needs`` merged (no Ansible here).

A role's needs entry (``roles/<role>/tasks/needs.yml``) may carry ``build`` hints only the builder reads:
``{"models": {name: {"source": "prestaged", "src": path}}, "ollama": [{"version", "asset", "url", "sha256"}]}``.
"""

from __future__ import annotations


def merge(needs_by_host: dict) -> dict:
    debs: set[str] = set()
    venvs: dict[str, dict] = {}
    models: dict[str, dict] = {}
    ollama: dict[tuple, dict] = {}
    for host, needs in sorted(needs_by_host.items()):
        for role, need in sorted((needs or {}).items()):
            debs.update(need.get("debs", []))
            for venv, declared in need.get("venvs", {}).items():
                spec = {"requirements": sorted(declared.get("requirements", [])),
                        "pip_args": list(declared.get("pip_args", []))}
                if venv in venvs and venvs[venv] != spec:
                    raise ValueError(f"venv {venv} is installed with different requirements on {host} ({role}): "
                                     f"{spec['requirements']} vs {venvs[venv]['requirements']}")
                venvs[venv] = spec
            build = need.get("build", {})
            for name in need.get("models", []):
                models.setdefault(name, dict(build.get("models", {}).get(name, {}), role=role))
            for release in build.get("ollama", []):
                ollama.setdefault((release["version"], release["asset"]), release)
    return {"debs": sorted(debs), "venvs": dict(sorted(venvs.items())), "models": dict(sorted(models.items())),
            "ollama": [ollama[key] for key in sorted(ollama)]}
