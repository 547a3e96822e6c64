"""One bad value per GPU variable of preflight that this work keeps, and a piece of the expected message."""

BAD_VALUES = {
    "preflight_gpu_checks_enabled": ("yes please", "preflight_gpu_checks_enabled"),
    "preflight_nvidia_smi_command": ("nvidia smi", "without whitespace"),
    "preflight_vram_overhead_gib": ("lots", "must be empty (built-in estimate) or GiB as a number"),
    "preflight_kv_cache_policy": ("most", "preflight_kv_cache_policy"),
}
