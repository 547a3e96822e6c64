"""Layout of an offline bundle directory, its pins files and its manifest (no Ansible here).

    <dir>/manifest.json          every file's sha256 and size, and what the bundle serves (written last)
    <dir>/wheels/*.whl           every wheel of every venv, shared (torch once)
    <dir>/pins/<venv>.txt        one venv's resolution: ``# requirements: [...]`` then ``name==version  # file``
                                 (a pip constraints file: the role installs with ``-c`` it, so pins are exact)
    <dir>/debs/*.deb, Packages   Debian packages with their dependency closure, and the index apt reads
    <dir>/debs/closure.json      the packages asked for and the files of their closure
    <dir>/models/<name>/...      model directories (pre-staged or Hub snapshots)
    <dir>/ollama/<version>/...   Ollama release archives
"""

from __future__ import annotations

import hashlib
import json
import os
import re

MANIFEST = "manifest.json"
FORMAT = 1
SKIP_DIRS = {".partial"}
# sdist-built and downloaded wheels: name-version(-build)?-py-abi-plat.whl (PEP 427).
_WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical(name: str) -> str:
    """PEP 503 name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_pin(filename: str) -> tuple[str, str] | None:
    """``(canonical name, version)`` of a wheel file name; None for anything else."""
    match = _WHEEL_RE.match(filename)
    if not match:
        return None
    return canonical(match.group("name")), match.group("version")


def pins_path(bundle_dir: str, venv: str) -> str:
    return os.path.join(bundle_dir, "pins", f"{venv}.txt")


def render_pins(requirements: list[str], files: list[str]) -> str:
    lines = [f"# requirements: {json.dumps(sorted(requirements))}"]
    for filename in sorted(files, key=lambda f: wheel_pin(f) or (f, "")):
        pin = wheel_pin(filename)
        if pin:
            lines.append(f"{pin[0]}=={pin[1]}  # {filename}")
    return "\n".join(lines) + "\n"


def parse_pins(text: str) -> dict:
    """``{"requirements": [...], "pins": {name: version}, "files": [...]}`` of a pins file."""
    requirements: list[str] = []
    pins: dict[str, str] = {}
    files: list[str] = []
    for line in text.splitlines():
        if line.startswith("# requirements: "):
            requirements = json.loads(line[len("# requirements: "):])
            continue
        spec, _, comment = line.partition("  # ")
        if "==" in spec:
            name, version = spec.split("==", 1)
            pins[name.strip()] = version.strip()
            if comment.strip():
                files.append(comment.strip())
    return {"requirements": requirements, "pins": pins, "files": files}


def read_pins(bundle_dir: str, venv: str) -> dict | None:
    try:
        with open(pins_path(bundle_dir, venv), encoding="utf-8") as handle:
            return parse_pins(handle.read())
    except FileNotFoundError:
        return None


def walk(bundle_dir: str) -> list[str]:
    """Every file of the bundle (relative, sorted) but the manifest and partial downloads."""
    found = []
    for root, dirs, files in os.walk(bundle_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), bundle_dir)
            if rel != MANIFEST:
                found.append(rel)
    return sorted(found)


def read_manifest(bundle_dir: str) -> dict | None:
    try:
        with open(os.path.join(bundle_dir, MANIFEST), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def file_entries(bundle_dir: str, previous: dict | None) -> dict:
    """``{rel: {sha256, size, mtime}}``; a file whose size and mtime the previous manifest has is not hashed again."""
    old = (previous or {}).get("files", {})
    entries = {}
    for rel in walk(bundle_dir):
        stat = os.stat(os.path.join(bundle_dir, rel))
        known = old.get(rel)
        if known and known.get("size") == stat.st_size and known.get("mtime") == int(stat.st_mtime):
            entries[rel] = known
        else:
            entries[rel] = {"sha256": sha256_file(os.path.join(bundle_dir, rel)), "size": stat.st_size,
                            "mtime": int(stat.st_mtime)}
    return entries


def serves(bundle_dir: str) -> dict:
    """What the bundle serves, read from its own files: venv pins, Debian closure, models, Ollama releases."""
    venvs = {}
    pins_dir = os.path.join(bundle_dir, "pins")
    for name in sorted(os.listdir(pins_dir)) if os.path.isdir(pins_dir) else []:
        if name.endswith(".txt"):
            venvs[name[:-4]] = read_pins(bundle_dir, name[:-4])
    debs = {}
    closure = os.path.join(bundle_dir, "debs", "closure.json")
    if os.path.exists(closure):
        with open(closure, encoding="utf-8") as handle:
            debs = json.load(handle)
    models = _subdirs(os.path.join(bundle_dir, "models"))
    ollama = {version: sorted(os.listdir(os.path.join(bundle_dir, "ollama", version)))
              for version in _subdirs(os.path.join(bundle_dir, "ollama"))}
    return {"venvs": venvs, "debs": debs, "models": models, "ollama": ollama}


def _subdirs(path: str) -> list[str]:
    return sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))) if os.path.isdir(path) else []


def build_manifest(bundle_dir: str, previous: dict | None) -> dict:
    return {"format": FORMAT, "serves": serves(bundle_dir), "files": file_entries(bundle_dir, previous)}
