"""The base image: debootstrap minbase from a plain-HTTP Debian mirror, the recipe's files, import.

No registry is reachable here, so the image is built locally; its tag carries the recipe hash
(``recipe.py``), so an image with the current recipe is reused and a changed recipe builds a new one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import recipe
from .common import BUILD_CACHE, LABEL_RECIPE, TesthostError, file_lock
from .dockerapi import Docker

TAR_CHUNK = 1 << 20


def _unmount_below(root: Path) -> None:
    """Unmount anything a failed debootstrap left mounted inside the build dir (deepest first)."""
    root_str = str(root.resolve())
    with open("/proc/self/mounts") as handle:
        points = [line.split()[1].replace("\\040", " ") for line in handle]
    for point in sorted((p for p in points if p == root_str or p.startswith(root_str + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def _write_rootfs(rootfs: Path) -> None:
    for pattern in recipe.ROOTFS_REMOVE:
        for path in rootfs.glob(pattern):
            path.unlink()
    for rel, content in recipe.ROOTFS_FILES.items():
        path = rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content.startswith("@symlink "):
            path.unlink(missing_ok=True)
            path.symlink_to(content.split(" ", 1)[1])
        else:
            path.write_text(content)
    for unit in recipe.ROOTFS_MASK:
        link = rootfs / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")


def import_changes() -> list[str]:
    """The ``--change`` instructions of the import: the recipe's, plus the recipe label."""
    return [*recipe.IMPORT_CHANGES, f"LABEL {LABEL_RECIPE}={recipe.recipe_hash()}"]


def import_rootfs(docker: Docker, rootfs: Path, ref: str) -> None:
    """``tar --numeric-owner -C ROOTFS -c . | docker import --change ... - REF``, streamed through the SDK."""
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)

    def chunks():
        while block := tar.stdout.read(TAR_CHUNK):
            yield block
        if tar.wait() != 0:  # fail the upload, so no half root fs is tagged
            raise TesthostError(f"tar of {rootfs} failed (rc {tar.returncode})")

    try:
        docker.import_image(chunks(), ref, import_changes())
    finally:
        tar.stdout.close()
        if tar.poll() is None:
            tar.kill()
        tar.wait()
    if tar.returncode != 0:
        raise TesthostError(f"tar of {rootfs} failed (rc {tar.returncode})")


def build_image(docker: Docker, force: bool = False, log=print) -> str:
    """Build the base image unless an image with the current recipe hash exists. Returns its ref."""
    ref = recipe.image_ref()
    docker.require()
    with file_lock("image"):
        if not force and docker.image_exists(ref):
            log(f"image {ref} is up to date")
            return ref
        if shutil.which("debootstrap") is None:
            raise TesthostError("debootstrap not found: run scripts/bootstrap")
        started = time.monotonic()
        cache = BUILD_CACHE / "debootstrap"
        cache.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix="qwen3-testhost-", dir="/var/tmp"))
        rootfs = build / "rootfs"
        try:
            log(f"building image {ref} (debootstrap {recipe.SUITE} from {recipe.MIRROR}) ...")
            proc = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(recipe.PACKAGES)}",
                    f"--cache-dir={cache}",
                    recipe.SUITE,
                    str(rootfs),
                    recipe.MIRROR,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise TesthostError(f"debootstrap failed (rc {proc.returncode}):\n{tail}")
            _unmount_below(rootfs)
            _write_rootfs(rootfs)
            import_rootfs(docker, rootfs, ref)
        finally:
            _unmount_below(build)
            subprocess.run(["rm", "-rf", "--one-file-system", str(build)], check=False)
        log(f"built image {ref} in {time.monotonic() - started:.0f} s")
        return ref


def ensure_image(docker: Docker, log=print) -> str:
    ref = recipe.image_ref()
    if docker.image_exists(ref):
        return ref
    return build_image(docker, log=log)
