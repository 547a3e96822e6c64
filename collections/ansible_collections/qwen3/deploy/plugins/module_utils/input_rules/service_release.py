"""Input rules of role service_release: its options are set by the roles that call it, so an inventory value
here would be a mistake; the checks keep what a caller passes well-formed."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

RULES = {
    "service_release_unit": c.optional(c.unit_name),
    "service_release_files": c.each(c.abs_path, kind="path"),
    "service_release_health_url": c.url(allow_empty=True),
    "service_release_health_timeout": c.int_range(1, 86400),
    "service_release_state_dir": c.abs_path,
    "service_release_rollback": c.ok,
    "service_release_reason": c.ok,
    "service_release_journal": c.ok,
    "service_release_only_pending": c.ok,
    "service_release_fail": c.ok,
}
