"""What end-to-end tests look at on a deployed test host: its fingerprint, files that hold secrets, listeners,
unit state, and the process watcher (tests/support/proc_watch.py) run inside it during a playbook."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

WATCHER = Path(__file__).resolve().parent / "proc_watch.py"
# Directories a deploy writes (config, units, tools, state), for the fingerprint and the secrets scan.
FINGERPRINT_DIRS = ("/etc", "/opt/qwen3-deploy", "/var/lib/qwen3-deploy", "/usr/local/bin")


def sh(host, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return host.exec("sh", "-c", command, timeout=timeout)


def fingerprint(host) -> str:
    """A digest of the directories a deploy writes: every file's path, mode, owner, size and modification time
    (a write changes the time), and the content of every file under /etc. Hashing the content of the engine and
    Open WebUI venvs and the weights (GiBs) took over 4 minutes per call on a deployed host."""
    dirs = " ".join(FINGERPRINT_DIRS)
    # Open WebUI's database is its users' data, not a deploy's: the canary (a user) writes it every run.
    cmd = (f"{{ for d in {dirs}; do [ -d $d ] && find $d -xdev \\( -type f -o -type l \\) "
           "-not -path '*/open-webui/webui.db*' "
           "-printf '%p %m %U:%G %s %T@ %l\\n' 2>/dev/null; done; "
           "find /etc -xdev -type f -print0 2>/dev/null | xargs -0 -r sha256sum 2>/dev/null; } | sort | sha256sum")
    return sh(host, cmd, timeout=300).stdout.split()[0]


def unit_show(host, unit: str, *props: str) -> dict:
    out = sh(host, f"systemctl show {unit} --property={','.join(props)}").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_http(host, url: str, timeout: float = 180, header: str = "") -> float:
    """Seconds until ``url`` answers 200 from inside the host; raises on timeout."""
    started = time.monotonic()
    extra = f"-H '{header}'" if header else ""
    while time.monotonic() - started < timeout:
        code = sh(host, f"curl -s -o /dev/null -w '%{{http_code}}' {extra} {url}").stdout.strip()
        if code == "200":
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s")


@dataclass
class Watch:
    """The process watcher running inside a host; ``stop()`` returns its findings."""

    host: object
    remote_dir: str = "/root/qwen3-proc-watch"
    hits: list = field(default_factory=list)
    scans: int = 0
    seconds: float = 0.0

    def start(self, secrets: list[str]) -> Watch:
        sh(self.host, f"rm -rf {self.remote_dir}; mkdir -m 700 {self.remote_dir}")
        subprocess.run(["docker", "cp", str(WATCHER), f"{self.host.name}:{self.remote_dir}/proc_watch.py"], check=True)
        # The secrets travel on stdin into a 0600 file: never in an argv the watcher would report.
        subprocess.run(["docker", "exec", "-i", self.host.name, "sh", "-c",
                        f"umask 077; cat > {self.remote_dir}/secrets"],
                       input="\n".join(secrets) + "\n", text=True, check=True)
        sh(self.host, f"cd {self.remote_dir} && setsid nohup python3 proc_watch.py secrets hits.jsonl stop "
                      f"--interval 0.05 >/dev/null 2>&1 &")
        return self

    def stop(self) -> Watch:
        sh(self.host, f"touch {self.remote_dir}/stop")
        for _ in range(50):
            out = sh(self.host, f"cat {self.remote_dir}/hits.jsonl 2>/dev/null").stdout
            if '"done"' in out:
                break
            time.sleep(0.2)
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        done = next((line for line in lines if line.get("done")), {})
        self.hits = [line for line in lines if not line.get("done")]
        self.scans, self.seconds = done.get("scans", 0), done.get("seconds", 0.0)
        sh(self.host, f"rm -rf {self.remote_dir}")
        return self

    @property
    def rate_hz(self) -> float:
        return self.scans / self.seconds if self.seconds else 0.0


def files_containing(host, secrets: list[str], dirs: tuple[str, ...] = (*FINGERPRINT_DIRS, "/var/log", "/root", "/tmp")
                     ) -> list[str]:
    """Files under ``dirs`` holding any secret, as 'mode owner path' lines (grep -F on the host)."""
    patterns = "\n".join(secrets)
    subprocess.run(["docker", "exec", "-i", host.name, "sh", "-c", "umask 077; cat > /root/.qwen3-patterns"],
                   input=patterns + "\n", text=True, check=True)
    skip = "--exclude-dir=site-packages --exclude-dir=models --exclude=.qwen3-patterns"
    out = sh(host, f"grep -rlF {skip} -f /root/.qwen3-patterns {' '.join(dirs)} 2>/dev/null | "
                   "while read -r f; do stat -c '%a %U %n' \"$f\"; done; rm -f /root/.qwen3-patterns",
             timeout=300).stdout
    return [line for line in out.splitlines() if line.strip()]


def journal_mentions(host, secrets: list[str]) -> int:
    out = sh(host, "journalctl --no-pager -o cat 2>/dev/null", timeout=300).stdout
    return sum(out.count(secret) for secret in secrets)


def ansible_messages(stdout: str) -> str:
    """The failure messages in ansible-playbook output (for readable assertions)."""
    return "\n".join(line for line in stdout.splitlines() if re.search(r"fatal:|msg:|ERROR|FAILED|ROLLED BACK", line))


def failure_messages(stdout: str) -> list[list[str]]:
    """The ``msg`` of every ``FAILED! =>`` in ansible-playbook's output (default callback, YAML), each as its lines:
    what an operator reads first when a run fails."""
    found, lines = [], stdout.splitlines()
    for index, line in enumerate(lines):
        if "FAILED! =>" not in line:
            continue
        block = []
        for follow in lines[index + 1:]:
            if follow.strip() and not follow.startswith(" "):
                break
            block.append(follow)
        try:
            parsed = yaml.safe_load(textwrap.dedent("\n".join(block))) or {}
        except yaml.YAMLError:
            continue
        msg = parsed.get("msg") if isinstance(parsed, dict) else None
        if msg is not None:
            found.append([str(item) for item in msg] if isinstance(msg, list) else str(msg).splitlines())
    return found
