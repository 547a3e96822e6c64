"""The docker engine, through the pinned ``docker`` Python SDK (requirements.txt; no docker CLI).

``Docker`` is the only class here that talks to dockerd; the rest of the package sees ``Container``
records and ``subprocess.CompletedProcess`` results. Unit tests replace ``Docker`` with a double, or
hand it a fake SDK client.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .common import LABEL, LABEL_SSH_PORT, TesthostError, natural_key

try:
    import docker
    from docker.errors import DockerException, NotFound
    from docker.utils import parse_repository_tag
except ImportError:  # scripts/bootstrap installs it into .venv; the pure parts of the package work without it
    docker = None

    class DockerException(Exception):  # stand-ins keep the except clauses valid without the SDK
        pass

    class NotFound(DockerException):
        pass

API_TIMEOUT = 60  # seconds for one API call (the SDK's default)
PING_TIMEOUT = 20
IMPORT_TIMEOUT = 1800  # the daemon answers an import only when the whole root fs is stored


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


def run_flags_to_kwargs(flags: Sequence[str]) -> dict:
    """Translate ``docker run`` flags (``FLAG VALUE`` pairs) into ``containers.create`` keyword arguments.

    Only the flags below are known; anything else raises ``ValueError`` instead of being dropped, so a
    flag added to ``SYSTEMD_RUN_FLAGS`` either takes effect exactly or fails loudly.
    """
    lists = {
        "--cap-add": "cap_add",
        "--cap-drop": "cap_drop",
        "--security-opt": "security_opt",
        "-v": "volumes",
        "--volume": "volumes",
        "--device": "devices",
    }
    scalars = {"--shm-size": "shm_size", "--stop-signal": "stop_signal"}
    kwargs: dict = {}
    if len(flags) % 2:
        raise ValueError(f"docker run flags must come as FLAG VALUE pairs: {' '.join(flags)}")
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        if flag in lists:
            kwargs.setdefault(lists[flag], []).append(value)
        elif flag in scalars:
            kwargs[scalars[flag]] = value
        elif flag == "--tmpfs":
            path, _, options = value.partition(":")
            kwargs.setdefault("tmpfs", {})[path] = options
        elif flag == "--sysctl":
            key, _, setting = value.partition("=")
            kwargs.setdefault("sysctls", {})[key] = setting
        else:
            raise ValueError(f"docker run flag {flag!r} is not translated for the docker SDK (dockerapi.py)")
    return kwargs


def _text(data: bytes | None) -> str:
    """Decode like ``subprocess.run(text=True)``: UTF-8 and universal newlines."""
    text = (data or b"").decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _detail(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", errors="replace")
    return str(explanation or exc).strip()


class Docker:
    """dockerd through the docker SDK. The client is made on first use (``docker.from_env()``)."""

    def __init__(self, client=None, timeout: float = API_TIMEOUT):
        self._client = client
        self.timeout = timeout

    @property
    def client(self):
        if self._client is None:
            if docker is None:
                raise TesthostError("the docker Python SDK is missing: run scripts/bootstrap (requirements.txt)")
            try:
                self._client = docker.from_env(timeout=self.timeout)
            except DockerException as exc:
                raise TesthostError(f"docker daemon is not reachable: {_detail(exc)}: run scripts/bootstrap") from exc
        return self._client

    @contextlib.contextmanager
    def _api_timeout(self, seconds: float):
        api = self.client.api
        saved, api.timeout = api.timeout, seconds
        try:
            yield api
        finally:
            api.timeout = saved

    def available(self) -> bool:
        try:
            with self._api_timeout(PING_TIMEOUT) as api:
                return bool(api.ping())
        except (TesthostError, DockerException, OSError):  # requests' errors are OSErrors
            return False

    def require(self) -> None:
        _ = self.client  # says why when there is no SDK or no daemon
        if not self.available():
            raise TesthostError("docker daemon is not reachable (docker SDK ping failed): run scripts/bootstrap")

    def inspect(self, name: str) -> Container | None:
        try:
            return Container.from_inspect(self.client.containers.get(name).attrs)
        except NotFound:
            return None

    def ours(self) -> list[Container]:
        """All containers carrying our label, running or not, sorted by name."""
        found = self.client.containers.list(all=True, filters={"label": f"{LABEL}=1"}, ignore_removed=True)
        return sorted((Container.from_inspect(c.attrs) for c in found), key=lambda c: natural_key(c.name))

    def image_exists(self, ref: str) -> bool:
        try:
            self.client.images.get(ref)
        except NotFound:
            return False
        return True

    def import_image(self, chunks: Iterable[bytes], ref: str, changes: Sequence[str]) -> None:
        """``docker import --change C... - REF`` from a tar stream (sent chunked, never held in memory)."""
        repository, tag = parse_repository_tag(ref)
        try:
            with self._api_timeout(IMPORT_TIMEOUT) as api:
                answer = api.import_image_from_stream(chunks, repository=repository, tag=tag, changes=list(changes))
        except (DockerException, OSError) as exc:
            raise TesthostError(f"docker import failed: {_detail(exc)}") from exc
        for line in (answer or "").splitlines():
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and message.get("error"):
                    raise TesthostError(f"docker import failed: {message['error']}")
        if not self.image_exists(ref):
            raise TesthostError(f"docker import did not make {ref}: {(answer or '').strip()[-500:]}")

    def run_container(self, image: str, command: Sequence[str], **kwargs) -> Container:
        """``docker run -d``: create, then start. No implicit pull (``containers.run`` would try a registry)."""
        name = kwargs.get("name", image)
        kwargs.setdefault("detach", True)  # like -d: stdout/stderr not attached
        try:
            created = self.client.containers.create(image, list(command), **kwargs)
        except DockerException as exc:
            raise TesthostError(f"creating container {name} failed: {_detail(exc)}") from exc
        try:
            created.start()
            created.reload()
        except DockerException as exc:
            raise TesthostError(f"starting container {name} failed: {_detail(exc)}") from exc
        return Container.from_inspect(created.attrs)

    def start(self, name: str) -> None:
        try:
            self.client.containers.get(name).start()
        except DockerException as exc:
            raise TesthostError(f"starting container {name} failed: {_detail(exc)}") from exc

    def remove(self, names: Iterable[str]) -> None:
        """``docker rm -f -v NAME...``; names that are already gone are fine."""
        for name in names:
            try:
                self.client.api.remove_container(name, v=True, force=True)
            except NotFound:
                continue
            except DockerException as exc:
                raise TesthostError(f"removing container {name} failed: {_detail(exc)}") from exc

    def logs(self, name: str, tail: int = 20) -> str:
        try:
            return _text(self.client.api.logs(name, stdout=True, stderr=True, tail=tail))
        except DockerException as exc:
            return f"(no logs: {_detail(exc)})"

    def exec(self, name: str, *argv: str, timeout: float | None = 30) -> subprocess.CompletedProcess:
        """``docker exec NAME ARGV...``: not checked, text output, like ``subprocess.run``.

        Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds (the command is left running in
        the host, as when a ``docker exec`` client is killed). Daemon errors (no such container, not
        running) come back as exit status 1 with the daemon's message on stderr, as from the CLI.
        """
        api = self.client.api
        args = ["docker", "exec", name, *argv]
        box: dict = {}

        def work() -> None:
            try:
                exec_id = api.exec_create(name, list(argv), stdout=True, stderr=True)["Id"]
                out, err = api.exec_start(exec_id, demux=True)
                info = api.exec_inspect(exec_id)
                for _ in range(100):  # the stream can close a moment before the exit code is recorded
                    if not info.get("Running"):
                        break
                    time.sleep(0.05)
                    info = api.exec_inspect(exec_id)
                code = info.get("ExitCode")
                box["result"] = (1 if code is None else int(code), out, err)
            except BaseException as exc:  # handed to the caller's thread below
                box["error"] = exc

        worker = threading.Thread(target=work, name=f"docker-exec-{name}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise subprocess.TimeoutExpired(args, timeout)
        if "error" in box:
            if isinstance(box["error"], DockerException):
                return subprocess.CompletedProcess(args, 1, "", f"Error response from daemon: {_detail(box['error'])}\n")
            raise box["error"]
        code, out, err = box["result"]
        return subprocess.CompletedProcess(args, code, _text(out), _text(err))
