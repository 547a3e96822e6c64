#!/usr/bin/env python3
"""Build the Ollama STAND-IN archive (a test double, NOT the real Ollama) in the official layout.

    tests/ollama_standin/build.py OUT_DIR [--version 0.34.4] [--arch amd64]

writes OUT_DIR/ollama-linux-<arch>.tar.zst (needs the zstd CLI) and OUT_DIR/ollama-linux-<arch>.tgz, each with
    bin/ollama                          the stand-in script (#!/usr/bin/env python3)
    lib/ollama/README-STANDIN           says what this is
    lib/ollama/standin/*.py             the stand-in's package (ports of upstream Ollama's rules), VERSION set
and prints one line per archive: "<sha256>  <path>". The archives are reproducible (fixed mtimes, owners, order),
so the same inputs give the same checksum.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MTIME = 1_700_000_000
README = """STAND-IN FOR OLLAMA -- NOT THE REAL OLLAMA

This archive was built by qwen3-deploy's tests/ollama_standin/build.py. It has the layout of the official
ollama-linux-<arch> archive (bin/ollama, lib/ollama/) so the ollama_service role can install it, but bin/ollama
is a small Python script that fakes Ollama's CLI and HTTP API for tests. It runs no model and needs no GPU.
Never deploy it to serve users.
"""


def members(version: str) -> list[tuple[str, bytes, int]]:
    out = [
        ("bin/ollama", (HERE / "ollama").read_bytes(), 0o755),
        ("lib/ollama/README-STANDIN", README.encode(), 0o644),
    ]
    for path in sorted((HERE / "standin").glob("*.py")):
        text = path.read_text()
        if path.name == "__init__.py":
            text, count = re.subn(r'^VERSION = "[^"]*"', f'VERSION = "{version}"', text, count=1, flags=re.M)
            if count != 1:
                raise SystemExit("build.py: VERSION line not found in standin/__init__.py")
        out.append((f"lib/ollama/standin/{path.name}", text.encode(), 0o644))
    return out


def tar_bytes(version: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in ("bin", "lib", "lib/ollama", "lib/ollama/standin"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        for name, data, mode in members(version):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, MTIME
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(out: Path, version: str, arch: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    raw = tar_bytes(version)
    zst = out / f"ollama-linux-{arch}.tar.zst"
    proc = subprocess.run(["zstd", "-q", "-19", "-c"], input=raw, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"build.py: zstd failed: {proc.stderr.decode().strip()}")
    zst.write_bytes(proc.stdout)
    tgz = out / f"ollama-linux-{arch}.tgz"
    with open(tgz, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=MTIME, filename="") as gz:
        gz.write(raw)
    return [zst, tgz]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--version", default="0.34.4", help="version the stand-in reports (default 0.34.4)")
    ap.add_argument("--arch", default="amd64", choices=("amd64", "arm64"))
    args = ap.parse_args(argv)
    for path in build(args.out, args.version, args.arch):
        print(f"{sha256(path)}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
