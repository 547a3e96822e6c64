"""Ansible filters for the Ollama role; the logic lives in module_utils/{ollama_env,modelfile}.py.

- ``ollama_env_check``: list of errors in the merged Ollama environment (empty: valid); for the preflight.
- ``ollama_env``: the merged, validated environment (dict of strings); raises naming the variable.
- ``ollama_env_systemd``: that dict as quoted ``Environment=`` values.
- ``ollama_base_url``: the client URL for an OLLAMA_HOST value.
- ``ollama_modelfile``: the Modelfile text of the non-thinking variant; raises if Ollama would reject it.
- ``ollama_modelfile_check``: list of errors in a Modelfile text.
- ``ollama_modelfile_errors``: list of errors of the Modelfile for a tag and PARAMETERs; for the preflight.
"""

from __future__ import annotations


from ansible.errors import AnsibleFilterError

from ansible_collections.qwen3.deploy.plugins.module_utils import modelfile, ollama_env


def ollama_env_check(inventory_env, profile_env=None, host=ollama_env.DEFAULT_HOST, models_dir="/"):
    """Errors of `inventory_env` (ollama_service_env) merged over `profile_env` (llm.ollama.env)."""
    return ollama_env.check(inventory_env, profile_env, host, models_dir)


def ollama_env_merge(inventory_env, profile_env=None, host=ollama_env.DEFAULT_HOST, models_dir="/"):
    try:
        return ollama_env.merge(inventory_env, profile_env, host, models_dir)
    except ollama_env.OllamaEnvError as error:
        raise AnsibleFilterError(str(error)) from None


def ollama_env_systemd(env):
    return ollama_env.systemd_assignments(dict(env))


def ollama_base_url(host):
    return ollama_env.base_url(str(host))


def ollama_modelfile(base, parameters=None, header="", system=None):
    """Modelfile of the non-thinking Qwen3 variant of tag `base` with `parameters` (llm.ollama.parameters)."""
    try:
        return modelfile.render(str(base), dict(parameters or {}), header=str(header or ""), system=system)
    except modelfile.ModelfileError as error:
        raise AnsibleFilterError(f"llm_profile_overrides.ollama.parameters: {error}") from None


def ollama_modelfile_check(text):
    return modelfile.check(str(text))


def ollama_modelfile_errors(base, parameters=None):
    """Errors (list, empty: fine) of the Modelfile `ollama_modelfile` would render; for the preflight."""
    try:
        modelfile.render(str(base), dict(parameters or {}))
    except modelfile.ModelfileError as error:
        return [f"llm_profile_overrides.ollama.parameters: {error}"]
    return []


class FilterModule:
    def filters(self):
        return {
            "ollama_env_check": ollama_env_check,
            "ollama_env": ollama_env_merge,
            "ollama_env_systemd": ollama_env_systemd,
            "ollama_base_url": ollama_base_url,
            "ollama_modelfile": ollama_modelfile,
            "ollama_modelfile_check": ollama_modelfile_check,
            "ollama_modelfile_errors": ollama_modelfile_errors,
        }
