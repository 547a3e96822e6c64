#!/usr/bin/env python3
"""Build the local NVIDIA-shaped apt repositories for tests (STAND-INS; see UPSTREAM.md and packages.py).

    PYTHONPATH=tests python3 -m nvidia_repo.build [--out DIR] [--kernel KERNEL] [--headers-meta NAME]

Writes, under DIR (default ``.cache/nvidia-repo/<hash of these sources and the kernel>``):

    cuda/repos/debian12/x86_64/         flat repo like NVIDIA's CUDA repository: suite "/", Release with
                                        Origin NVIDIA / Label NVIDIA CUDA, InRelease + Release.gpg signed with a
                                        throwaway test key that the stand-in cuda-keyring_1.1-1_all.deb delivers
    libnvidia-container/stable/deb/amd64/   flat repo like NVIDIA's container toolkit repository, signed with a
    libnvidia-container/gpgkey              second throwaway key published as an armored key like NVIDIA's gpgkey
    kernel/                             NOT NVIDIA: headers for this machine's own kernel (no Debian package
                                        exists for it), unsigned; tests add it as [trusted=yes]
    BUILD.json                          what was built (branches, kernel, key fingerprints)

Serve DIR over HTTP and point gpu_host_cuda_repo_base_url at ``http://HOST:PORT/cuda/repos`` and
gpu_host_container_toolkit_repo_base_url at ``http://HOST:PORT/libnvidia-container/stable``: the same variables
point at NVIDIA's https URLs in production. Needs dpkg-deb, dpkg-scanpackages (dpkg-dev) and gpg (gnupg).
Building is cached: an existing DIR with BUILD.json is reused.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

from nvidia_repo import packages

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
NVIDIA_CUDA_URL = "https://developer.download.nvidia.com/compute/cuda/repos"
DISTRO, REPO_ARCH, DEB_ARCH = "debian12", "x86_64", "amd64"
HEADERS_META = "standin-linux-headers-meta"
FIELD_ORDER = (
    "Package",
    "Version",
    "Architecture",
    "Section",
    "Priority",
    "Maintainer",
    "Installed-Size",
    "Provides",
    "Depends",
    "Conflicts",
    "Breaks",
    "Replaces",
    "Description",
)


def source_hash(kernel: str, meta: str) -> str:
    digest = hashlib.sha256(f"{kernel}\n{meta}\n".encode())
    for path in sorted([*HERE.glob("*.py"), *(HERE / "files").iterdir()]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def make_key(gnupg: Path, uid: str) -> str:
    """A throwaway signing key (no passphrase) in its own GNUPGHOME; returns the fingerprint."""
    gnupg.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    _run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"], env=env)
    out = _run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def export_key(gnupg: Path, armor: bool) -> bytes:
    argv = ["gpg", "--batch", "--export"] + (["--armor"] if armor else [])
    return subprocess.run(argv, check=True, capture_output=True, env={**os.environ, "GNUPGHOME": str(gnupg)}).stdout


def build_deb(pkg: dict, dest: Path, keyring: bytes) -> Path:
    """One stand-in .deb from a packages.py entry."""
    arch = pkg.get("arch", DEB_ARCH)
    with tempfile.TemporaryDirectory(prefix="standin-deb-") as tmp:
        root = Path(tmp) / "root"
        (root / "DEBIAN").mkdir(parents=True)
        doc = root / "usr/share/doc" / pkg["name"]
        doc.mkdir(parents=True)
        note = (
            f"STAND-IN package built by qwen3-deploy tests/nvidia_repo/build.py; NOT NVIDIA's package.\n"
            f"Mirrors upstream metadata: {pkg['mirrors']} (tests/nvidia_repo/UPSTREAM.md).\n"
        )
        (doc / "STAND-IN").write_text(note)
        conffiles = []
        for rel, content in pkg.get("files", {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(keyring if content == "@KEYRING@" else content.encode())
            if rel.startswith("etc/"):
                conffiles.append("/" + rel)
        for rel, source in pkg.get("scripts", {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            text = (HERE / "files" / source).read_text()
            branch = pkg["version"].split(".")[0]
            text = text.replace("@DRIVER_VERSION@", pkg["version"].rsplit("-", 1)[0])
            text = text.replace("@CUDA_VERSION@", packages.CUDA_OF_BRANCH.get(branch, "unknown"))
            path.write_text(text)
            path.chmod(0o755)
        for rel, target in pkg.get("links", {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)
        for script in ("postinst", "prerm"):
            if script in pkg:
                (root / "DEBIAN" / script).write_text(pkg[script])
                (root / "DEBIAN" / script).chmod(0o755)
        if conffiles:
            (root / "DEBIAN/conffiles").write_text("".join(f"{c}\n" for c in conffiles))
        fields = {
            "Package": pkg["name"],
            "Version": pkg["version"],
            "Architecture": arch,
            "Section": pkg.get("section", "NVIDIA"),
            "Priority": "optional",
            "Maintainer": "qwen3-deploy tests <stand-in@invalid> (STAND-IN, not NVIDIA)",
            "Provides": pkg.get("provides"),
            "Depends": pkg.get("depends"),
            "Conflicts": pkg.get("conflicts"),
            "Breaks": pkg.get("breaks"),
            "Replaces": pkg.get("replaces"),
            "Description": f"{pkg['summary']} [STAND-IN]\n STAND-IN for tests, not NVIDIA's package. Mirrors: "
            f"{pkg['mirrors']}.",
        }
        control = "".join(f"{key}: {fields[key]}\n" for key in FIELD_ORDER if fields.get(key))
        (root / "DEBIAN/control").write_text(control)
        out = dest / f"{pkg['name']}_{pkg['version']}_{arch}.deb"
        _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)])
        return out


def write_index(repo: Path, release_fields: dict, gnupg: Path | None) -> None:
    """Packages(.gz) by dpkg-scanpackages (Filename: ./name_version_arch.deb, flat) and a Release, signed."""
    packages_text = _run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=repo).stdout
    (repo / "Packages").write_text(packages_text)
    (repo / "Packages.gz").write_bytes(gzip.compress(packages_text.encode(), mtime=0))
    lines = [f"{k}: {v}" for k, v in release_fields.items()]
    lines.append(f"Date: {formatdate(time.time(), usegmt=True)}")
    for field, algo in (("MD5Sum", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"), ("SHA512", "sha512")):
        lines.append(f"{field}:")
        for name in ("Packages", "Packages.gz"):
            data = (repo / name).read_bytes()
            lines.append(f" {hashlib.new(algo, data).hexdigest()} {len(data):>16} {name}")
    (repo / "Release").write_text("\n".join(lines) + "\n")
    if gnupg is None:
        return
    env = {**os.environ, "GNUPGHOME": str(gnupg)}
    _run(
        ["gpg", "--batch", "--yes", "--armor", "--detach-sign", "-o", str(repo / "Release.gpg"), str(repo / "Release")],
        env=env,
    )
    _run(["gpg", "--batch", "--yes", "--clearsign", "-o", str(repo / "InRelease"), str(repo / "Release")], env=env)


def build(out: Path, kernel: str, meta: str) -> dict:
    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        cuda_key = make_key(work / "gnupg-cuda", "cudatools STAND-IN TEST KEY (not NVIDIA's) <cudatools@invalid>")
        ctk_key = make_key(work / "gnupg-ctk", "NVIDIA CONTAINER TOOLKIT STAND-IN TEST KEY (not NVIDIA's) <x@invalid>")
        keyring = export_key(work / "gnupg-cuda", armor=False)

        cuda = work / "cuda/repos" / DISTRO / REPO_ARCH
        cuda.mkdir(parents=True)
        pkgs = packages.cuda_packages(NVIDIA_CUDA_URL, DISTRO, REPO_ARCH)
        for branch in packages.BRANCHES:
            pkgs += packages.driver_packages(branch)
        for pkg in pkgs:
            build_deb(pkg, cuda, keyring)
        release = {"Origin": "NVIDIA", "Label": "NVIDIA CUDA", "Architecture": REPO_ARCH, "Acquire-By-Hash": "no"}
        write_index(cuda, release, work / "gnupg-cuda")

        ctk = work / "libnvidia-container/stable/deb" / DEB_ARCH
        ctk.mkdir(parents=True)
        for pkg in packages.container_toolkit_packages():
            build_deb(pkg, ctk, b"")
        write_index(ctk, {"Origin": "NVIDIA (STAND-IN)", "Label": "libnvidia-container (STAND-IN)"}, work / "gnupg-ctk")
        (work / "libnvidia-container/gpgkey").write_bytes(export_key(work / "gnupg-ctk", armor=True))

        kernel_repo = work / "kernel"
        kernel_repo.mkdir()
        for pkg in packages.kernel_packages(kernel, meta):
            build_deb(pkg, kernel_repo, b"")
        write_index(kernel_repo, {"Origin": "qwen3-deploy tests", "Label": "kernel headers STAND-IN"}, None)

        for home in ("gnupg-cuda", "gnupg-ctk"):
            shutil.rmtree(work / home)
        info = {
            "branches": packages.BRANCHES,
            "toolkit": packages.TOOLKIT,
            "container_toolkit": packages.CONTAINER_TOOLKIT_VERSION,
            "kernel": kernel,
            "headers_meta": meta,
            "cuda_key": cuda_key,
            "container_toolkit_key": ctk_key,
            "cuda_repo": f"cuda/repos/{DISTRO}/{REPO_ARCH}",
        }
        (work / "BUILD.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        work.rename(out)
        return info
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure(kernel: str | None = None, meta: str = HEADERS_META, out: Path | None = None) -> tuple[Path, dict]:
    """The built repository directory (cached under .cache/nvidia-repo/) and its BUILD.json."""
    kernel = kernel or platform.release()
    out = out or REPO_ROOT / ".cache" / "nvidia-repo" / source_hash(kernel, meta)
    if not (out / "BUILD.json").is_file():
        build(out, kernel, meta)
    return out, json.loads((out / "BUILD.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--kernel", default=platform.release(), help="kernel release of the test hosts (uname -r)")
    parser.add_argument("--headers-meta", default=HEADERS_META)
    args = parser.parse_args(argv)
    started = time.monotonic()
    out, info = ensure(args.kernel, args.headers_meta, args.out)
    print(f"{out} ({time.monotonic() - started:.1f} s): {json.dumps(info)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
