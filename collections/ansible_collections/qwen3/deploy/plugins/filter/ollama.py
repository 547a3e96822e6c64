"""Filters for the ollama_service role; the logic lives in module_utils/{ollama_env,modelfile,systemd}.py.

- ``ollama_env``: the drop-in's environment (dict of strings), validated; raises naming the variable.
- ``ollama_env_systemd``: that dict as quoted ``Environment=`` values.
- ``ollama_base_url``: the client URL for an OLLAMA_HOST value.
- ``ollama_modelfile``: the Modelfile text of the non-thinking variant; raises if Ollama would reject it.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils import modelfile, ollama_env, systemd


def ollama_env_merge(inventory_env, profile_env=None, host=ollama_env.DEFAULT_HOST, models_dir="/"):
    try:
        return ollama_env.merge(inventory_env, profile_env, host, models_dir)
    except ollama_env.OllamaEnvError as error:
        raise AnsibleFilterError(str(error)) from None


def ollama_env_systemd(env):
    return systemd.environment(dict(env))


def ollama_base_url(host):
    return ollama_env.base_url(str(host))


def ollama_modelfile(base, parameters=None, header="", system=None):
    """Modelfile of the non-thinking Qwen3 variant of tag `base` with `parameters` (llm.ollama.parameters)."""
    try:
        return modelfile.render(str(base), dict(parameters or {}), header=str(header or ""), system=system)
    except modelfile.ModelfileError as error:
        raise AnsibleFilterError(f"llm_profile_overrides.ollama.parameters: {error}") from None


class FilterModule:
    def filters(self):
        return {
            "ollama_env": ollama_env_merge,
            "ollama_env_systemd": ollama_env_systemd,
            "ollama_base_url": ollama_base_url,
            "ollama_modelfile": ollama_modelfile,
        }
