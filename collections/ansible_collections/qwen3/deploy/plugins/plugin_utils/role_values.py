"""Controller-side helper of the lookups: a role's variables as a play resolves them.

A value comes from the play's variables, else from the role's ``defaults/main.yml``, templated like Ansible would.
A default that needs a fact published later (such as ``qwen3_engine``) is left out. ``derived`` names the values
that came from a templated default rather than from what the user wrote, so a message about one of them can be
kept from naming a variable the user never set.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleUndefinedVariable
from ansible.template import trust_as_template
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain


def _trusted(value):
    """Defaults read from a file are data to Ansible 2.19 until marked trusted as templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    return value


def _is_template(value) -> bool:
    return isinstance(value, str) and "{{" in value


def read(loader, templar, role_dir: str, names, variables: dict) -> tuple[dict, set[str]]:
    """(values, derived) of the given variable names of one role."""
    defaults_file = os.path.join(role_dir, "defaults", "main.yml")
    defaults = (loader.load_from_file(defaults_file) or {}) if os.path.isfile(defaults_file) else {}
    values, derived = {}, set()
    for name in names:
        if name in variables:
            raw = variables[name]
            # The role's own defaults are among a play's variables while it runs: still not the user's.
            if name in defaults and _is_template(defaults[name]) and str(raw) == str(defaults[name]):
                derived.add(name)
        elif name in defaults:
            raw = _trusted(defaults[name])
            if _is_template(defaults[name]):
                derived.add(name)
        else:
            continue
        try:
            values[name] = plain(templar.template(raw))
        except AnsibleUndefinedVariable:
            derived.discard(name)
            continue
    return values, derived
