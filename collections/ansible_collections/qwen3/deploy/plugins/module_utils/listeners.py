"""Listening sockets of a Linux host and the allow-list check verification applies to them.

``read_sockets`` reads /proc/net/{tcp,tcp6,udp,udp6} (kernel format: proc(5), net/ipv4/tcp_ipv4.c
``get_tcp4_sock``), keeps TCP sockets in LISTEN and bound UDP sockets, and finds each one's process through
/proc/<pid>/fd and its systemd unit through /proc/<pid>/cgroup. ``violations`` returns the ones that are reachable
from the network (not loopback) and not allowed. Standard library only: this runs on the host as a module.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import struct
import subprocess

TCP_LISTEN = "0A"
UDP_UNCONNECTED = "07"
_UNIT = re.compile(r"/([^/]+\.(?:service|scope|socket))(?:/|$)")


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0]))
    words = struct.unpack("<4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))


def parse_proc_net(text: str, proto: str) -> list[dict]:
    """Rows of one /proc/net file: listening TCP / bound UDP sockets with their inode."""
    wanted = TCP_LISTEN if proto.startswith("tcp") else UDP_UNCONNECTED
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != wanted:
            continue
        address, port = fields[1].split(":")
        out.append({"proto": proto.rstrip("6"), "family": 6 if proto.endswith("6") else 4,
                    "address": _address(address), "port": int(port, 16), "inode": fields[9], "uid": int(fields[7])})
    return out


def _owners(proc: str = "/proc") -> dict[str, int]:
    owners = {}
    for pid in filter(str.isdigit, os.listdir(proc)):
        fd_dir = os.path.join(proc, pid, "fd")
        try:
            for fd in os.listdir(fd_dir):
                target = os.readlink(os.path.join(fd_dir, fd))
                if target.startswith("socket:["):
                    owners.setdefault(target[8:-1], int(pid))
        except OSError:
            continue
    return owners


def _describe(pid: int | None, proc: str = "/proc") -> tuple[str, str]:
    if pid is None:
        return "", ""
    try:
        with open(os.path.join(proc, str(pid), "comm"), encoding="utf-8") as handle:
            comm = handle.read().strip()
        with open(os.path.join(proc, str(pid), "cgroup"), encoding="utf-8") as handle:
            cgroup = handle.read()
    except OSError:
        return "", ""
    units = _UNIT.findall(cgroup)
    return comm, (units[0] if units else "")


def socket_units(list_sockets_output: str) -> dict[str, str]:
    """``{"[::]:22": "ssh.socket", ...}`` from ``systemctl list-sockets --all --no-legend``: sockets systemd itself
    holds for socket activation belong to PID 1 (init.scope) in /proc; this names the .socket unit instead."""
    units = {}
    for line in list_sockets_output.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1].endswith(".socket") and re.match(r"^(\[[^]]+\]|[0-9.]+):[0-9]+$", fields[0]):
            units[fields[0]] = fields[1]
    return units


def _systemd_socket_units() -> dict[str, str]:
    try:
        out = subprocess.run(["systemctl", "list-sockets", "--all", "--no-legend", "--no-pager"],
                             capture_output=True, text=True, check=False, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return socket_units(out)


def read_sockets(proc: str = "/proc") -> list[dict]:
    sockets = []
    for name in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(os.path.join(proc, "net", name), encoding="utf-8") as handle:
                sockets += parse_proc_net(handle.read(), name)
        except OSError:
            continue
    owners = _owners(proc)
    activated = _systemd_socket_units() if any(owners.get(e["inode"]) == 1 for e in sockets) else {}
    for entry in sockets:
        pid = owners.get(entry["inode"])
        entry["pid"] = pid
        entry["process"], entry["unit"] = _describe(pid, proc)
        if pid == 1:
            entry["unit"] = activated.get(_listen_key(entry), entry["unit"])
    return sockets


def unit_uids(units, run=subprocess.run) -> dict[str, int]:
    """{unit: uid of its User= (root when unset)}: a socket whose process cannot be inspected (root without
    CAP_SYS_PTRACE, as in containers, cannot read another user's /proc/<pid>/fd) is matched by its owner's uid."""
    import pwd  # noqa: PLC0415 - hosts only

    found = {}
    for unit in units:
        try:
            user = run(["systemctl", "show", unit, "--property=User", "--value"], capture_output=True, text=True,
                       check=False, timeout=30).stdout.strip()
            found[unit] = pwd.getpwnam(user).pw_uid if user else 0
        except (KeyError, OSError, subprocess.SubprocessError):
            continue
    return found


def belongs_to(entry: dict, units: dict[str, int]) -> bool:
    """The socket is held by one of ``units`` ({unit: uid}): by its process's cgroup, or, when no process could be
    inspected, by the socket's owner uid (a weaker proof, stated where it is used)."""
    if entry.get("unit") in units:
        return True
    return entry.get("pid") is None and entry.get("uid") in set(units.values()) and entry.get("uid") != 0


def owner_name(entry: dict) -> str:
    """Who holds a socket, as an operator would name it (stop *this*)."""
    if entry.get("pid") == 1 and str(entry.get("unit", "")).endswith(".socket"):
        return entry["unit"]  # systemd's socket activation
    if entry.get("pid") is None:
        try:
            import pwd  # noqa: PLC0415 - hosts only

            user = pwd.getpwuid(int(entry.get("uid", -1))).pw_name
        except (KeyError, TypeError, ValueError):
            user = str(entry.get("uid"))
        return f"a process of user {user}"
    return entry.get("process") or "an unknown process"


def owner_detail(entry: dict) -> str:
    """``owner_name`` with what identifies it: "python3 (pid 77, unit x.service)"."""
    if entry.get("pid") is None:
        return f"{owner_name(entry)} (uid {entry.get('uid')}; its process could not be inspected)"
    unit = f", unit {entry['unit']}" if entry.get("unit") else ""
    return f"{owner_name(entry)} (pid {entry['pid']}{unit})"


def _listen_key(entry: dict) -> str:
    address = f"[{entry['address']}]" if ":" in entry["address"] else entry["address"]
    return f"{address}:{entry['port']}"


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _wildcard(address: str) -> bool:
    return address in ("0.0.0.0", "::")  # noqa: S104 - naming the wildcard, not binding it


def allowed(entry: dict, rule: dict) -> bool:
    """A rule ``{address, port, proto}`` (address "" or omitted: any) or ``{unit}`` (any socket of that unit)."""
    if rule.get("unit"):
        return entry.get("unit") == rule["unit"]
    if int(rule.get("port", -1)) != entry["port"] or rule.get("proto", "tcp") != entry["proto"]:
        return False
    address = str(rule.get("address") or "")
    if not address:
        return True
    if address == entry["address"]:
        return True
    # A service told to bind the wildcard may hold one socket per family (0.0.0.0 and ::).
    return _wildcard(address) and _wildcard(entry["address"])


def violations(sockets: list[dict], rules: list[dict]) -> list[dict]:
    """Sockets reachable from the network (not loopback-only) that no rule allows."""
    return [
        entry for entry in sockets
        if not is_loopback(entry["address"]) and not any(allowed(entry, rule) for rule in rules)
    ]


def describe(entry: dict) -> str:
    address = f"[{entry['address']}]" if ":" in entry["address"] else entry["address"]
    owner = entry.get("unit") or entry.get("process") or "unknown owner"
    return f"{entry['proto']} {address}:{entry['port']} ({owner}, pid {entry.get('pid')})"
