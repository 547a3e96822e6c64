"""Input rules of role model_weights (see module_utils/inputs.py)."""

import json
import os
import re

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.zst|tar\.xz)$")


def _controller_source(value, _values, _profile):
    """A directory or archive on the controller; it must exist now (the copy happens later)."""
    if value in ("", None):
        return None
    if not isinstance(value, str) or (not os.path.isabs(value) and not value.startswith(".")):
        return "must be a controller path (a model directory or a .tar/.tgz/.tar.zst archive)"
    if not os.path.exists(value):
        return f"{value} does not exist on the controller"
    if not os.path.isdir(value) and not _ARCHIVE.search(value):
        return f"{value} is neither a directory nor a .tar/.tar.gz/.tgz/.tar.zst/.tar.xz archive"
    return None


def _remote_source(value, values, profile):
    if value in ("", None):
        return None
    message = c.abs_path(value, values, profile)
    if message:
        return message
    return None


def _checks(values, profile):
    """Across variables: a source for prestaged profiles, and the model's own context limit from config.json."""
    if not profile:
        return []
    errors = []
    source = profile.get("model", {}).get("source")
    staged = values.get("model_weights_prestaged_src") or ""
    if source == "prestaged" and not staged and not values.get("model_weights_prestaged_remote_src"):
        errors.append(
            "model_weights_prestaged_src: profile source is prestaged: set it (controller path) or "
            "model_weights_prestaged_remote_src (host path)"
        )
    config = os.path.join(staged, "config.json") if staged and os.path.isdir(staged) else None
    if source == "prestaged" and config and os.path.isfile(config):
        try:
            with open(config, encoding="utf-8") as handle:
                limit = json.load(handle).get("max_position_embeddings")
        except (OSError, ValueError):
            limit = None
        if isinstance(limit, int) and profile.get("max_model_len", 0) > limit:
            errors.append(
                f"llm_profile_overrides.max_model_len: {profile['max_model_len']} is more than the staged model "
                f"supports ({limit}, max_position_embeddings in {config}); vLLM would refuse to start"
            )
    return errors


RULES = {
    "model_weights_dir": c.abs_path,
    "model_weights_owner": c.system_name,
    "model_weights_group": c.system_name,
    "model_weights_hf_token": c.secret(required=False),
    "model_weights_hf_endpoint": c.url(allow_empty=True),
    "model_weights_min_free_gib": c.number_range(0, 100000),
    "model_weights_retries": c.int_range(0, 100),
    "model_weights_retry_delay": c.int_range(1, 3600),
    "model_weights_max_workers": c.int_range(1, 64),
    "model_weights_download_timeout": c.int_range(60, 7 * 86400),
    "model_weights_poll_interval": c.int_range(1, 3600),
    "model_weights_log": c.abs_path,
    "model_weights_prestaged_src": _controller_source,
    "model_weights_prestaged_remote_src": _remote_source,
    "model_weights_prestaged_strip_components": c.int_range(0, 10),
}
CHECKS = [_checks]
