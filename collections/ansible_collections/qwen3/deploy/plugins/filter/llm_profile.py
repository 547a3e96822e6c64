"""Filter ``qwen3.deploy.llm_profile``: one resolution of the serving profile (module_utils/profile.py).

    {{ catalog | qwen3.deploy.llm_profile(llm_profile, llm_profile_overrides) }}
      -> {"errors": [], "profile": {...}}   or   {"errors": ["llm_profile_overrides.x: ..."], "profile": None}
"""

from __future__ import annotations

from ansible_collections.qwen3.deploy.plugins.module_utils import profile
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain


def llm_profile(catalog, name, overrides=None):
    return profile.resolve_result(_plain(catalog), _plain(name), _plain(overrides))


class FilterModule:
    def filters(self):
        return {"llm_profile": llm_profile}
