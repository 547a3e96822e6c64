"""Input rules of role offline_bundle (see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

RULES = {
    "offline_bundle_dir": c.optional(c.abs_path),
    "offline_bundle_hash_files": c.ok,  # type bool: the argument spec refuses anything else
    "offline_bundle_builder_pip": c.abs_path,
    "offline_bundle_builder_python": c.abs_path,
    "offline_bundle_hosts": c.each(c.word, kind="inventory host name"),
}
