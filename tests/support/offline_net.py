"""A test host whose network reaches nothing but the controller, and a record of every outbound attempt.

``cut(name)`` loads iptables rules into the test host's own network namespace, from this machine (``nsenter -n``
into the container's PID; the host itself has no iptables and is not changed by the test): loopback and packets
of connections that already exist or that the controller opened (ssh in through docker's port forward, replies)
pass; every other outbound packet (IPv4 and IPv6) jumps to chain QWEN3_OFFLINE, which counts it by protocol and
port, remembers its destination address (``xt_recent`` list ``qwen3out``) and rejects it (a TCP reset, an ICMP
unreachable: clients fail at once instead of waiting for timeouts).

``attempts(name)`` reads the counters and the destinations: ``{"packets": n, "by_rule": {...}, "destinations": [...]}``.
``reset(name)`` zeroes them. ``carry(name, src, dest)`` copies a directory into the host through the docker API (the
way a bundle comes in on a disk; nothing travels over the host's network).
"""

from __future__ import annotations

import subprocess

from support import testhosts as th

CHAIN = "QWEN3_OFFLINE"
RECENT = "qwen3out"
# (label, match) - counted in this order; the last one catches everything else.
COUNTERS = (
    ("dns-udp", ["-p", "udp", "--dport", "53"]),
    ("dns-tcp", ["-p", "tcp", "--dport", "53"]),
    ("https", ["-p", "tcp", "--dport", "443"]),
    ("http", ["-p", "tcp", "--dport", "80"]),
    ("other-tcp", ["-p", "tcp"]),
    ("other-udp", ["-p", "udp"]),
    ("other", []),
)


_CLIENT: list = []


def _docker():
    if not _CLIENT:
        _CLIENT.append(th.Docker())
    return _CLIENT[0]


def _pid(name: str) -> int:
    return int(_docker().client.containers.get(name).attrs["State"]["Pid"])


def _ns(name: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", "-t", str(_pid(name)), "-n", *argv], capture_output=True, text=True,
                          check=check, timeout=60)


def _rules(tool: str, reject: list[str]) -> list[list[str]]:
    # The chain records and rejects; the counters are the OUTPUT rules that jump to it (one per protocol/port).
    rules = [[tool, "-N", CHAIN]]
    if tool == "iptables":
        rules.append([tool, "-A", CHAIN, "-m", "recent", "--name", RECENT, "--rdest", "--set"])
    rules += [[tool, "-A", CHAIN, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
              [tool, "-A", CHAIN, "-j", "REJECT", *reject],
              [tool, "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"],
              [tool, "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]]
    for label, match in COUNTERS:
        rules.append([tool, "-A", "OUTPUT", *match, "-m", "comment", "--comment", f"offline-{label}", "-j", CHAIN])
    return rules


def cut(name: str) -> None:
    for tool, reject in (("iptables", ["--reject-with", "icmp-port-unreachable"]),
                         ("ip6tables", ["--reject-with", "icmp6-port-unreachable"])):
        _ns(name, tool, "-F", "OUTPUT")
        _ns(name, tool, "-F", CHAIN, check=False)
        _ns(name, tool, "-X", CHAIN, check=False)
        for rule in _rules(tool, reject):
            _ns(name, *rule)


def attempts(name: str) -> dict:
    by_rule: dict[str, int] = {}
    for tool in ("iptables", "ip6tables"):
        listing = _ns(name, tool, "-L", "OUTPUT", "-v", "-n", "-x").stdout
        for line in listing.splitlines():
            if "offline-" in line:
                label = line.split("/* offline-", 1)[1].split(" */", 1)[0]
                packets = int(line.split()[0])
                by_rule[f"{tool}:{label}"] = by_rule.get(f"{tool}:{label}", 0) + packets
    recent = _ns(name, "cat", f"/proc/net/xt_recent/{RECENT}", check=False).stdout
    destinations = sorted({part.split("=", 1)[1] for line in recent.splitlines() for part in line.split()
                           if part.startswith("src=")})
    return {"packets": sum(by_rule.values()), "by_rule": {k: v for k, v in by_rule.items() if v},
            "destinations": destinations}


def reset(name: str) -> None:
    for tool in ("iptables", "ip6tables"):
        _ns(name, tool, "-Z", "OUTPUT")
    _ns(name, "sh", "-c", f"echo / > /proc/net/xt_recent/{RECENT}", check=False)


def carry(name: str, src: str, dest: str) -> None:
    """Copy directory ``src`` (this machine) to ``dest`` on the host, through the docker API (a tar stream)."""
    container = _docker().client.containers.get(name)
    container.exec_run(["mkdir", "-p", dest])
    tar = subprocess.Popen(["tar", "-C", src, "-cf", "-", "."], stdout=subprocess.PIPE)
    try:
        if not container.put_archive(dest, tar.stdout):
            raise RuntimeError(f"docker put_archive into {name}:{dest} failed")
    finally:
        tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError(f"tar of {src} failed")
