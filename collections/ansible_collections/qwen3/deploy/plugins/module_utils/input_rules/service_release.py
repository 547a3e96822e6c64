"""Input rules of role service_release: its options are set by the roles that call it, so an inventory value
here would be a mistake; the checks keep what a caller passes well-formed."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c


def _text(value, _values, _profile):
    return None if isinstance(value, str) else "must be text"


def _lines(value, _values, _profile):
    if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
        return "must be a list of text lines"
    return None


RULES = {
    "service_release_unit": c.optional(c.unit_name),
    "service_release_files": c.each(c.abs_path, kind="path"),
    "service_release_health_url": c.url(allow_empty=True),
    "service_release_health_timeout": c.int_range(1, 86400),
    "service_release_health_port": c.int_range(0, 65535),
    "service_release_state_dir": c.abs_path,
    "service_release_rollback": c.ok,
    "service_release_reason": _text,
    "service_release_journal": _lines,
    "service_release_only_pending": c.ok,
    "service_release_fail": c.ok,
}
