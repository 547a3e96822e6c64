"""Ansible filters for the vllm_service role; the logic lives in module_utils/vllm_args.py."""

from __future__ import annotations


from ansible.errors import AnsibleFilterError

from ansible_collections.qwen3.deploy.plugins.module_utils import vllm_args


def _wrap(function):
    def filter_(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except vllm_args.VllmArgsError as error:
            raise AnsibleFilterError(str(error)) from None

    filter_.__name__ = function.__name__
    filter_.__doc__ = function.__doc__
    return filter_


def vllm_argv(llm, **options):
    """`llm | vllm_argv(venv=..., models_dir=..., host=..., port=..., enable_thinking=..., extra_args=...)`."""
    return vllm_args.build_argv(llm, **options)


def vllm_env(llm, extra_env=None):
    """`llm | vllm_env(extra_env)` -> {NAME: value} for the unit."""
    return vllm_args.build_env(llm, extra_env=extra_env)


def vllm_errors(llm, extra_env=None, **options):
    """The validation error as a list of one message (empty when fine), for a clean `assert`."""
    try:
        vllm_args.build_argv(llm, **options)
        vllm_args.build_env(llm, extra_env=extra_env)
    except vllm_args.VllmArgsError as error:
        return [str(error)]
    return []


class FilterModule:
    def filters(self):
        return {
            "vllm_argv": _wrap(vllm_argv),
            "vllm_env": _wrap(vllm_env),
            "vllm_errors": vllm_errors,
            "systemd_exec": _wrap(vllm_args.systemd_exec),
            "systemd_environment": _wrap(vllm_args.systemd_environment),
        }
