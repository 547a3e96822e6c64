"""Upstream metric names the alert rules use, pinned to the versions this project installs.

Names change between releases (vLLM renamed ``gpu_cache_usage_perc`` to ``kv_cache_usage_perc`` in v1), so every
name here is checked against a real scrape recorded from the version we pin (tests/fixtures/metrics/*.txt,
``tests/unit/test_alert_rules.py``). Our own series (canary, GPU collector) are defined by our host tools.
"""

from __future__ import annotations

# vLLM 0.32.0 (the CPU build, scraped from the demo host; the GPU build exports the same v1 metrics).
VLLM = {
    "ttft_bucket": "vllm:time_to_first_token_seconds_bucket",
    "ttft_count": "vllm:time_to_first_token_seconds_count",
    "kv_cache_usage": "vllm:kv_cache_usage_perc",
    "waiting": "vllm:num_requests_waiting",
    "running": "vllm:num_requests_running",
    "preemptions": "vllm:num_preemptions_total",
    "itl_bucket": "vllm:inter_token_latency_seconds_bucket",
}

# vllm-router 0.1.17 (FACTS §11, §13): labelled by worker URL; mapped to inventory hosts at scrape time.
# cb_state: "Circuit breaker state per worker (0=closed, 1=open, 2=half_open)" (the router's describe_gauge! text).
ROUTER = {
    "worker_health": "vllm_router_worker_health",
    "cb_state": "vllm_router_cb_state",
}

# The canary (host tool ``canary``): the last run per path, as gauges, through node exporter's textfile collector.
CANARY = {
    "ttft": "qwen3_canary_ttft_seconds",
    "itl": "qwen3_canary_itl_seconds",
    "decode": "qwen3_canary_decode_tokens_per_second",
    "error_ratio": "qwen3_canary_error_ratio",
    "success": "qwen3_canary_success",
    "thinking_leaks": "qwen3_canary_thinking_leaks",
    "last_run": "qwen3_canary_last_run_timestamp_seconds",
}

# The GPU collector (host tool ``gpu-metrics``), through the same textfile collector.
GPU = {
    "up": "qwen3_gpu_up",
    "memory_used": "qwen3_gpu_memory_used_bytes",
    "memory_total": "qwen3_gpu_memory_total_bytes",
    "xid": "qwen3_gpu_xid_errors_total",
}

# Node exporter 1.5.0 (Debian 12).
NODE = {"fs_avail": "node_filesystem_avail_bytes"}

# nginx-prometheus-exporter 0.11.0 (Debian 12), from its README's metric table.
NGINX = {"up": "nginx_up"}
