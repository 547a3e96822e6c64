"""Filter ``qwen3.deploy.llm_profile``: one resolution of the serving profile (module_utils/profile.py).

    {{ catalog | qwen3.deploy.llm_profile(llm_profile, llm_profile_overrides) }}
      -> {"errors": [], "profile": {...}}   or   {"errors": ["llm_profile_overrides.x: ..."], "profile": None}
"""

from __future__ import annotations

from ansible_collections.qwen3.deploy.plugins.module_utils import profile


def _plain(value):
    """Ansible hands tagged/lazy containers to filters; give the Python code plain dicts and lists."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def llm_profile(catalog, name, overrides=None):
    return profile.resolve_result(_plain(catalog), _plain(name), _plain(overrides))


class FilterModule:
    def filters(self):
        return {"llm_profile": llm_profile}
