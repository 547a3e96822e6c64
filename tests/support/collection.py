"""The collection as a user gets it, for tests: built by scripts/build-collection, installed from the tarball into a
fresh directory, and ansible run from a directory of the user's (not this repository, so its ansible.cfg, roles_path
and collections_path do not apply).

    built = build(tmp / "build")                  # Built(tarball, staged collection dir, staged collections root)
    fresh = install(built.tarball, tmp / "fresh") # a collections path holding only qwen3.deploy
    run(["ansible-playbook", "-i", inv, "qwen3.deploy.site"], cwd=tmp / "user", collections=fresh)
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.paths import REPO, tool

# The user's own playbook, as README.md ("Use the roles from your own playbooks") shows it: our roles by their full
# names. tests/unit/test_collection.py checks both READMEs show exactly this text.
USER_PLAYBOOK = """\
- hosts: llm_servers
  become: true
  roles: [qwen3.deploy.llm_profile, qwen3.deploy.host_base, qwen3.deploy.host_tools, qwen3.deploy.model_weights, \
qwen3.deploy.vllm_service, qwen3.deploy.open_webui]
"""


@dataclass
class Built:
    tarball: Path
    staged: Path  # .../ansible_collections/qwen3/deploy
    root: Path  # the directory holding ansible_collections/: a collections path as it is


def build(out: Path, *, stage_only: bool = False) -> Built:
    """scripts/build-collection --out OUT (checked)."""
    argv = [str(REPO / "scripts" / "build-collection"), "--out", str(out)] + (["--stage-only"] if stage_only else [])
    printed = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    staged = out.resolve() / "ansible_collections" / "qwen3" / "deploy"
    return Built(Path(printed) if not stage_only else Path(), staged, out.resolve())


def user_env(collections: Path) -> dict[str, str]:
    """This process's environment without any ANSIBLE_* setting and without PYTHONPATH (scripts/dev/python puts this
    repository's collections/ on it, where ansible would find qwen3.deploy too), then the collections path set to
    COLLECTIONS alone (the PyPI package ansible's bundled collections, community.general among them, stay visible as
    for any user)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "PY_COLORS": "0", "NO_COLOR": "1", "PYTHONWARNINGS": "ignore"})
    return env


def run(argv: list[str], *, cwd: Path, collections: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """An ansible command (argv[0] a console script name: ansible-playbook, ansible-galaxy, ansible-doc, ansible-lint)
    from the project's venv, run in CWD with user_env(COLLECTIONS). Not checked."""
    return subprocess.run([tool(argv[0]), *argv[1:]], cwd=cwd, env=user_env(collections), capture_output=True,
                          text=True, check=False, timeout=timeout)


def install(tarball: Path, into: Path, *, cwd: Path) -> Path:
    """``ansible-galaxy collection install TARBALL -p INTO`` (offline: the file; its dependency community.general is
    found installed). Returns INTO, a collections path with only qwen3.deploy in it."""
    into.mkdir(parents=True, exist_ok=True)
    result = run(["ansible-galaxy", "collection", "install", str(tarball), "-p", str(into)], cwd=cwd, collections=into)
    if result.returncode != 0:
        raise AssertionError(f"ansible-galaxy collection install failed:\n{result.stdout}\n{result.stderr}")
    return into
