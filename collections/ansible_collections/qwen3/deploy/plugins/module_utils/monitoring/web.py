"""Prometheus' and Alertmanager's web side when the inventory opens them beyond loopback: TLS and basic auth
through their ``--web.config.file`` (exporter-toolkit), the certificate's names, and how clients on the monitoring
host (our tasks, Prometheus sending alerts) reach them."""

from __future__ import annotations

import ipaddress

from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring.alerts import MonitoringError
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring.targets import WILDCARDS

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def opened(*binds: str) -> bool:
    """True when any of the addresses binds beyond loopback: then both daemons get TLS and basic auth."""
    return any(bind not in LOOPBACK for bind in binds)


def opened_listeners(binds: dict[str, int]) -> list[dict]:
    """{address: port} of Prometheus and Alertmanager -> the listeners beyond loopback (the listeners check
    expects them; playbooks/monitoring.yml firewalls their ports)."""
    return [{"address": bind, "port": int(port), "proto": "tcp"}
            for bind, port in binds.items() if bind not in LOOPBACK]


def listen(bind: str, port: int) -> str:
    return f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"


def client_url(bind: str, port: int, tls: bool) -> str:
    """Where a client on the monitoring host reaches a daemon: a wildcard bind on loopback (the generated
    certificate names 127.0.0.1), any other at its address."""
    host = "127.0.0.1" if bind in WILDCARDS else bind
    return f"{'https' if tls else 'http'}://{listen(host, port)}"


def certificate_names(name: str, binds: list[str], host_addresses: list[str] = ()) -> str:
    """subjectAltName of the generated certificate: the host's name, 127.0.0.1, every specific bound address and, for
    a wildcard bind (which clients reach at any of the host's addresses), each address the host has, in a fixed order
    (a reordered fact must not make a new certificate). Link-local addresses are left out: a client cannot use them
    without naming an interface, which a certificate cannot carry."""
    names = [f"DNS:{name}", "IP:127.0.0.1"]
    addresses = [bind for bind in binds if bind not in LOOPBACK and bind not in WILDCARDS]
    if any(bind in WILDCARDS for bind in binds):
        addresses += sorted((ipaddress.ip_address(a) for a in host_addresses), key=lambda a: (a.version, a))
    for address in map(ipaddress.ip_address, addresses):
        entry = f"IP:{address}"
        if not (address.is_loopback or address.is_link_local) and entry not in names:
            names.append(entry)
    return ",".join(names)


def web_config(user: str, password_hash: str, cert_file: str, key_file: str) -> dict:
    """The ``web.config.file`` both daemons read (written as JSON, which YAML reads)."""
    return {
        "tls_server_config": {"cert_file": cert_file, "key_file": key_file, "min_version": "TLS12"},
        "basic_auth_users": {user: password_hash},
    }


def htpasswd_hash(text: str, user: str) -> str:
    """The hash of ``user`` in an htpasswd file (``htpasswd -B`` writes ``user:$2y$...``)."""
    for line in text.splitlines():
        name, _, hashed = line.partition(":")
        if name == user and hashed:
            return hashed.strip()
    raise MonitoringError(f"the htpasswd file has no entry for {user!r}")


def alertmanager_client(tls: bool, user: str, password_file: str, ca_file: str) -> dict:
    """The part of Prometheus' ``alerting.alertmanagers`` entry that reaches an Alertmanager behind the web config:
    HTTPS verified against our certificate, basic auth with the password read from a file (not in prometheus.yml)."""
    if not tls:
        return {}
    return {"scheme": "https", "tls_config": {"ca_file": ca_file},
            "basic_auth": {"username": user, "password_file": password_file}}
