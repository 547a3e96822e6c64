"""What a host needs of the bundle against what its manifest serves, and every file against its sha256.

``needs`` is the fact ``qwen3_bundle_needs`` the roles publish (``roles/<role>/tasks/needs.yml``)::

    {role: {"debs": [package, ...],
            "venvs": {venv: {"requirements": [spec, ...], "pip_args": [...]}},
            "models": [name, ...],
            "ollama": [{"version": v, "asset": file}]}}

Each problem is one line that starts with ``offline_bundle_dir`` (the variable the user wrote) and names the file
or the item (no Ansible here).
"""

from __future__ import annotations

import os

from . import layout

VAR = "offline_bundle_dir"


def merged(needs: dict) -> dict:
    """Every role's needs in one: ``{"debs": {pkg: [roles]}, "venvs": {venv: (role, need)}, ...}``."""
    out: dict = {"debs": {}, "venvs": {}, "models": {}, "ollama": {}}
    for role, need in sorted((needs or {}).items()):
        for package in need.get("debs", []):
            out["debs"].setdefault(package, []).append(role)
        for venv, spec in need.get("venvs", {}).items():
            out["venvs"][venv] = (role, spec)
        for model in need.get("models", []):
            out["models"][model] = role
        for release in need.get("ollama", []):
            out["ollama"][(release["version"], release["asset"])] = role
    return out


def coverage(manifest: dict, needs: dict) -> list[str]:
    """What the inventory needs that the bundle was not built with."""
    serves = manifest.get("serves", {})
    want = merged(needs)
    problems = []
    for venv, (role, spec) in sorted(want["venvs"].items()):
        have = serves.get("venvs", {}).get(venv)
        if have is None:
            problems.append(f"{VAR}: the bundle has no wheels for venv {venv} ({role} installs "
                            f"{', '.join(spec['requirements'])}): rebuild it with playbooks/bundle.yml")
        elif sorted(have["requirements"]) != sorted(spec["requirements"]):
            problems.append(f"{VAR}: the bundle's venv {venv} was built for {have['requirements']}, {role} installs "
                            f"{sorted(spec['requirements'])}: rebuild it with playbooks/bundle.yml")
    requested = set(serves.get("debs", {}).get("packages", []))
    for package, roles in sorted(want["debs"].items()):
        if package not in requested:
            problems.append(f"{VAR}: the bundle has no Debian package {package} (needed by {', '.join(roles)}): "
                            "rebuild it with playbooks/bundle.yml")
    for model, role in sorted(want["models"].items()):
        if model not in serves.get("models", []):
            problems.append(f"{VAR}: the bundle has no model directory models/{model} (needed by {role})")
    for (version, asset), role in sorted(want["ollama"].items()):
        if asset not in serves.get("ollama", {}).get(version, []):
            problems.append(f"{VAR}: the bundle has no Ollama archive ollama/{version}/{asset} (needed by {role})")
    return problems


def listed(manifest: dict) -> list[str]:
    """Files the bundle's own indexes name (pins, Debian closure) that the manifest lacks."""
    files = manifest.get("files", {})
    serves = manifest.get("serves", {})
    problems = []
    for venv, pins in sorted(serves.get("venvs", {}).items()):
        for filename in pins.get("files", []):
            if f"wheels/{filename}" not in files:
                problems.append(f"{VAR}: wheels/{filename} (venv {venv}) is not in the bundle's manifest")
    for filename in serves.get("debs", {}).get("files", []):
        if f"debs/{filename}" not in files:
            problems.append(f"{VAR}: debs/{filename} is not in the bundle's manifest")
    return problems


def integrity(bundle_dir: str, manifest: dict, hash_files: bool = True) -> list[str]:
    """Every file the manifest lists: present, its size, and (hash_files) its sha256."""
    problems = []
    for rel, entry in sorted(manifest.get("files", {}).items()):
        path = os.path.join(bundle_dir, rel)
        if not os.path.isfile(path):
            problems.append(f"{VAR}: {rel} is missing from the bundle (the manifest lists it)")
        elif os.path.getsize(path) != entry["size"]:
            problems.append(f"{VAR}: {rel} is corrupt: {os.path.getsize(path)} bytes, "
                            f"the manifest says {entry['size']}")
        elif hash_files and layout.sha256_file(path) != entry["sha256"]:
            problems.append(f"{VAR}: {rel} is corrupt: its sha256 is not the manifest's {entry['sha256'][:16]}...")
    return problems


def check(bundle_dir: str, needs: dict, hash_files: bool = True) -> list[str]:
    manifest = layout.read_manifest(bundle_dir)
    if manifest is None:
        return [f"{VAR}: {os.path.join(bundle_dir, layout.MANIFEST)} not found: build the bundle with "
                "playbooks/bundle.yml and carry the whole directory here"]
    if manifest.get("format") != layout.FORMAT:
        return [f"{VAR}: the bundle's manifest has format {manifest.get('format')!r}, "
                f"this toolkit reads {layout.FORMAT}"]
    return coverage(manifest, needs) + listed(manifest) + integrity(bundle_dir, manifest, hash_files)
