"""Prometheus and Alertmanager opened beyond loopback (module_utils/monitoring/web.py, roles/monitoring_server
tasks/web.yml): the web configuration and the alerting client pass Debian's promtool, clients on the monitoring host
reach a wildcard bind on loopback over HTTPS, the generated certificate names what they dial."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.filter import monitoring as monitoring_filters
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import targets, web
from support import prometheus_tools

# bcrypt of "correct horse battery" (cost 10), as htpasswd -B writes it but with the $2b$ prefix.
HASH = "$2b$10$8bqGO1NXxypNGw/ElN1V.uy9ooaE2D7XpIr1j3Q7ZWYBIX80RXxKG"
FILTERS = monitoring_filters.FilterModule().filters()


@pytest.fixture
def pem(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=mon-1", "-addext",
                    "subjectAltName=" + web.certificate_names("mon-1", ["0.0.0.0", "10.0.0.5"]),
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_only_a_bind_beyond_loopback_opens():
    assert not web.opened("127.0.0.1", "::1")
    assert web.opened("127.0.0.1", "0.0.0.0")
    assert web.opened("10.0.0.5", "127.0.0.1")


def test_clients_reach_a_wildcard_on_loopback_and_an_address_at_itself_over_https_once_opened():
    assert web.client_url("127.0.0.1", 9090, False) == "http://127.0.0.1:9090"
    assert web.client_url("0.0.0.0", 9090, True) == "https://127.0.0.1:9090"
    assert web.client_url("::", 9093, True) == "https://127.0.0.1:9093"
    assert web.client_url("fd00::5", 9093, True) == "https://[fd00::5]:9093"


def test_the_generated_certificate_names_the_host_loopback_and_each_specific_address():
    assert web.certificate_names("mon-1", ["0.0.0.0", "127.0.0.1"]) == "DNS:mon-1,IP:127.0.0.1"
    assert web.certificate_names("mon-1", ["10.0.0.5", "10.0.0.5", "fd00::5"]) == (
        "DNS:mon-1,IP:127.0.0.1,IP:10.0.0.5,IP:fd00::5")


def test_a_wildcard_bind_names_every_address_of_the_host_in_a_fixed_order():
    # A client elsewhere reaches 0.0.0.0/:: at one of the host's addresses: the certificate must name each (the fleet
    # scenario's admitted engine could not verify a certificate naming only the host's name and 127.0.0.1).
    facts = ["172.18.0.4", "10.0.0.5", "fe80::42:acff:fe12:4", "fd00::5", "::1", "127.0.0.1"]
    expected = "DNS:mon-1,IP:127.0.0.1,IP:10.0.0.5,IP:172.18.0.4,IP:fd00::5"
    assert web.certificate_names("mon-1", ["0.0.0.0", "127.0.0.1"], facts) == expected
    assert web.certificate_names("mon-1", ["::", "127.0.0.1"], list(reversed(facts))) == expected
    # A specific bind names only itself: the host's other addresses do not answer on that port.
    assert web.certificate_names("mon-1", ["10.0.0.5", "127.0.0.1"], facts) == "DNS:mon-1,IP:127.0.0.1,IP:10.0.0.5"


def test_opened_listeners_are_those_beyond_loopback():
    assert web.opened_listeners({"127.0.0.1": 9090}) == []
    assert web.opened_listeners({"0.0.0.0": "9093"}) == [{"address": "0.0.0.0", "port": 9093, "proto": "tcp"}]


def test_the_web_configuration_passes_promtool_check_web_config(tmp_path, pem):
    cert, key = pem
    path = tmp_path / "web-config.json"
    path.write_text(yaml.safe_dump(web.web_config("qwen3", HASH, str(cert), str(key))))
    done = subprocess.run([str(prometheus_tools.tool("promtool")), "check", "web-config", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # Control: promtool refuses a configuration whose certificate is missing.
    path.write_text(yaml.safe_dump(web.web_config("qwen3", HASH, str(tmp_path / "none.pem"), str(key))))
    done = subprocess.run([str(prometheus_tools.tool("promtool")), "check", "web-config", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_prometheus_sends_alerts_over_https_with_the_password_from_a_file(tmp_path, pem):
    cert, _key = pem
    password = tmp_path / "password"
    password.write_text("correct horse battery")
    client = web.alertmanager_client(True, "qwen3", str(password), str(cert))
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: []\n")
    config = targets.prometheus_config([], scrape_interval_s=15, alertmanager="127.0.0.1:9093",
                                       rules_files=[str(rules)], alertmanager_client=client)
    entry = config["alerting"]["alertmanagers"][0]
    assert entry["scheme"] == "https" and entry["basic_auth"] == {"username": "qwen3", "password_file": str(password)}
    assert "correct horse" not in yaml.safe_dump(config)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([str(prometheus_tools.tool("promtool")), "check", "config", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert web.alertmanager_client(False, "qwen3", str(password), str(cert)) == {}


def test_the_hash_is_read_from_htpasswd_and_a_missing_user_is_an_error():
    assert FILTERS["htpasswd_hash"](f"other:x\nqwen3:{HASH}\n", "qwen3") == HASH
    with pytest.raises(AnsibleFilterError, match="no entry for 'qwen3'"):
        FILTERS["htpasswd_hash"]("other:x\n", "qwen3")
