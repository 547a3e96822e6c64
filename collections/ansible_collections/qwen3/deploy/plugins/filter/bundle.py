"""Filters for the offline bundle (role offline_bundle, playbooks/bundle.yml). The logic lives in
module_utils/bundle/.

    {{ offline_bundle_hosts | qwen3.deploy.bundle_plan(hostvars) }}
        -> {"debs": [...], "venvs": {venv: {requirements, pip_args}}, "models": {name: {source, src, ...}},
            "ollama": [{version, asset, url, sha256}]}   (what every host's qwen3_bundle_needs asks for, merged)
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils.bundle import plan
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain


def bundle_plan(hosts, hostvars):
    needs = {}
    for host in hosts:
        try:
            needs[str(host)] = _plain(hostvars[host].get("qwen3_bundle_needs", {}))
        except KeyError:
            needs[str(host)] = {}
    try:
        return plan.merge(needs)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"bundle_plan": bundle_plan}
