"""Input rules of role llm_profile. The profile name and every override field are checked when the profile
is resolved (module_utils/profile.py, the role's only real work), against the catalog the role loads."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

RULES = {
    "llm_profile": c.word,
    "llm_profile_overrides": c.ok,
}
