"""Every inventory value is checked before any host changes: one bad value per variable, each refused with a
message that names it. The table's keys must be every option of every role's argument spec plus every field
llm_profile_overrides can set, so a new variable cannot be forgotten."""

from __future__ import annotations

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from support import inputs_harness as h

# variable -> (bad value, text the error must contain). The variable's name must be in the message too.
ROLE_BAD_VALUES = {
    # gpu_host
    "gpu_host_driver_branch": ("560", "has no nvidia-driver-pinning package"),
    "gpu_host_driver_open": ("maybe", "gpu_host_driver_open"),
    "gpu_host_driver_replace_other_branch": ("sometimes", "gpu_host_driver_replace_other_branch"),
    "gpu_host_install_recommends": ("often", "gpu_host_install_recommends"),
    "gpu_host_cuda_toolkit_install": ("perhaps", "gpu_host_cuda_toolkit_install"),
    "gpu_host_cuda_toolkit_version": ("12.9", "package suffix <major>-<minor>"),
    "gpu_host_cuda_repo_base_url": ("developer.download.nvidia.com/compute/cuda/repos", "URL without spaces"),
    "gpu_host_kernel_headers_package": ("Linux Headers", "must be a Debian package name"),
    "gpu_host_kernel_headers_meta_package": ("headers;rm", "must be a Debian package name"),
    "gpu_host_container_runtime": ("podman", "gpu_host_container_runtime"),
    "gpu_host_container_toolkit_repo_base_url": ("ftp://mirror/libnvidia-container", "URL without spaces"),
    "gpu_host_reboot_allowed": ("later", "gpu_host_reboot_allowed"),
    "gpu_host_reboot_timeout": (5, "must be in 60..7200"),
    "gpu_host_reboot_boot_time_command": ("cat /proc/sys/kernel/random/boot_id\nuptime", "one line"),
    "gpu_host_persistence_mode": ("on-ish", "gpu_host_persistence_mode"),
    "gpu_host_nvidia_smi_command": ("bin/nvidia-smi", "absolute path"),
    # host_base
    "host_base_ca_certificates": (["relative/ca.crt"], "absolute path"),
    "host_base_pip_index_url": ("pypi.internal/simple", "URL"),
    "host_base_pip_extra_index_urls": (["ftp://x/simple"], "URL"),
    "host_base_pip_find_links": (["wheels dir"], "URL"),
    "host_base_pip_trusted_hosts": (["bad host name"], "host name"),
    "host_base_proxy_env": ({"LD_PRELOAD": "/x.so"}, "only proxy variables"),
    "host_base_packages": (["vim", "two words"], "whitespace"),
    # host_tools
    "host_tools_dir": ("opt/tools", "absolute path"),
    "host_tools_python": ("python3", "absolute path"),
    "host_tools_pip_packages": (["requests; rm -rf /"], "pip requirement"),
    # llm_profile
    "llm_profile": ("cpu demo", "whitespace"),
    "llm_profile_overrides": ([1], "dict"),
    # monitoring_agent
    "monitoring_agent_enabled": ("sometimes", "monitoring_agent_enabled"),
    "monitoring_agent_node_exporter_host": ("not an address", "monitoring_agent_node_exporter_host"),
    "monitoring_agent_node_exporter_port": (70000, "monitoring_agent_node_exporter_port"),
    "monitoring_agent_textfile_dir": ("var/lib/textfile", "absolute path"),
    "monitoring_agent_canary_enabled": ("often", "monitoring_agent_canary_enabled"),
    "monitoring_agent_canary_interval": (5, "10..3600"),
    "monitoring_agent_canary_max_tokens": (0, "1..256"),
    "monitoring_agent_canary_paths": (["engine", "browser"], "canary paths out of engine, webui, webui-socket"),
    "monitoring_agent_canary_email": ("canary", "e-mail address Open WebUI accepts"),
    "monitoring_agent_gpu_metrics_enabled": ("maybe", "monitoring_agent_gpu_metrics_enabled"),
    "monitoring_agent_gpu_metrics_interval": (1, "5..3600"),
    "monitoring_agent_nvidia_smi": ("nvidia-smi", "absolute path"),
    "monitoring_agent_nginx_exporter_port": (0, "monitoring_agent_nginx_exporter_port"),
    "webui_proxy_status_port": (65536, "webui_proxy_status_port"),
    "monitoring_agent_pause_minutes": (0, "1..1440"),
    "monitoring_agent_pause_reason": ("two\nlines", "monitoring_agent_pause_reason"),
    "monitoring_agent_pause_alert": ("Canary Stale", "alert name such as CanaryStale"),
    # monitoring_server
    "monitoring_server_enabled": ("perhaps", "monitoring_server_enabled"),
    "monitoring_server_prometheus_host": ("prometheus.example", "beyond loopback it must be an IP address"),
    "monitoring_server_prometheus_port": (0, "monitoring_server_prometheus_port"),
    "monitoring_server_alertmanager_host": ("10.0.0.1:9093", "is not an IP address or host name"),
    "monitoring_server_alertmanager_port": (99999, "monitoring_server_alertmanager_port"),
    "monitoring_server_blackbox_port": (-1, "monitoring_server_blackbox_port"),
    "monitoring_server_web_user": ("ops:admin", "user name of letters"),
    "monitoring_server_web_password": ("short", "at least 12 characters"),
    "monitoring_server_tls_cert_src": ("certs/prometheus.pem", "absolute path"),
    "monitoring_server_tls_key_src": ("/nonexistent/prometheus.key", "not a file"),
    "monitoring_server_generated_cert_days": (0, "1..3650"),
    "monitoring_server_allowed_sources": (["monitoring.example"], "is not an IP address or network"),
    "monitoring_server_scrape_interval": (1, "5..300"),
    "monitoring_server_retention_time": ("15 days", "Prometheus duration"),
    "monitoring_server_retention_size": ("5 gigabytes", "size such as 5GB"),
    "monitoring_server_webhook_receivers": ([{"name": "pager", "url": "pager.internal/hook"}],
                                            "url must be an http or https URL"),
    "monitoring_server_email_receivers": ([{"name": "ops", "to": "ops@example.com", "from": "am@example.com",
                                            "smarthost": "smtp.example.com"}], "smarthost must be host:port"),
    "monitoring_server_smtp_password": ("pass\nword", "newlines"),
    "monitoring_server_watchdog_receiver": ("deadman", "is not the name of one of monitoring_server_webhook_receivers"),
    "monitoring_server_group_wait": (9999, "0..600"),
    "monitoring_server_repeat_interval": ("4 hours", "Prometheus duration"),
    "monitoring_server_export_dir": ("etc/prometheus", "absolute path"),
    "monitoring_server_verify_requests": (-1, "0..200"),
    # model_weights
    "model_weights_dir": ("models", "absolute path"),
    "model_weights_owner": ("Root User", "system user"),
    "model_weights_group": ("", "system user"),
    "model_weights_hf_token": ("hf_abc\nxyz", "newlines"),
    "model_weights_hf_endpoint": ("hf-mirror.internal", "URL"),
    "model_weights_min_free_gib": (-1, ">= 0"),
    "model_weights_retries": (-3, "0..100"),
    "model_weights_retry_delay": (0, "1..3600"),
    "model_weights_max_workers": (0, "1..64"),
    "model_weights_download_timeout": (5, "60.."),
    "model_weights_poll_interval": (0, "1..3600"),
    "model_weights_log": ("model-weights.log", "absolute path"),
    "model_weights_prestaged_src": ("/nonexistent/tiny-qwen3", "does not exist"),
    "model_weights_prestaged_remote_src": ("var/lib/x", "absolute path"),
    "model_weights_prestaged_strip_components": (-1, "0..10"),
    # vllm_service
    "vllm_service_host": ("127.0.0.1 --api-key x", "not an IP address"),
    "vllm_service_port": (0, "1..65535"),
    "vllm_service_api_key": ("", "must be set"),
    "vllm_service_enable_thinking": ("maybe", "bool"),
    "vllm_service_extra_args": ({"port": 9000}, "--port is set from vllm_service_port"),
    "vllm_service_extra_env": ({"VLLM_API_KEY": "x"}, "secrets go through"),
    "vllm_service_models_dir": ("models", "absolute path"),
    "vllm_service_venv": ("/opt/my venv", "absolute path"),
    "vllm_service_python": ("python3", "absolute path"),
    "vllm_service_cpu_preinstall": (["torch 2.13"], "pip requirement"),
    "vllm_service_cpu_remove": (["torch vision"], "whitespace"),
    "vllm_service_pip_extra_args": ("--index-url x\n--y", "one line"),
    "vllm_service_user": ("vLLM", "system user"),
    "vllm_service_group": ("1group", "system user"),
    "vllm_service_user_groups": (["video", "Render Group"], "system user"),
    "vllm_service_state_dir": ("state", "absolute path"),
    "vllm_service_unit_name": ("qwen3-vllm", "name.service"),
    "vllm_service_restart_sec": (0, "1..600"),
    "vllm_service_timeout_start_sec": (1, "10.."),
    "vllm_service_health_timeout": (1, "10.."),
    "vllm_service_min_shm_mib": (-1, "0.."),
    "vllm_service_journal_lines": (0, "1..2000"),
    "vllm_service_unit_overrides": ({"ExecStartPre": "/bin/x\n/bin/y"}, "newline"),
    "vllm_service_rollback": ("sometimes", "bool"),
    # offline_bundle
    "offline_bundle_dir": ("srv/qwen3-bundle", "absolute path"),
    "offline_bundle_hash_files": ("sometimes", "offline_bundle_hash_files"),
    "offline_bundle_builder_pip": ("pip3", "absolute path"),
    "offline_bundle_builder_python": ("python3", "absolute path"),
    "offline_bundle_hosts": (["two words"], "without whitespace"),
    # ollama_service
    "ollama_service_version": ("latest", "release version"),
    "ollama_service_release_base_url": ("github.com/ollama", "URL"),
    "ollama_service_archive_url": ("ollama.tar.zst", "URL"),
    "ollama_service_archive_src": ("/nonexistent/ollama.tar.zst", "not a file"),
    "ollama_service_archive_sha256": ("abc", "sha256"),
    "ollama_service_host": ("127.0.0.1", "HOST:PORT"),
    "ollama_service_models_dir": ("models", "absolute path"),
    "ollama_service_env": ({"OLLAMA_NUM_PARALLEL": "4"}, "derived from llm_profile_overrides.max_num_seqs"),
    "ollama_service_groups": (["GPU users"], "system user"),
    "ollama_service_pull_retries": (0, "1..100"),
    "ollama_service_pull_stall_timeout": (1, "10.."),
    "ollama_service_start_timeout": (0, "5..3600"),
    "ollama_service_modelfile_dir": ("ollama", "absolute path"),
    "ollama_service_install_dir": ("opt/ollama", "absolute path"),
    "ollama_service_rollback": ("perhaps", "bool"),
    # open_webui
    "open_webui_enabled": ("yes please", "bool"),
    "open_webui_version": ("main", "release version"),
    "open_webui_torch_version": ("latest", "release version"),
    "open_webui_pip_extra_args": ("-q\n--pre", "one line"),
    "open_webui_host": ("127.0.0.1 --port 1", "not an IP address"),
    "open_webui_port": (70000, "1..65535"),
    "open_webui_backend_kind": ("tgi", "one of"),
    "open_webui_backend_url": ("127.0.0.1:8000", "URL"),
    "open_webui_openai_api_key": ("key with 'quote'", "quotes"),
    "open_webui_stream_chunk_size": (0, "1..4096"),
    "open_webui_enable_signup": ("open", "bool"),
    "open_webui_background_tasks": ("some", "bool"),
    "open_webui_builtin_tools": ("all", "bool"),
    "open_webui_enable_api_keys": ("if needed", "bool"),
    "open_webui_secret_key": ("x" * 44, "Fernet"),
    "open_webui_admin_email": ("admin", "e-mail"),
    "open_webui_admin_password": ("short", "at least 8"),
    "open_webui_admin_name": ("Admin\nRoot", "one line"),
    "open_webui_enforce_model_params": ("always", "bool"),
    "open_webui_extra_env": ({"BAD NAME": "1"}, "environment variable name"),
    "open_webui_health_timeout": (1, "10..3600"),
    "open_webui_rollback": ("later", "bool"),
    "open_webui_backups_keep": (0, "1..100"),
    "open_webui_interface_defaults": ({"chat fade": False}, "setting names must be words"),
    "open_webui_ws_compression": ("per message", "bool"),
    # verify
    "verify_requests": (0, "1..10000"),
    "verify_warmup": (-1, "0..100"),
    "verify_max_tokens": (0, "1.."),
    "verify_prompt": ("", "must be set"),
    "verify_request_timeout": (0, "1..3600"),
    "verify_time_limit": (5, "10..86400"),
    "verify_thresholds": ({"ttft_p95_ms": -5}, "must be a number >= 0"),
    "verify_webui_enabled": ("sometimes", "bool"),
    "verify_webui_paths": (["browser-extension"], "one or more of"),
    "verify_webui_params": ({"nested": {"a": 1}}, "one-line scalar"),
    "verify_report_dir": ("reports", "absolute path"),
    "verify_run_id": ("run one/../../etc", "directory name"),
    "verify_fail_on_threshold": ("depends", "bool"),
    "verify_listeners_check": ("sure", "bool"),
    "verify_allowed_listeners": ([{"address": "0.0.0.0", "port": 99999}], "1..65535"),
    "verify_browser_requests": (0, "1..1000"),
    "verify_browser_warmup": (11, "0..10"),
    "verify_browser_chromium": ("chromium", "absolute path"),
    "verify_browser_via_proxy": ("through", "bool"),
    # webui_proxy
    "webui_proxy_enabled": ("on demand", "bool"),
    "webui_proxy_host": ("0.0.0.0 ssl", "not an IP address"),
    "webui_proxy_port": (0, "1..65535"),
    "webui_proxy_server_name": ("web ui", "DNS name"),
    "webui_proxy_tls_cert_src": ("certs/site.pem", "absolute path"),
    "webui_proxy_tls_key_src": ("/nonexistent/site.key", "not a file"),
    "webui_proxy_generated_cert_days": (0, "1..3650"),
    "webui_proxy_read_timeout": (5, "60..86400"),
    "webui_proxy_client_max_body_size": ("100 MB", "nginx size"),
    "webui_proxy_gzip_static": ("maybe", "bool"),
    # preflight
    "preflight_validate_role_inputs": ("yes sir", "bool"),
    "preflight_roles_dir": ("roles", "absolute path"),
    "preflight_gpu_checks_enabled": ("nope", "bool"),
    "preflight_nvidia_smi_command": ("nvidia-smi -q", "whitespace"),
    "preflight_vram_overhead_gib": ("lots", "GiB as a number"),
    "preflight_kv_cache_policy": ("some", "one of"),
    "preflight_disk_check_enabled": ("never", "bool"),
    "preflight_models_dir": ("models", "absolute path"),
    "preflight_tuned_for": ({"max_num_seqs": 0}, "max_num_seqs: must be an integer >= 1"),
    # service_release (set by the roles that call it)
    "service_release_unit": ("qwen3 vllm", "name.service"),
    "service_release_files": (["relative/file"], "absolute path"),
    "service_release_health_url": ("localhost:8000/health", "URL"),
    "service_release_health_timeout": (0, "1..86400"),
    "service_release_health_port": (70000, "0..65535"),
    "service_release_state_dir": ("releases", "absolute path"),
    "service_release_rollback": ("maybe", "bool"),
    "service_release_reason": (["not", "text"], "must be text"),
    "service_release_journal": ("one line", "list of text lines"),
    "service_release_only_pending": ("pending", "bool"),
    "service_release_fail": ("loudly", "bool"),
    # llm_router
    "llm_router_version": ("latest", "release version"),
    "llm_router_venv": ("venv", "absolute path"),
    "llm_router_python": ("python3", "absolute path"),
    "llm_router_pip_extra_args": ("-q\n--pre", "one line"),
    "llm_router_host": ("0.0.0.0", "admin endpoints have no auth"),
    "llm_router_port": (0, "1..65535"),
    "llm_router_policy": ("cache_awareness", "one of"),
    "llm_router_worker_group": ("llm servers", "group name"),
    "llm_router_worker_addresses": ({"gpu-1": "gpu-1.example"}, "not an IP address"),
    "llm_router_health_check_interval": (0, "1..600"),
    "llm_router_health_failure_threshold": (0, "1..100"),
    "llm_router_health_success_threshold": (0, "1..100"),
    "llm_router_health_check_timeout": (0, "1..600"),
    "llm_router_cb_failure_threshold": (0, "1..1000"),
    "llm_router_cb_timeout": (0, "1..3600"),
    "llm_router_retry_max_retries": (-1, "0..20"),
    "llm_router_request_timeout": (1, "10..86400"),
    "llm_router_worker_startup_timeout": (1, "5..3600"),
    "llm_router_worker_startup_check_interval": (0, "1..600"),
    "llm_router_metrics_port": (70000, "1..65535"),
    "llm_router_extra_args": ({"worker-urls": "http://x:8000"}, "not llm_router_extra_args"),
    "llm_router_drain_timeout": (-1, "0..86400"),
    "llm_router_check_requests": (-1, "0..100"),
    "llm_router_rollout_serial": ("half", "percentage"),
    "llm_router_client_api_key": ("key'quote", "quotes"),
    "llm_router_user": ("Router", "system user"),
    "llm_router_state_dir": ("router", "absolute path"),
    "llm_router_unit_name": ("qwen3-router", "name.service"),
    "llm_router_stop_timeout": (0, "1..86400"),
    "llm_router_health_timeout": (1, "5..3600"),
    # host_firewall
    "host_firewall_public_tcp_ports": ([22, 70000], "1..65535"),
    "host_firewall_restricted_tcp_ports": ([0], "1..65535"),
    "host_firewall_service_tcp_ports": (["http"], "int"),
    "host_firewall_restricted_sources": (["router.example"], "no host names"),
    "host_firewall_router_sources": (["10.0.0.300"], "not an IP address"),
    "host_firewall_reject_other": ("mostly", "bool"),
    "host_firewall_unit_name": ("qwen3 firewall", "name.service"),
    # verify (fleet)
    "verify_fleet_concurrency": ([1, 0], "1..1024"),
    "verify_fleet_requests_per_step": (0, "1..100000"),
    "verify_fleet_input_len": (0, "1.."),
    "verify_fleet_output_len": (0, "1.."),
    "verify_fleet_bench_host": ("two hosts", "whitespace"),
    "verify_fleet_step_timeout": (1, "10..86400"),
    "verify_fleet_fail_on_errors": ("often", "bool"),
    # engine_tuner (playbooks/tune.yml)
    "engine_tuner_min_seqs": (3, "power of two"),
    "engine_tuner_max_seqs": (0, "1..4096"),
    "engine_tuner_input_len": (0, "1.."),
    "engine_tuner_output_len": (4000, "exceed the profile's max_model_len"),
    "engine_tuner_prompts_per_seq": (0, "1..1000"),
    "engine_tuner_min_prompts": (0, "1..100000"),
    "engine_tuner_warmups": (-1, "0..1000"),
    "engine_tuner_seed": (-1, "0.."),
    "engine_tuner_thresholds": ({"ttft_p95_ms": None}, "the tuner needs a TTFT p95 threshold"),
    "engine_tuner_stop_at_first_miss": ("mostly", "bool"),
    "engine_tuner_point_timeout": (1, "10..86400"),
    "engine_tuner_guard_after": (100000, "60..86400"),
    "engine_tuner_health_timeout": (1, "5..86400"),
    "engine_tuner_allow_serving": ("if quiet", "bool"),
    "engine_tuner_behind_router": ("perhaps", "bool"),
    "engine_tuner_profile_overrides": ([1], "dict"),
    "engine_tuner_target_requests_per_s": (-1, ">= 0"),
    "engine_tuner_report_dir": ("reports", "absolute path"),
    "engine_tuner_run_id": ("a/b", "directory name"),
    "engine_tuner_state_dir": ("tune", "absolute path"),
    "engine_tuner_release_state_dir": ("releases", "absolute path"),
    "engine_tuner_nvidia_smi_command": ("nvidia-smi -q", "whitespace"),
}

# llm_profile_overrides field -> (bad value, text the error must contain)
PROFILE_BAD_VALUES = {
    "description": ("two\nlines", "one line"),
    "engine": ("tgi", "is not one of"),
    "accelerator": ("tpu", "is not one of"),
    "model.source": ("s3", "is not one of"),
    "model.name": ("../etc", "plain directory"),
    "model.repo_id": ("not a repo", "as owner/name"),
    "model.revision": ("main", "pin the 40-character"),
    "model.allow_patterns": ("*.safetensors", "list of glob patterns"),
    "model.tag": ("qwen3 14b", "without spaces"),
    "model.max_position_embeddings": (0, "must be >= 16"),
    "quantization": ("int3", "is not one of"),
    "force_quantization": ("yes", "true or false"),
    "served_model_name": ("qwen 3", "not a valid model name"),
    "max_model_len": (100000, "more than the model supports"),
    "max_num_seqs": (0, "must be >= 1"),
    "tensor_parallel_size": (2, "tensor_parallel_size 1 only"),
    "gpu_memory_utilization": (1.5, "must be in (0, 1]"),
    "vram.weights_gib": (-1, "must be > 0"),
    "vram.num_layers": (0, "must be >= 1"),
    "vram.num_kv_heads": (0, "must be >= 1"),
    "vram.head_dim": (0, "must be >= 1"),
    "vram.kv_cache_dtype_bytes": (0, "must be > 0"),
    "min_compute_capability": ("ampere", "must be a number"),
    "disk_gib": (-5, "must be >= 0"),
    "vllm.package": ("vllm cpu", "package name"),
    "vllm.cuda_major": ("eleven", "is not a CUDA major this project knows"),
    "vllm.cuda_route": ("cu12", "is not one of default, cuda12"),
    "vllm.cuda12.vllm_version": ("0.32.0+cu130", "+cu12<minor>"),
    "vllm.cuda12.torch_version": ("2.13.0+cu130", "must be a CUDA 12 PyTorch"),
    "vllm.cuda12.index_urls": (["ftp://mirror/cu129"], "must list the pip indexes"),
    "vllm.version": ("latest", "release version"),
    "vllm.args": ({"max-model-len": 10}, "is set from llm.max_model_len"),
    "vllm.env": ({"lower": "x"}, "UPPER_CASE"),
    "ollama.env": ({"OLLAMA_CONTEXT_LENGTH": "4096"}, "derived from max_model_len"),
    "ollama.parameters": ({"num_ctx": 4096}, "derived from max_model_len"),
    "thresholds.ttft_p95_ms": (-1, "must be >= 0"),
    "thresholds.webui_overhead_p50_ms": ("fast", "must be a number"),
    "thresholds.min_decode_tokens_per_s": (-2, "must be >= 0"),
    "thresholds.max_tokens_per_event": (0, "must be >= 1"),
    "thresholds.thinking_allowed": ("no", "true or false"),
    "thresholds.max_error_rate": (2, "must be in [0, 1]"),
    "thresholds.browser_overhead_p50_ms": (-100, "must be >= 0"),
    "thresholds.browser_first_paint_p95_ms": ("quick", "must be a number"),
    "thresholds.socket_probe_gap_pct": (-20, "must be >= 0"),
}


# Also refused with a GPU profile that installs a CUDA 13 build (vllm 0.32.0): a driver branch older than 580.
BAD_WITH_CUDA13_PROFILE = {"gpu_host_driver_branch": ("570", "needs driver >= 580.65.06")}


def _nested(path: str, value) -> dict:
    out: dict = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def test_the_table_covers_every_variable_and_every_profile_field():
    options = {name for role in h.all_roles() for name in h.spec_options(role)}
    assert set(ROLE_BAD_VALUES) == options, f"table vs specs: {set(ROLE_BAD_VALUES) ^ options}"
    fields = set(h.override_fields())
    assert set(PROFILE_BAD_VALUES) == fields, f"table vs profile fields: {set(PROFILE_BAD_VALUES) ^ fields}"


def test_the_demo_inventory_has_no_bad_value():
    for role in h.all_roles():
        assert h.errors(role) == [], role


@pytest.mark.parametrize(("name", "case"), sorted(ROLE_BAD_VALUES.items()))
def test_bad_role_value_is_refused_naming_the_variable(name, case):
    bad, expected = case
    role = next(role for role in h.all_roles() if name in h.spec_options(role))
    profile = "ollama-demo" if role == "ollama_service" else "cpu-demo"
    errors = h.errors(role, {name: bad}, profile)
    mine = [e for e in errors if e.startswith(name + ":")]
    assert mine, f"{name}={bad!r} was accepted; all errors: {errors}"
    assert any(expected in e for e in mine), mine


@pytest.mark.parametrize(("field", "case"), sorted(PROFILE_BAD_VALUES.items()))
def test_bad_profile_override_is_refused_naming_the_field(field, case):
    bad, expected = case
    name = "ollama-demo" if field.startswith("ollama.") or field == "model.tag" else "cpu-demo"
    result = profiles.resolve_result(h.CATALOG, name, _nested(field, bad))
    assert result["errors"], f"llm_profile_overrides.{field}={bad!r} was accepted"
    message = result["errors"][0]
    assert f"llm_profile_overrides.{field}" in message and expected in message, message


def test_secrets_never_appear_in_messages():
    secret = "sup3r'secret-value"
    errors = h.errors("vllm_service", {"vllm_service_api_key": secret})
    assert errors and all(secret not in e for e in errors)
    errors = h.errors("open_webui", {"open_webui_admin_password": 12345678901234567890})
    assert all("12345678901234567890" not in e for e in errors)


@pytest.mark.parametrize(("name", "case"), sorted(BAD_WITH_CUDA13_PROFILE.items()))
def test_a_driver_branch_too_old_for_the_engine_build_is_refused(name, case):
    bad, expected = case
    errors = [e for e in h.errors("gpu_host", {name: bad}, "vllm-fp8") if e.startswith(name + ":")]
    assert any(expected in e for e in errors), errors


# More bad values for variables whose first row does not show every way to get them wrong: the key inside a dict,
# a value that flows into another role's default.
MORE_BAD_VALUES = [
    ("vllm_service_extra_args", {"max-logprobs": "5\n6"}, "max-logprobs: the value may not contain a newline"),
    ("vllm_service_extra_env", {"VLLM_LOGGING_LEVEL": "INFO\nX=1"}, "VLLM_LOGGING_LEVEL: the value may not contain"),
    ("llm_router_extra_args", {"log-level": "info\n"}, "log-level: the value may not contain a newline"),
    ("model_weights_dir", "/srv/my models", "absolute path"),
    ("webui_proxy_tls_cert_src", __file__, "must be set together with webui_proxy_tls_key_src"),
    ("monitoring_server_prometheus_host", "0.0.0.0",
     "needs monitoring_server_web_password and monitoring_server_allowed_sources"),
    ("monitoring_server_web_password", "x" * 73, "at most 72 bytes"),
    ("monitoring_server_email_receivers", [{"name": "ops", "to": "ops@example.com", "from": "am@example.com",
                                           "smarthost": "smtp.example.com:587", "auth_username": "am"}],
     "need monitoring_server_smtp_password from the vault"),
    ("monitoring_server_email_receivers", [{"name": "ops", "to": "ops", "from": "am@example.com",
                                           "smarthost": "smtp.example.com:587"}], "to must be an email address"),
    ("monitoring_server_email_receivers", [{"name": "ops", "to": "ops@example.com", "from": "am@example.com",
                                           "smarthost": "[::1]:25"}] * 2, "must be distinct"),
]


def _starts_with(message: str, name: str) -> bool:
    return message.startswith((f"{name}:", f"{name}.", f"{name} "))


@pytest.mark.parametrize(("name", "case"), sorted(ROLE_BAD_VALUES.items()) + [(n, (b, e)) for n, b, e in MORE_BAD_VALUES])
def test_a_whole_preflight_names_only_the_variable_the_user_wrote(name, case):
    """All roles at once, as preflight checks them, with templated defaults rendered from the user's values: every
    message starts with the variable the user wrote (model_weights_dir is not refused as preflight_models_dir)."""
    bad, expected = case
    profile = {"llm_profile": "ollama-demo"} if name.startswith("ollama_service") else {}
    messages = h.preflight_messages({**profile, name: bad})
    assert any(_starts_with(m, name) and expected in m for m in messages), messages
    assert [m for m in messages if not _starts_with(m, name)] == [], f"{name}={bad!r}"


@pytest.mark.parametrize(("field", "case"), sorted(PROFILE_BAD_VALUES.items()))
def test_a_whole_preflight_names_only_the_profile_field_the_user_wrote(field, case):
    bad, expected = case
    profile = {"llm_profile": "ollama-demo"} if field.startswith("ollama.") or field == "model.tag" else {}
    messages = h.preflight_messages(profile, _nested(field, bad))
    name = f"llm_profile_overrides.{field}"
    assert any(m.startswith(name) and expected in m for m in messages), messages
    assert [m for m in messages if not m.startswith(name)] == [], f"{name}={bad!r}"
