"""Ansible filters for profile resolution; the logic lives in module_utils/profiles.py."""

from __future__ import annotations


from ansible.errors import AnsibleFilterError

from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles


def llm_profile_resolve(catalog, name, overrides=None):
    """Catalog entry `name` merged with `overrides`, validated; errors name the variable."""
    try:
        return profiles.resolve(catalog, name, overrides)
    except profiles.ProfileError as error:
        raise AnsibleFilterError(str(error)) from None


def llm_profile_errors(catalog, name, overrides=None):
    """The resolution error as a list of one message (empty when the profile is usable), for a clean `fail`."""
    try:
        profiles.resolve(catalog, name, overrides)
    except profiles.ProfileError as error:
        return [str(error)]
    return []


class FilterModule:
    def filters(self):
        return {"llm_profile_resolve": llm_profile_resolve, "llm_profile_errors": llm_profile_errors}
