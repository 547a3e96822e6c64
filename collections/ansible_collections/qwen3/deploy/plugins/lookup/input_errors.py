"""Lookup ``qwen3.deploy.input_errors``: every problem with a role's inputs, before anything changes.

    lookup('qwen3.deploy.input_errors', role_path, profile=llm)     # one role (its tasks/validate.yml)
    lookup('qwen3.deploy.input_errors', roles_dir, all_roles=true, profile=llm)  # every role under a directory

Each term is a role directory (or, with all_roles, a directory of roles). Values come from the play's variables,
else from the role's ``defaults/main.yml`` (templated like Ansible would; a default that needs a fact published
later, such as qwen3_engine, is checked when its role runs; ``plugin_utils/role_values``), and are checked by
``module_utils/inputs.check_role`` against ``meta/argument_specs.yml`` and ``module_utils/input_rules/<role>.py``.
Returns one flat list of messages, each starting with the variable the user wrote (a default derived from another
variable is reported only when nothing the user wrote explains it); secrets are never in them.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.qwen3.deploy.plugins.module_utils import inputs
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain
from ansible_collections.qwen3.deploy.plugins.plugin_utils import role_values

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


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        profile = kwargs.get("profile")
        errors: list[str] = []
        derived_names: set[str] = set()
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
            values, derived = role_values.read(self._loader, self._templar, role_dir, options, variables)
            derived_names |= derived
            errors += inputs.check_role(role, _plain(options), values, _plain(profile), derived=derived)
        return [inputs.what_the_user_wrote(errors, derived_names)]
