#!/usr/bin/env python3
"""Write each role README's variable table from its meta/argument_specs.yml (the one source), like dev-sec's aar-doc.

    scripts/dev/role-docs.py            # rewrite the tables between the markers
    scripts/dev/role-docs.py --check    # exit 1 when a README's table differs from its spec (tests run this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BEGIN = "<!-- BEGIN VARIABLES: generated from meta/argument_specs.yml by scripts/dev/role-docs.py -->"
END = "<!-- END VARIABLES -->"


def _default(option: dict) -> str:
    if "default" not in option:
        return "(required)" if option.get("required") else ""
    value = option["default"]
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{text}`" if text != "" else '`""`'


def _description(option: dict) -> str:
    text = option.get("description", "")
    text = " ".join(text) if isinstance(text, list) else str(text)
    extra = []
    if option.get("choices"):
        extra.append("one of " + ", ".join(f"`{c}`" for c in option["choices"]))
    if option.get("no_log"):
        extra.append("secret: vault it, never logged")
    return " ".join(text.split()).replace("|", "\\|") + (f" ({'; '.join(extra)})" if extra else "")


def table(spec: dict) -> str:
    rows = ["| variable | type | default | meaning |", "| --- | --- | --- | --- |"]
    seen = set()
    for entry_point, entry in spec["argument_specs"].items():
        for name, option in (entry.get("options") or {}).items():
            if name in seen:
                continue
            seen.add(name)
            kind = option.get("type", "str") + (f" of {option['elements']}" if option.get("elements") else "")
            where = "" if entry_point == "main" else f" (entry point `{entry_point}`)"
            rows.append(f"| `{name}` | {kind} | {_default(option)} | {_description(option)}{where} |")
    return "\n".join(rows)


def render(readme: str, spec: dict) -> str:
    block = f"{BEGIN}\n{table(spec)}\n{END}"
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return readme.rstrip("\n") + "\n\n## Variables\n\n" + block + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for spec_file in sorted(REPO.glob("roles/*/meta/argument_specs.yml")):
        role = spec_file.parent.parent
        readme_file = role / "README.md"
        readme = readme_file.read_text() if readme_file.exists() else f"# {role.name}\n"
        new = render(readme, yaml.safe_load(spec_file.read_text()))
        if new != readme:
            stale.append(str(readme_file.relative_to(REPO)))
            if not check:
                readme_file.write_text(new)
    if stale:
        print(("out of date: " if check else "rewrote: ") + ", ".join(stale))
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
