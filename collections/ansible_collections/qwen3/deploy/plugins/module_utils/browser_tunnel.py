"""An SSH tunnel from the controller to ports on a served host's loopback, for the browser probe.

Opened with the host's own connection settings (Ansible's ssh connection options: address, port, user, key, ssh
args), as a separate ``ssh -N -L`` process without connection sharing, so closing it closes exactly what it
opened. Local ports are picked free on 127.0.0.1; ``ExitOnForwardFailure`` makes a failed forward fail the
start. Waits for the forwards to accept a connection (bounded).
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SshTarget:
    host: str
    port: int | None = None
    user: str | None = None
    private_key_file: str | None = None
    ssh_args: list[str] = field(default_factory=list)  # common + extra args, as Ansible passes them
    ssh_executable: str = "ssh"

    def argv(self, forwards: list[tuple[int, str, int]]) -> list[str]:
        argv = [self.ssh_executable, "-N", "-o", "ExitOnForwardFailure=yes", "-o", "ControlMaster=no",
                "-o", "ControlPath=none", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15"]
        argv += self.ssh_args
        if self.port:
            argv += ["-p", str(self.port)]
        if self.user:
            argv += ["-l", self.user]
        if self.private_key_file:
            argv += ["-i", self.private_key_file]
        for local, rhost, rport in forwards:
            target = f"[{rhost}]" if ":" in rhost else rhost
            argv += ["-L", f"127.0.0.1:{local}:{target}:{rport}"]
        return [*argv, self.host]


def split_args(*texts: str | None) -> list[str]:
    """Ansible's ssh_common_args / ssh_extra_args strings as argv words; ControlMaster/ControlPath are ours."""
    words: list[str] = []
    for text in texts:
        words += shlex.split(text or "")
    out, skip = [], False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word == "-o" and nxt.split("=", 1)[0].lower() in ("controlmaster", "controlpath", "controlpersist"):
            skip = True
            continue
        out.append(word)
    return out


class Tunnel:
    """``with Tunnel(target, [(remote_host, remote_port), ...]) as t: t.local[i]`` (the local ports, in order)."""

    def __init__(self, target: SshTarget, remotes: list[tuple[str, int]], timeout_s: float = 30.0):
        self.target = target
        self.remotes = remotes
        self.timeout_s = timeout_s
        self.local = [free_port() for _ in remotes]
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Tunnel:
        forwards = [(lp, rh, rp) for lp, (rh, rp) in zip(self.local, self.remotes, strict=True)]
        self.proc = subprocess.Popen(self.target.argv(forwards), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + self.timeout_s
        pending = list(self.local)
        while pending:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode("utf-8", "replace").strip()
                raise RuntimeError(f"ssh tunnel to {self.target.host} exited ({self.proc.returncode}): {err[-300:]}")
            if time.monotonic() > end:
                self.close()
                raise RuntimeError(f"ssh tunnel to {self.target.host} not up within {self.timeout_s} s")
            try:
                with socket.create_connection(("127.0.0.1", pending[0]), timeout=1):
                    pending.pop(0)
            except OSError:
                time.sleep(0.1)
        return self

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __exit__(self, *_exc) -> None:
        self.close()
