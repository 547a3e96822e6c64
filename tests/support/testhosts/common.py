"""Paths, labels, errors, input validation, locks and the project SSH key pair (no docker here)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
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


class TesthostError(Exception):
    """A user-facing failure: printed as ``error: ...`` with exit status 1 (2 for bad input)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


class UsageError(TesthostError):
    """Bad input: nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message, status=2)


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
