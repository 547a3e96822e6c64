"""Input rules of role host_tools (see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

RULES = {
    "host_tools_dir": c.abs_path,
    "host_tools_python": c.abs_path,
    "host_tools_pip_packages": c.pip_specs,
}
