"""The base image recipe. Everything here goes into the recipe hash (and so into the image tag).

Keep the values (and the hashed structure in ``recipe_hash``) as they are unless the image really has
to change: the tag ``qwen3-deploy-testhost:<hash>`` is what lets existing images and hosts be reused.
"""

from __future__ import annotations

import hashlib
import json

from .common import IMAGE_REPO

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",  # ansible.builtin.apt needs it on the managed host
    "python3-venv",
    "openssh-server",
    "sudo",
    "ca-certificates",
    "curl",
    "iproute2",
    "procps",
)
# Files written into the root fs after debootstrap (path -> content).
ROOTFS_FILES = {
    "etc/apt/sources.list": (
        f"deb {MIRROR} {SUITE} main\ndeb {MIRROR} {SUITE}-updates main\ndeb {SECURITY_MIRROR} {SUITE}-security main\n"
    ),
    "etc/ssh/sshd_config.d/10-testhosts.conf": (
        "# qwen3-deploy test host: key-only root login; the key is bind-mounted by scripts/testhosts\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UseDNS no\n"
        "AuthorizedKeysFile .ssh/authorized_keys /etc/ssh/testhosts_authorized_keys\n"
    ),
    # Host keys are made at first boot, so no two hosts share them.
    "etc/systemd/system/testhosts-ssh-keygen.service": (
        "[Unit]\n"
        "Description=Generate SSH host keys (qwen3-deploy test host)\n"
        "Before=ssh.service\n"
        "ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=/usr/bin/ssh-keygen -A\n"
        "\n"
        "[Install]\n"
        "WantedBy=ssh.service\n"
    ),
    "etc/systemd/system/ssh.service.wants/testhosts-ssh-keygen.service": (
        "@symlink /etc/systemd/system/testhosts-ssh-keygen.service"
    ),
}
# Paths removed from the root fs (globs relative to the root).
ROOTFS_REMOVE = (
    "etc/ssh/ssh_host_*",
    "etc/machine-id",
    "var/lib/dbus/machine-id",
    "etc/hostname",
    "var/cache/apt/archives/*.deb",
)
# Units that cannot work in a container.
ROOTFS_MASK = (
    "systemd-firstboot.service",
    "getty@tty1.service",
)
# Dockerfile instructions applied by the import (``docker import --change``).
IMPORT_CHANGES = (
    'CMD ["/lib/systemd/systemd"]',
    "ENV container=docker",
)


def recipe_hash() -> str:
    """Short sha256 over everything that shapes the base image."""
    recipe = {
        "suite": SUITE,
        "mirror": MIRROR,
        "packages": PACKAGES,
        "files": ROOTFS_FILES,
        "remove": ROOTFS_REMOVE,
        "mask": ROOTFS_MASK,
        "changes": IMPORT_CHANGES,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def image_ref() -> str:
    return f"{IMAGE_REPO}:{recipe_hash()}"
