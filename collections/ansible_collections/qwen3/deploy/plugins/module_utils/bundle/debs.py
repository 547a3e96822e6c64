"""Debian packages of a bundle: the dependency closure ``apt-cache depends --recurse`` prints, and the file name
``apt-get download`` gives each package (no Ansible here)."""

from __future__ import annotations

# Hard dependencies only: recommends and suggests are not installed by our roles (install_recommends: false where
# it matters), conflicts/breaks/replaces/enhances name packages that must NOT be installed.
DEPENDS_ARGS = ["--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                "--no-enhances"]


def closure_names(depends_output: str) -> list[str]:
    """Real package names of a recursive ``apt-cache depends`` listing (virtual ones print as ``<name>``)."""
    names = set()
    for line in depends_output.splitlines():
        if line and not line[0].isspace() and not line.startswith("<"):
            names.add(line.strip())
    return sorted(names)


def candidates(show_output: str) -> dict[str, str]:
    """``{package: file name apt-get download writes}`` from ``apt-cache show --no-all-versions`` stanzas."""
    found = {}
    for stanza in show_output.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line[:1].isspace() or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        if {"Package", "Version", "Architecture"} <= fields.keys():
            version = fields["Version"].replace(":", "%3a")
            found[fields["Package"]] = f"{fields['Package']}_{version}_{fields['Architecture']}.deb"
    return found
