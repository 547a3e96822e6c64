"""gpu_host for real on a booted Debian 12 test host (``gpuhost-1``) against the local NVIDIA-shaped repositories.

The repositories hold STAND-IN packages (tests/nvidia_repo: names, versions and Depends of NVIDIA's debian12 CUDA
repository and container toolkit repository; signed with throwaway test keys) for driver branches 580 (pinned
by the role) and 590 (newer, offered by the same repository). They are served over HTTP from this machine's
docker bridge address; the role's URL variables point at them the way they point at NVIDIA's https URLs in
production. dkms, python3-debian and their dependencies come from Debian's mirror, for real.

First the repository itself is checked (labels, both branches, the cited Depends, signature). Then one host,
in order (each step depends on the one before):
1. gpu_host_reboot_allowed false on a host without a driver: refused before any change (recap changed=0, no
   keyring, no source file, no NVIDIA package); check mode with reboots allowed plans it all and changes nothing;
2. allowed: keyring, source, headers (running kernel + meta), pinning package, driver branch 580 (590 offered),
   DKMS module built by the real dkms for the running kernel, toolkit, container toolkit + nvidia-ctk,
   nouveau blacklist, reboot (docker restarts the container: a new PID 1, same kernel boot_id), re-check by
   nvidia-smi (stand-in), nvidia-persistenced enabled;
3. second run: changed=0; check mode: changed=0;
4. apt-get upgrade and full-upgrade keep branch 580 (real runs against the NVIDIA sources; the whole system
   simulated), while without the pin the candidate is 590.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from functools import partial

import pytest
from nvidia_repo import build as nvidia_repo

pytestmark = pytest.mark.integration

PREFIX = "gpuhost"
HOST = f"{PREFIX}-1"
PLAYBOOK = "playbooks/gpu_host.yml"
PINNED, NEWER = nvidia_repo.packages.BRANCHES["580"], nvidia_repo.packages.BRANCHES["590"]
DAEMON_JSON = {"runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}


def bridge_address() -> str:
    """This machine's address on docker's default bridge (where the test hosts' default route points)."""
    out = subprocess.run(
        ["docker", "network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}}{{end}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if out and out[0].count(".") == 3 and "/" not in out[0]:
        return out[0]
    ip = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True, check=True)
    return ip.stdout.split()[3].split("/")[0]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def repo_server():
    """Build (or reuse) the stand-in repositories and serve them on the docker bridge address."""
    root, info = nvidia_repo.ensure()
    address = bridge_address()
    server = http.server.ThreadingHTTPServer((address, 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{address}:{server.server_address[1]}", info
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def host(testhosts, repo_server):
    group = testhosts(PREFIX, 1)
    url, _info = repo_server
    # A restart by the engine is this container's reboot (systemd exits on `reboot`; docker starts it again).
    subprocess.run(["docker", "update", "--restart", "unless-stopped", HOST], check=True, capture_output=True)
    # The distribution's own repository would carry the headers of the host's kernel; this machine's kernel has
    # no Debian package, so a stand-in repository with them is added (test setup, not the role).
    run(group.hosts[0], f"echo 'deb [trusted=yes] {url}/kernel/ /' > /etc/apt/sources.list.d/standin-kernel.list")
    return group


def run(host, command: str) -> str:
    proc = host.exec("sh", "-c", command, timeout=300)
    assert proc.returncode == 0, f"{command}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def pid1_start(host) -> str:
    return run(host, "cut -d' ' -f22 /proc/1/stat").strip()


@pytest.fixture(scope="module")
def extra_vars(repo_server):
    url, info = repo_server
    return {
        "llm_profile": "vllm-fp8",
        "gpu_host_cuda_repo_base_url": f"{url}/cuda/repos",
        "gpu_host_container_toolkit_repo_base_url": f"{url}/libnvidia-container",
        "gpu_host_kernel_headers_meta_package": info["headers_meta"],
        "gpu_host_container_runtime": "docker",
        "gpu_host_reboot_timeout": 300,
    }


def flat(text: str) -> str:
    """Ansible's YAML output folds long messages; compare with single spaces."""
    return " ".join(text.split())


def installed(host, package: str) -> str:
    proc = host.exec("dpkg-query", "-W", "-f=${Status} ${Version}", package)
    return proc.stdout.replace("install ok installed ", "") if "install ok installed" in proc.stdout else ""


def test_0_the_stand_in_repository_looks_like_nvidia_s(repo_server, tmp_path):
    """Release labels, both branches offered, the cited Depends verbatim, every package labelled STAND-IN, and
    InRelease verifies with the key the stand-in cuda-keyring delivers."""
    root, info = nvidia_repo.ensure()
    cuda = root / info["cuda_repo"]
    release = (cuda / "Release").read_text()
    assert "Origin: NVIDIA\nLabel: NVIDIA CUDA\nArchitecture: x86_64\n" in release
    stanzas = (cuda / "Packages").read_text().split("\n\n")
    versions = {line.split(": ")[1] for st in stanzas for line in st.splitlines() if line.startswith("Version: ")}
    assert {PINNED, NEWER} <= versions
    (drivers_580,) = [st for st in stanzas if st.startswith("Package: cuda-drivers-580\n")]
    assert (
        "Depends: nvidia-driver (>= 580.65.06), nvidia-driver-cuda (>= 580.65.06), nvidia-kernel-dkms (>= 580.65.06)"
        in drivers_580
    )
    assert all("STAND-IN" in st for st in stanzas if st.strip())
    subprocess.run(["dpkg-deb", "-x", str(cuda / "cuda-keyring_1.1-1_all.deb"), str(tmp_path)], check=True)
    keyring = tmp_path / "usr/share/keyrings/cuda-archive-keyring.gpg"
    assert (tmp_path / "etc/apt/preferences.d/cuda-repository-pin-600").is_file()
    verify = subprocess.run(
        ["gpgv", "--keyring", str(keyring), str(cuda / "InRelease")], check=False, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr


def test_1_refused_before_any_change_without_reboot_permission(host, run_playbook, extra_vars):
    result = run_playbook(PLAYBOOK, host.inventory, {**extra_vars, "gpu_host_reboot_allowed": False}, timeout=600)
    assert result.rc != 0, result.stdout[-3000:]
    said = flat(result.stdout)
    assert "gpu_host refused, nothing was changed" in said
    assert "gpu_host_reboot_allowed is false" in said
    assert "needs NVIDIA driver branch 580" in said
    assert result.changed(HOST) == 0
    h = host.hosts[0]
    assert installed(h, "cuda-keyring") == ""
    assert h.exec("test", "-e", "/etc/apt/sources.list.d/cuda-debian12-x86_64.list").returncode != 0
    assert "nvidia" not in run(h, "dpkg-query -W -f='${Package}\\n'")


def test_1b_check_mode_on_the_fresh_host_plans_and_changes_nothing(host, run_playbook, extra_vars):
    result = run_playbook(
        PLAYBOOK, host.inventory, {**extra_vars, "gpu_host_reboot_allowed": True}, args=["--check"], timeout=600
    )
    said = flat(result.stdout)
    assert result.rc == 0, result.stdout[-3000:]
    assert "would reboot to load NVIDIA driver branch 580" in said
    assert "the package steps are shown as planned" in said
    h = host.hosts[0]
    assert installed(h, "cuda-keyring") == "" and installed(h, "python3-debian") == ""
    assert h.exec("test", "-e", "/etc/apt/sources.list.d/cuda-debian12-x86_64.list").returncode != 0


def test_2_installs_pinned_branch_reboots_and_rechecks(host, run_playbook, extra_vars, repo_server):
    h = host.hosts[0]
    before = pid1_start(h)
    result = run_playbook(PLAYBOOK, host.inventory, {**extra_vars, "gpu_host_reboot_allowed": True}, timeout=900)
    assert result.rc == 0, result.stdout[-5000:]
    assert result.changed(HOST) > 0
    # rebooted: a new PID 1 (the container's kernel boot_id does not change, which is why the role compares both)
    assert pid1_start(h) != before
    assert "TASK [gpu_host : Reboot to load the new driver]" in result.stdout
    # keyring package (three files) and the source pointing at the configured URL
    assert installed(h, "cuda-keyring") == "1.1-1"
    url, _info = repo_server
    source = run(h, "cat /etc/apt/sources.list.d/cuda-debian12-x86_64.list")
    assert (
        source == f"deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] {url}/cuda/repos/debian12/x86_64/ /\n"
    )
    run(
        h,
        "test -s /usr/share/keyrings/cuda-archive-keyring.gpg && test -f /etc/apt/preferences.d/cuda-repository-pin-600",
    )
    # the pinned branch installed while the newer one is offered
    assert installed(h, "nvidia-driver-pinning-580") == "580-1"
    for package in ("nvidia-open", "nvidia-driver", "nvidia-kernel-open-dkms", "libcuda1", "nvidia-persistenced"):
        assert installed(h, package) == PINNED, package
    policy = run(h, "apt-cache policy nvidia-open")
    assert f"Candidate: {PINNED}" in policy and NEWER in policy, policy
    # headers of the running kernel were there when DKMS ran: the real dkms built and installed the module
    kernel = run(h, "uname -r").strip()
    assert installed(h, f"linux-headers-{kernel}") and installed(h, extra_vars["gpu_host_kernel_headers_meta_package"])
    assert f"nvidia-current-open/{PINNED.split('-')[0]}, {kernel}, x86_64: installed" in run(h, "dkms status")
    log = run(h, "grep ' install ' /var/log/dpkg.log | awk '{print $4}' | cut -d: -f1")
    order = log.split()
    assert order.index(f"linux-headers-{kernel}") < order.index("nvidia-kernel-open-dkms"), order
    assert order.index("nvidia-driver-pinning-580") < order.index("nvidia-open"), order
    # toolkit, container toolkit wired into docker the way nvidia-ctk does it, nouveau, persistence
    assert installed(h, "cuda-toolkit-12-9") == "12.9.1-1"
    assert installed(h, "python3-debian")
    assert installed(h, "nvidia-container-toolkit") == "1.19.1-1"
    assert json.loads(run(h, "cat /etc/docker/daemon.json")) == DAEMON_JSON
    assert "blacklist nouveau" in run(h, "cat /etc/modprobe.d/blacklist-nouveau.conf")
    assert run(h, "systemctl is-enabled nvidia-persistenced; systemctl is-active nvidia-persistenced").split() == [
        "enabled",
        "active",
    ]
    smi = run(h, "nvidia-smi --query-gpu=driver_version,persistence_mode --format=csv,noheader")
    assert smi.strip() == f"{PINNED.split('-')[0]}, Enabled"


def test_3_second_run_and_check_mode_change_nothing(host, run_playbook, extra_vars):
    again = run_playbook(PLAYBOOK, host.inventory, {**extra_vars, "gpu_host_reboot_allowed": True}, timeout=600)
    assert again.rc == 0, again.stdout[-3000:]
    assert again.changed(HOST) == 0, again.stdout[-3000:]
    assert "no driver change" in flat(again.stdout)
    check = run_playbook(
        PLAYBOOK, host.inventory, {**extra_vars, "gpu_host_reboot_allowed": True}, args=["--check"], timeout=600
    )
    assert check.rc == 0, check.stdout[-3000:]
    assert check.changed(HOST) == 0, check.stdout[-3000:]


def test_4_upgrade_and_full_upgrade_keep_the_branch(host):
    h = host.hosts[0]
    # the whole system, simulated: nothing of the newer branch would be installed
    simulated = run(h, "apt-get -s full-upgrade")
    assert NEWER not in simulated, simulated
    # for real against the NVIDIA and stand-in sources (Debian's own sources left out: their security updates
    # take minutes on a 2-core machine and have nothing to do with the pin)
    only_nvidia = "-o Dir::Etc::SourceList=/dev/null"
    run(
        h,
        f"DEBIAN_FRONTEND=noninteractive apt-get -y {only_nvidia} upgrade"
        f" && DEBIAN_FRONTEND=noninteractive apt-get -y {only_nvidia} full-upgrade",
    )
    for package in ("nvidia-open", "nvidia-driver", "nvidia-smi", "nvidia-kernel-open-dkms"):
        assert installed(h, package) == PINNED, package
    # without the pin the same repository would move the host to 590: the pin is what holds it
    unpinned = run(h, "apt-cache policy nvidia-open -o Dir::Etc::PreferencesParts=/nonexistent")
    assert f"Candidate: {NEWER}" in unpinned, unpinned
