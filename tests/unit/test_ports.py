"""The port registry's checks (module_utils/ports.py): which services a host runs, overlapping addresses as Linux
sees them, and the messages, each starting with the variable the user wrote."""

from __future__ import annotations

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import ports

DEMO = {"vllm_service_host": "127.0.0.1", "vllm_service_port": 8000, "vllm_service_unit_name": "qwen3-vllm.service",
        "ollama_service_host": "127.0.0.1:11434", "open_webui_host": "127.0.0.1", "open_webui_port": 8080,
        "webui_proxy_host": "127.0.0.1", "webui_proxy_port": 443, "webui_proxy_enabled": True,
        "llm_router_host": "127.0.0.1", "llm_router_port": 30000, "llm_router_metrics_port": 29000,
        "llm_router_unit_name": "qwen3-router.service", "open_webui_enabled": True}


def plan(kinds=("server",), engine="vllm", **changes):
    return ports.bindings({**DEMO, **changes}, engine=engine, kinds=list(kinds))


def test_an_engine_host_runs_its_engine_open_webui_and_nginx():
    assert [b["option"] for b in plan()] == ["vllm_service_port", "open_webui_port", "webui_proxy_port"]
    assert next(b["option"] for b in plan(engine="ollama")) == "ollama_service_host"
    assert [b["option"] for b in plan(open_webui_enabled=False)] == ["vllm_service_port"]
    assert [b["option"] for b in plan(webui_proxy_enabled="false")] == ["vllm_service_port", "open_webui_port"]


def test_a_router_host_runs_the_router_its_metrics_and_the_webui():
    options = [b["option"] for b in plan(kinds=("router",))]
    assert options == ["open_webui_port", "webui_proxy_port", "llm_router_port", "llm_router_metrics_port"]
    assert plan(kinds=("router",))[-1]["address"] == "127.0.0.1"


def test_values_that_fail_their_own_rules_are_left_to_those_rules():
    assert [b["option"] for b in plan(vllm_service_port="eighty")] == ["open_webui_port", "webui_proxy_port"]
    assert plan(engine="ollama", ollama_service_host="nonsense")[0]["option"] == "open_webui_port"


@pytest.mark.parametrize(("first", "second", "v6only", "expected"), [
    ("127.0.0.1", "127.0.0.1", False, True),
    ("127.0.0.1", "127.0.0.2", False, False),
    ("0.0.0.0", "127.0.0.1", False, True),      # the IPv4 wildcard covers every IPv4 address
    ("0.0.0.0", "::1", False, False),
    ("::", "127.0.0.1", False, True),           # a dual-stack socket holds the port on IPv4 too
    ("::", "127.0.0.1", True, False),           # not with net.ipv6.bindv6only=1
    ("::", "0.0.0.0", False, True),
    ("::", "::1", True, True),
    ("::1", "127.0.0.1", False, False),
    ("::ffff:127.0.0.1", "127.0.0.1", False, True),
])
def test_overlap_follows_linux(first, second, v6only, expected):
    assert ports.overlap(first, second, bindv6only=v6only) is expected
    assert ports.overlap(second, first, bindv6only=v6only) is expected


def test_a_collision_names_both_variables():
    bindings = plan(vllm_service_port=8080, open_webui_host="0.0.0.0")
    problems = ports.collisions(bindings)
    assert len(problems) == 1
    assert problems[0].startswith("vllm_service_port: port 8080 on vllm_service_host 127.0.0.1 collides with "
                                  "open_webui_port (port 8080 on open_webui_host 0.0.0.0)")
    assert ports.collisions(plan()) == []


def test_a_host_name_collides_through_what_it_resolves_to():
    bindings = [{**b, "resolved": ["127.0.0.1", "::1"] if b["address"] == "localhost" else [b["address"]]}
                for b in plan(open_webui_host="localhost", webui_proxy_port=8080)]
    problems = ports.collisions(bindings)
    assert problems and "open_webui_host localhost (127.0.0.1, ::1)" in problems[0]


SSHD = {"proto": "tcp", "address": "0.0.0.0", "port": 22, "pid": 321, "process": "sshd", "unit": "ssh.service"}
OURS = {"proto": "tcp", "address": "127.0.0.1", "port": 8080, "pid": 99, "process": "open-webui",
        "unit": "qwen3-open-webui.service"}
UNITS = {"qwen3-vllm.service": 998, "qwen3-open-webui.service": 997, "nginx.service": 0}  # unit -> its User's uid


def test_a_port_held_by_a_foreign_process_is_named_with_it():
    problems = ports.foreign_holders(plan(vllm_service_port=22), [SSHD, OURS], UNITS)
    assert len(problems) == 1
    assert problems[0].startswith("vllm_service_port: port 22 on vllm_service_host 127.0.0.1 is already held on this "
                                  "host by sshd (pid 321, unit ssh.service), listening on 0.0.0.0:22")


def test_a_socket_activated_port_is_named_by_its_socket_unit():
    activated = {**SSHD, "pid": 1, "process": "systemd", "unit": "ssh.socket", "address": "::"}
    problems = ports.foreign_holders(plan(vllm_service_port=22), [activated], UNITS)
    assert "already held on this host by ssh.socket (pid 1, unit ssh.socket), listening on [::]:22" in problems[0]
    assert problems[0].endswith("choose another port or stop ssh.socket")


def test_a_socket_whose_process_cannot_be_inspected_is_matched_by_its_uid():
    """Root without CAP_SYS_PTRACE (a container) cannot read another user's /proc/<pid>/fd: the socket's owner uid
    (from /proc/net/tcp) then says whether it is one of our services' users."""
    hidden = {"proto": "tcp", "address": "127.0.0.1", "port": 8000, "pid": None, "process": "", "unit": "", "uid": 998}
    assert ports.foreign_holders(plan(), [hidden], UNITS) == []
    stranger = {**hidden, "uid": 65534}
    problems = ports.foreign_holders(plan(), [stranger], UNITS)
    assert "already held on this host by a process of user nobody (uid 65534; its process could not be inspected)" \
        in problems[0]


def test_our_own_listeners_and_udp_are_not_foreign():
    assert ports.foreign_holders(plan(), [OURS], UNITS) == []
    udp = {**SSHD, "proto": "udp", "port": 8000}
    assert ports.foreign_holders(plan(), [udp], UNITS) == []
    elsewhere = {**SSHD, "address": "10.0.0.5", "port": 8000}
    assert ports.foreign_holders(plan(), [elsewhere], UNITS) == []


def test_prometheus_and_alertmanager_are_planned_only_on_the_monitoring_host():
    """A fleet engine (kind server alone) is not refused for a port Prometheus would take: ours never runs there."""
    monitoring = {"monitoring_agent_node_exporter_host": "127.0.0.1", "monitoring_agent_node_exporter_port": 9100,
                  "monitoring_server_prometheus_host": "127.0.0.1", "monitoring_server_prometheus_port": 9090,
                  "monitoring_server_alertmanager_host": "127.0.0.1", "monitoring_server_alertmanager_port": 9093,
                  "monitoring_server_blackbox_port": 9115}
    engine_only = {b["option"] for b in plan(kinds=("server",), **monitoring)}
    assert not {"monitoring_server_prometheus_port", "monitoring_server_alertmanager_port"} & engine_only
    assert "monitoring_agent_node_exporter_port" in engine_only
    single_host = {b["option"] for b in plan(kinds=("server", "monitoring"), **monitoring)}
    assert {"monitoring_server_prometheus_port", "monitoring_server_alertmanager_port",
            "monitoring_server_blackbox_port"} <= single_host
