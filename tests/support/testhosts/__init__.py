"""Booted systemd test hosts in docker containers (the engine behind ``scripts/testhosts``).

A test host is a docker container started with ``/lib/systemd/systemd`` as PID 1 using the flags that
work on these cgroup v1 machines (docs: /work/shared/FACTS.md section 1; ``--privileged`` fails here):

    docker run -d --cap-add SYS_ADMIN --security-opt seccomp=unconfined \\
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock IMAGE /lib/systemd/systemd

(``hosts.SYSTEMD_RUN_FLAGS``, plus ``--shm-size 1g`` and ``--stop-signal SIGRTMIN+3``). Each host has its
own hostname and network namespace (default docker bridge), runs sshd with the project key pair from
``.testhosts/ssh/`` and publishes SSH on ``127.0.0.1:<port>``. The port and the image are recorded in
container labels, so ``inventory`` and ``list`` need no state file.

The base image is built locally (no registry is reachable): debootstrap minbase bookworm from a
plain-HTTP Debian mirror, a few files written into the root fs, an import of the root fs tar. Its tag
carries a hash of the recipe (``recipe.py``), so changing the recipe builds a new image.

dockerd is driven through the pinned ``docker`` Python SDK (``dockerapi.Docker``), not the docker CLI,
so the entry point needs the project venv (``scripts/dev/python`` uses ``.venv`` when present).

Modules: ``common`` (paths, labels, errors, validation, locks, SSH key), ``recipe`` (image recipe and
its hash), ``dockerapi`` (the SDK wrapper), ``image`` (build), ``hosts`` (create/select/destroy),
``access`` (boot state, SSH, wait, inventory), ``playbook`` (ansible-playbook runner), ``cli``.
Tests that monkeypatch a setting patch it in the module that owns it (e.g. ``common.STATE_DIR``).
"""

from .access import host_state, render_inventory, ssh_answers, ssh_argv, wait_hosts
from .cli import build_parser, main, parse_args
from .common import (
    BUILD_CACHE,
    IMAGE_REPO,
    LABEL,
    LABEL_IMAGE,
    LABEL_RECIPE,
    LABEL_SSH_PORT,
    MAX_COUNT,
    NAME_RE,
    PIP_CACHE,
    PREFIX_RE,
    REPO_ROOT,
    SSH_KEY,
    STATE_DIR,
    WHEELHOUSE,
    TesthostError,
    UsageError,
    ensure_ssh_key,
    file_lock,
    matches_prefix,
    natural_key,
    prefix_names,
    validate_count,
    validate_name,
    validate_port,
    validate_prefix,
)
from .dockerapi import Container, Docker, run_flags_to_kwargs
from .hosts import (
    COMMAND,
    STOP_SIGNAL,
    SYSTEMD_RUN_FLAGS,
    create,
    destroy,
    host_run_kwargs,
    plan_create,
    select,
)
from .image import build_image, ensure_image, import_changes, import_rootfs
from .playbook import PlaybookResult, parse_play_recap, run_playbook
from .recipe import (
    IMPORT_CHANGES,
    MIRROR,
    PACKAGES,
    ROOTFS_FILES,
    ROOTFS_MASK,
    ROOTFS_REMOVE,
    SECURITY_MIRROR,
    SUITE,
    image_ref,
    recipe_hash,
)

__all__ = [
    "BUILD_CACHE",
    "COMMAND",
    "IMAGE_REPO",
    "IMPORT_CHANGES",
    "LABEL",
    "LABEL_IMAGE",
    "LABEL_RECIPE",
    "LABEL_SSH_PORT",
    "MAX_COUNT",
    "MIRROR",
    "NAME_RE",
    "PACKAGES",
    "PIP_CACHE",
    "PREFIX_RE",
    "REPO_ROOT",
    "ROOTFS_FILES",
    "ROOTFS_MASK",
    "ROOTFS_REMOVE",
    "SECURITY_MIRROR",
    "SSH_KEY",
    "STATE_DIR",
    "STOP_SIGNAL",
    "SUITE",
    "SYSTEMD_RUN_FLAGS",
    "WHEELHOUSE",
    "Container",
    "Docker",
    "PlaybookResult",
    "TesthostError",
    "UsageError",
    "build_image",
    "build_parser",
    "create",
    "destroy",
    "ensure_image",
    "ensure_ssh_key",
    "file_lock",
    "host_run_kwargs",
    "host_state",
    "image_ref",
    "import_changes",
    "import_rootfs",
    "main",
    "matches_prefix",
    "natural_key",
    "parse_args",
    "parse_play_recap",
    "plan_create",
    "prefix_names",
    "recipe_hash",
    "render_inventory",
    "run_flags_to_kwargs",
    "run_playbook",
    "select",
    "ssh_answers",
    "ssh_argv",
    "validate_count",
    "validate_name",
    "validate_port",
    "validate_prefix",
    "wait_hosts",
]
