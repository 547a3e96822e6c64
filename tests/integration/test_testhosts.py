"""Real booted systemd test hosts: boot state, SSH + Ansible, separate network namespaces, clean destroy.

dockerd is checked through the docker Python SDK, like the harness itself drives it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from docker.errors import NotFound
from support import testhosts as th
from support.paths import tool

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CLI = [str(REPO / "scripts" / "testhosts")]
PREFIX = "th-int"


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False, timeout=timeout)


_DOCKER = th.Docker()  # the SDK client is made on first use


def inspect(name: str) -> dict | None:
    """``docker inspect NAME`` (None when there is no such container)."""
    try:
        return _DOCKER.client.api.inspect_container(name)
    except NotFound:
        return None


def started(name: str) -> str:
    data = inspect(name)
    return f"{data['Id']} {data['State']['StartedAt']}"


@pytest.fixture(scope="module")
def pair(testhosts):
    return testhosts(PREFIX, 2)


def test_systemd_is_running_on_each_host(pair):
    for host in pair.hosts:
        assert host.exec("systemctl", "is-system-running").stdout.strip() == "running"
        over_ssh = host.ssh("hostname; systemctl is-system-running")
        assert over_ssh.returncode == 0, over_ssh.stderr
        assert over_ssh.stdout.split() == [host.name, "running"]


def test_ansible_ping_over_ssh(pair):
    ansible = Path(tool("ansible"))
    proc = subprocess.run(
        [str(ansible), "all", "-i", str(pair.inventory), "-m", "ansible.builtin.ping"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in pair.names:
        assert re.search(rf"^{re.escape(name)} \| SUCCESS", proc.stdout, re.M), proc.stdout


def test_run_playbook_reports_recap_per_host(pair, run_playbook, tmp_path):
    playbook = tmp_path / "touch.yml"
    playbook.write_text(
        "- name: Touch a marker\n"
        "  hosts: all\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: Marker file\n"
        "      ansible.builtin.copy:\n"
        "        content: '{{ marker }}'\n"
        "        dest: /tmp/th-marker\n"
        "        mode: '0644'\n"
    )
    first = run_playbook(playbook, pair.inventory, extra_vars={"marker": "one"})
    assert first.rc == 0, first.stdout[-3000:]
    assert sorted(first.recap) == pair.names
    assert all(first.recap[n]["changed"] == 1 for n in pair.names)
    again = run_playbook(playbook, pair.inventory, extra_vars={"marker": "one"})
    assert again.rc == 0
    assert again.changed() == 0
    assert again.failed() == 0
    assert pair.hosts[1].exec("cat", "/tmp/th-marker").stdout == "one"


def test_hosts_have_separate_network_namespaces(pair):
    netns = {h.exec("readlink", "/proc/1/ns/net").stdout.strip() for h in pair.hosts}
    netns.add(os.readlink("/proc/self/ns/net"))
    assert len(netns) == 3
    addrs = {h.exec("ip", "-o", "-4", "addr", "show", "eth0").stdout.split()[3] for h in pair.hosts}
    assert len(addrs) == 2
    unit = "th-http8000"
    try:
        for host in pair.hosts:
            started = host.exec(
                "systemd-run", f"--unit={unit}", "python3", "-m", "http.server", "8000", "--directory", "/etc"
            )
            assert started.returncode == 0, started.stderr
        for host in pair.hosts:
            got = host.exec(
                "curl",
                "-sS",
                "--retry",
                "20",
                "--retry-connrefused",
                "--retry-delay",
                "1",
                "http://127.0.0.1:8000/hostname",
            )
            assert got.stdout.strip() == host.name, got.stderr
    finally:
        for host in pair.hosts:
            host.exec("systemctl", "stop", unit)


def test_hosts_run_with_the_facts_flags(pair):
    for host in pair.hosts:
        data = inspect(host.name)
        config, hostconfig = data["Config"], data["HostConfig"]
        assert config["Cmd"] == ["/lib/systemd/systemd"]
        assert config["Hostname"] == host.name
        assert config["StopSignal"] == "SIGRTMIN+3"
        assert config["Labels"][th.LABEL] == "1"
        assert config["Labels"][th.LABEL_SSH_PORT] == str(host.ssh_port)
        assert not hostconfig["Privileged"]
        # FACTS section 1's SYS_ADMIN, plus NET_ADMIN so role host_firewall can load nftables rules into the
        # container's own network namespace.
        assert [c.removeprefix("CAP_") for c in hostconfig["CapAdd"]] == ["SYS_ADMIN", "NET_ADMIN"]
        assert hostconfig["SecurityOpt"] == ["seccomp=unconfined"]
        assert "/sys/fs/cgroup:/sys/fs/cgroup:rw" in hostconfig["Binds"]
        assert hostconfig["Tmpfs"] == {"/run": "", "/run/lock": ""}
        assert hostconfig["ShmSize"] == 1 << 30
        assert hostconfig["PortBindings"] == {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host.ssh_port)}]}


def test_create_again_is_a_noop(pair):
    before = {h.name: started(h.name) for h in pair.hosts}
    proc = cli("create", "--prefix", PREFIX, "--count", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("is already running") == 2
    after = {h.name: started(h.name) for h in pair.hosts}
    assert after == before


def test_list_and_inventory_show_the_hosts(pair):
    listing = cli("list", "--prefix", PREFIX)
    assert listing.returncode == 0
    for host in pair.hosts:
        assert re.search(rf"^{host.name}\s+running\s+127\.0\.0\.1:{host.ssh_port}\s", listing.stdout, re.M)
    inventory = cli("inventory", "--prefix", PREFIX)
    assert inventory.returncode == 0
    assert inventory.stdout == pair.inventory.read_text()


def test_clashes_are_refused_and_change_nothing():
    foreign, fresh = "th-intx-foreign", "th-intx-1"
    _DOCKER.remove([foreign])
    _DOCKER.client.containers.create(th.image_ref(), ["/bin/true"], name=foreign)
    try:
        proc = cli("create", fresh, foreign)
        assert proc.returncode == 2
        assert "not made by scripts/testhosts" in proc.stderr
        assert inspect(fresh) is None  # the valid name was not created either
        proc = cli("destroy", foreign)
        assert proc.returncode == 2
        assert inspect(foreign) is not None
    finally:
        _DOCKER.remove([foreign, fresh])


def _leftovers(info: dict) -> list[str]:
    """Everything of one container that can outlive it on this machine."""
    cid, pid = info["Id"], info["pid"]
    found = []
    if inspect(cid) is not None:
        found.append("container")
    if Path(f"/proc/{pid}").exists():
        found.append(f"pid {pid}")
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if cid in (proc_dir / "cgroup").read_text():
                found.append(f"process {proc_dir.name} in its cgroup")
        except OSError:
            continue
    mounts = Path("/proc/self/mountinfo").read_text()
    if cid in mounts or info["merged"] in mounts:
        found.append("mount")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    if re.search(rf"^{info['veth_ifindex']}: ", links, re.M):
        found.append(f"veth ifindex {info['veth_ifindex']}")
    found += [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/docker/{cid}")]
    for volume in info["volumes"]:
        try:
            _DOCKER.client.volumes.get(volume)
        except NotFound:
            continue
        found.append(f"volume {volume}")
    return found


def test_destroy_leaves_nothing_behind():
    prefix = "th-intd"
    proc = cli("create", "--prefix", prefix, "--count", "2")
    assert proc.returncode == 0, proc.stderr
    infos = []
    for name in (f"{prefix}-1", f"{prefix}-2"):
        data = inspect(name)
        assert data["State"]["Running"]
        iflink = _DOCKER.exec(name, "cat", "/sys/class/net/eth0/iflink").stdout.strip()
        infos.append(
            {
                "Id": data["Id"],
                "pid": data["State"]["Pid"],
                "merged": data["GraphDriver"]["Data"]["MergedDir"],
                "veth_ifindex": iflink,
                "volumes": [m["Name"] for m in data["Mounts"] if m["Type"] == "volume"],
            }
        )
        assert Path(f"/proc/{data['State']['Pid']}").exists()
    proc = cli("destroy", "--prefix", prefix)
    assert proc.returncode == 0, proc.stderr
    assert _DOCKER.client.containers.list(all=True, filters={"name": f"^{prefix}-"}) == []
    for info in infos:
        assert _leftovers(info) == []
    assert cli("destroy", "--prefix", prefix).returncode == 0  # idempotent
