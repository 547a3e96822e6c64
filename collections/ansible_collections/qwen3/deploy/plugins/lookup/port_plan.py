"""Lookup ``qwen3.deploy.port_plan``: what this project's services will listen on, on one host.

    lookup('qwen3.deploy.port_plan', roles_dir, engine=llm.engine, kinds=['server'])

Reads every variable of ``module_utils/ports.REGISTRY`` (ports, bind addresses, unit names, the switches that
decide which services run) the way ``input_errors`` does: the play's value, else the owning role's default.
Returns ``{"plan": [binding, ...], "units": [every unit of ours]}`` for the module ``port_check`` on the host.
"""

from __future__ import annotations

import os

from ansible.plugins.lookup import LookupBase
from ansible_collections.qwen3.deploy.plugins.module_utils import ports
from ansible_collections.qwen3.deploy.plugins.plugin_utils import role_values

DOCUMENTATION = """
name: port_plan
short_description: the (address, port) pairs this project's services will bind on a host
description: Reads the port registry's variables (play values, else role defaults) and lists what will listen.
options:
  _terms:
    description: the directory holding the roles
    required: true
  engine:
    description: the profile's engine (vllm, ollama); empty when the profile did not resolve
    type: str
    default: ""
  kinds:
    description: what the host is, server and/or router
    type: list
    elements: str
    default: [server]
"""


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        roles_dir = str(terms[0])
        values: dict = {}
        for name in ports.option_names():
            role_dir = os.path.join(roles_dir, ports.role_of(name))
            found, _derived = role_values.read(self._loader, self._templar, role_dir, [name], variables or {})
            values.update(found)
        plan = ports.bindings(values, engine=str(kwargs.get("engine") or ""), kinds=list(kwargs.get("kinds") or []))
        units = sorted({entry.unit or str(values.get(entry.unit_option) or "") for entry in ports.REGISTRY} - {""})
        return [{"plan": plan, "units": units}]
