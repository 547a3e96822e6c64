#!/usr/bin/env python3
"""Build the collection ``qwen3.deploy`` from this repository, without moving anything in it.

    scripts/build-collection                # stage build/collection/ansible_collections/qwen3/deploy, then build
    scripts/build-collection --out DIR      # the same under DIR (made afresh)
    scripts/build-collection --stage-only   # stage, skip ansible-galaxy collection build

The collection's own files (galaxy.yml, README.md, CHANGELOG.md, meta/runtime.yml, plugins/) live where ansible.cfg's
collections_path finds them: collections/ansible_collections/qwen3/deploy. The staging adds the repository's roles/,
playbooks/ (its site.yml is the collection's qwen3.deploy.site), templates/ (the shared unit template the roles
read as ``role_path | dirname | dirname``/templates) and hosttools/ (host_tools builds its zipapp from
``role_path``/../../hosttools/build.py): the same files, at the same places relative to each other, so nothing is
rewritten. Tests stay out (nothing of tests/ is staged, and galaxy.yml's build_ignore keeps them out of the tarball).
Prints the tarball's path (or the staged directory's with --stage-only).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "collections" / "ansible_collections" / "qwen3" / "deploy"
# What the collection ships: (source in the repository, path in the collection).
SHIPPED = [
    (COLLECTION / "galaxy.yml", "galaxy.yml"),
    (COLLECTION / "README.md", "README.md"),
    (COLLECTION / "CHANGELOG.md", "CHANGELOG.md"),
    (COLLECTION / "meta", "meta"),
    (COLLECTION / "plugins", "plugins"),
    (REPO / "roles", "roles"),
    (REPO / "playbooks", "playbooks"),
    (REPO / "templates", "templates"),
    (REPO / "hosttools", "hosttools"),
]
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")


def ansible_galaxy() -> str:
    """The ansible-galaxy beside the Python running this (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-galaxy"
    return str(beside) if beside.exists() else (shutil.which("ansible-galaxy") or "ansible-galaxy")


def stage(out: Path) -> Path:
    """Copy what the collection ships into OUT/ansible_collections/qwen3/deploy (made afresh) and return that path.
    OUT then works as a collections path as it is (ANSIBLE_COLLECTIONS_PATH=OUT)."""
    target = out / "ansible_collections" / "qwen3" / "deploy"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for source, name in SHIPPED:
        if not source.exists():
            raise SystemExit(f"build-collection: {source} is missing")
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=LEFT_OUT)
        else:
            shutil.copy2(source, target / name)
    return target


def build(staged: Path, out: Path) -> Path:
    """``ansible-galaxy collection build`` of the staged directory into OUT; returns the tarball."""
    subprocess.run([ansible_galaxy(), "collection", "build", str(staged), "--output-path", str(out), "--force"],
                   check=True, stdout=subprocess.DEVNULL)
    tarballs = sorted(out.glob("qwen3-deploy-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not tarballs:
        raise SystemExit(f"build-collection: ansible-galaxy wrote no qwen3-deploy-*.tar.gz into {out}")
    return tarballs[-1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/build-collection", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "collection",
                        help="output directory (default: build/collection)")
    parser.add_argument("--stage-only", action="store_true", help="stage the collection, do not build the tarball")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("qwen3-deploy-*.tar.gz"):
        old.unlink()
    staged = stage(out)
    print(staged if args.stage_only else build(staged, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
