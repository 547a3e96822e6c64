#!/usr/bin/env python3
"""Build ``qwen3-hosttools.pyz``: the host tools package as one reproducible zipapp.

    python3 hosttools/build.py OUT.pyz      # prints the sha256 of what it wrote

Reproducible: entries sorted, fixed timestamps and permissions, no bytecode, so the same sources give the
same bytes on every controller and the role's copy of it is idempotent. Standard library only.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "qwen3_hosttools"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
LAUNCHER = (
    "# qwen3-hosttools zipapp launcher (written by hosttools/build.py)\n"
    "import sys\n\n"
    "from qwen3_hosttools.__main__ import main\n\n"
    "sys.exit(main())\n"
)


def sources(package: Path = PACKAGE) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)


def build(package: Path = PACKAGE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [("__main__.py", LAUNCHER.encode())]
        entries += [(path.relative_to(package.parent).as_posix(), path.read_bytes()) for path in sources(package)]
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return b"#!/usr/bin/env python3\n" + buffer.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: build.py OUT.pyz", file=sys.stderr)
        return 2
    data = build()
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_bytes() != data:
        out.write_bytes(data)
    print(hashlib.sha256(data).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
