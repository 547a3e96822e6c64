"""Lookup ``qwen3.deploy.input_errors``: every problem with a role's inputs, before anything changes.

    lookup('qwen3.deploy.input_errors', role_path, profile=llm)     # one role (its tasks/validate.yml)
    lookup('qwen3.deploy.input_errors', roles_dir, all_roles=true, profile=llm)  # every role under a directory

Each term is a role directory (or, with all_roles, a directory of roles). Values come from the play's variables,
else from the role's ``defaults/main.yml`` (templated like Ansible would; a default that needs a fact published
later, such as qwen3_engine, is checked when its role runs), and are checked by ``module_utils/inputs.check_role``
against ``meta/argument_specs.yml`` and ``module_utils/input_rules/<role>.py``. Returns one flat list of
messages, each naming its variable; secrets are never in them.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleLookupError, AnsibleUndefinedVariable
from ansible.plugins.lookup import LookupBase
from ansible.template import trust_as_template
from ansible_collections.qwen3.deploy.plugins.module_utils import inputs
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain

DOCUMENTATION = """
name: input_errors
short_description: problems with a role's inputs, each naming its variable
description: Checks a role's variables against its argument spec and the project's per-role rules.
options:
  _terms:
    description: role directories
    required: true
  profile:
    description: the resolved profile (fact llm), for rules that depend on it
    type: dict
  all_roles:
    description: each term is a directory holding roles; check every role in it that has an argument spec
    type: bool
    default: false
"""



def _trusted(value):
    """Defaults read from a file are data to Ansible 2.19 until marked trusted as templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    return value


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        profile = kwargs.get("profile")
        errors: list[str] = []
        role_dirs = list(terms)
        if kwargs.get("all_roles"):
            role_dirs = [
                os.path.join(parent, name)
                for parent in terms
                for name in sorted(os.listdir(parent))
                if os.path.isfile(os.path.join(parent, name, "meta", "argument_specs.yml"))
            ]
        for role_dir in role_dirs:
            role = os.path.basename(os.path.normpath(str(role_dir)))
            spec_file = os.path.join(role_dir, "meta", "argument_specs.yml")
            if not os.path.isfile(spec_file):
                raise AnsibleLookupError(f"role {role} has no meta/argument_specs.yml at {spec_file}")
            spec = self._loader.load_from_file(spec_file) or {}
            options = ((spec.get("argument_specs") or {}).get("main") or {}).get("options") or {}
            defaults_file = os.path.join(role_dir, "defaults", "main.yml")
            defaults = (self._loader.load_from_file(defaults_file) or {}) if os.path.isfile(defaults_file) else {}
            values = {}
            for name in options:
                if name in variables:
                    raw = variables[name]
                elif name in defaults:
                    raw = _trusted(defaults[name])
                else:
                    continue
                try:
                    values[name] = _plain(self._templar.template(raw))
                except AnsibleUndefinedVariable:
                    continue
            errors += inputs.check_role(role, _plain(options), values, _plain(profile))
        return [errors]
