"""Filters for the vllm_service role; the logic lives in module_utils/vllm_args.py and module_utils/systemd.py.

    {{ llm | qwen3.deploy.vllm_exec_start(venv=..., models_dir=..., host=..., port=..., enable_thinking=...,
                                          extra_args=...) }}          -> the quoted ExecStart= value
    {{ base_env | qwen3.deploy.vllm_environment(llm, extra_env) }}   -> quoted Environment= values
    {{ argv | qwen3.deploy.systemd_exec }}                            -> ExecStart= value for any argv
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils import systemd, vllm_args
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain


def vllm_exec_start(llm, **options):
    try:
        return systemd.exec_line(vllm_args.build_argv(_plain(llm), **_plain(options)))
    except (vllm_args.VllmArgsError, systemd.UnitValueError) as error:
        raise AnsibleFilterError(str(error)) from None


def vllm_environment(base_env, llm, extra_env=None):
    try:
        env = dict(_plain(base_env))
        env.update(vllm_args.build_env(_plain(llm), extra_env=_plain(extra_env)))
        return systemd.environment(env)
    except (vllm_args.VllmArgsError, systemd.UnitValueError) as error:
        raise AnsibleFilterError(str(error)) from None


def systemd_exec(argv):
    try:
        return systemd.exec_line(_plain(argv))
    except systemd.UnitValueError as error:
        raise AnsibleFilterError(str(error)) from None


class FilterModule:
    def filters(self):
        return {"vllm_exec_start": vllm_exec_start, "vllm_environment": vllm_environment, "systemd_exec": systemd_exec}
