"""The command line of ``scripts/testhosts`` (argument parsing, validation, dispatch)."""

from __future__ import annotations

import argparse
import re
import sys

from .access import render_inventory, wait_hosts
from .common import MAX_COUNT, TesthostError, UsageError, prefix_names, validate_name, validate_port, validate_prefix
from .dockerapi import Docker
from .hosts import create, destroy, select
from .image import build_image


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 with usage; keep that, add a hint
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scripts/testhosts", description="Booted systemd test hosts (docker) for qwen3-deploy.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("image", help="build the base image (no-op when the current recipe is built)")
    p.add_argument("--force", action="store_true", help="rebuild even if the image exists")

    def selection(p, allow_all=True):
        p.add_argument("names", nargs="*", metavar="NAME")
        p.add_argument("--prefix", help="hosts named PREFIX-<n>")
        if allow_all:
            p.add_argument("--all", action="store_true", dest="all_hosts", help="every test host on this machine")

    p = sub.add_parser("create", help="create and boot hosts (idempotent)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--prefix", help="create PREFIX-1..PREFIX-N (with --count)")
    p.add_argument("--count", type=int, help=f"number of hosts with --prefix (1-{MAX_COUNT})")
    p.add_argument("--ssh-port", type=int, help="publish SSH on 127.0.0.1:PORT (one host only)")
    p.add_argument("--no-wait", action="store_true", help="do not wait for systemd and SSH")
    p.add_argument("--timeout", type=float, default=180, help="seconds to wait for boot (default 180)")

    p = sub.add_parser("destroy", help="remove hosts and everything they made")
    selection(p)

    p = sub.add_parser("list", help="list test hosts")
    selection(p, allow_all=False)

    p = sub.add_parser("inventory", help="print an Ansible YAML inventory")
    selection(p, allow_all=False)
    p.add_argument("--group", help="put the hosts in this inventory group")

    p = sub.add_parser("wait", help="wait until hosts are booted (systemd running) and SSH answers")
    selection(p, allow_all=False)
    p.add_argument("--timeout", type=float, default=180, help="seconds (default 180)")
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse and validate; raises UsageError (or SystemExit 2 from argparse) on bad input."""
    args = build_parser().parse_args(argv)
    if args.command == "create":
        if args.prefix is not None or args.count is not None:
            if args.names:
                raise UsageError("give either NAME... or --prefix with --count, not both")
            if args.prefix is None or args.count is None:
                raise UsageError("--prefix and --count go together")
            args.names = prefix_names(args.prefix, args.count)
        elif not args.names:
            raise UsageError("create needs NAME... or --prefix P --count N")
        for name in args.names:
            validate_name(name)
        if len(set(args.names)) != len(args.names):
            raise UsageError("a host name is given twice")
        if args.ssh_port is not None:
            validate_port(args.ssh_port)
            if len(args.names) != 1:
                raise UsageError("--ssh-port needs exactly one host name")
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
    elif args.command in ("destroy", "list", "inventory", "wait"):
        chosen = bool(args.names) + (args.prefix is not None) + bool(getattr(args, "all_hosts", False))
        if chosen > 1:
            raise UsageError("give only one of NAME..., --prefix or --all")
        if args.command in ("destroy", "inventory", "wait") and chosen == 0:
            options = "NAME..., --prefix P or --all" if args.command == "destroy" else "NAME... or --prefix P"
            raise UsageError(f"{args.command} needs {options}")
        for name in args.names:
            validate_name(name)
        if args.prefix is not None:
            validate_prefix(args.prefix)
        if (
            args.command == "inventory"
            and args.group is not None
            and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.group)
        ):
            raise UsageError(f"invalid --group {args.group!r}: letters, digits and '_' only")
        if args.command == "wait" and args.timeout <= 0:
            raise UsageError("--timeout must be positive")
    return args


def main(argv: list[str] | None = None, docker: Docker | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
        docker = docker or Docker()
        if args.command == "image":
            build_image(docker, force=args.force)
        elif args.command == "create":
            create(docker, args.names, ssh_port=args.ssh_port, wait=not args.no_wait, timeout=args.timeout)
        elif args.command == "destroy":
            docker.require()
            found, missing = select(docker, args.names, args.prefix, args.all_hosts)
            for name in missing:
                print(f"test host {name} does not exist")
            destroy(docker, found)
        elif args.command == "list":
            docker.require()
            found, _ = select(docker, args.names, args.prefix) if (args.names or args.prefix) else (docker.ours(), [])
            print(f"{'NAME':24} {'STATE':10} {'SSH':16} IMAGE")
            for c in found:
                print(f"{c.name:24} {c.status:10} {'127.0.0.1:' + str(c.ssh_port):16} {c.image}")
        elif args.command == "inventory":
            docker.require()
            found, missing = select(docker, args.names, args.prefix)
            if missing:
                raise TesthostError(f"no such test host: {', '.join(missing)}")
            if not found:
                raise TesthostError(f"no test hosts match --prefix {args.prefix}")
            sys.stdout.write(render_inventory(found, group=args.group))
        elif args.command == "wait":
            docker.require()
            found, missing = select(docker, args.names, args.prefix)
            if missing:
                raise TesthostError(f"no such test host: {', '.join(missing)}")
            if not found:
                raise TesthostError(f"no test hosts match --prefix {args.prefix}")
            wait_hosts(docker, [c.name for c in found], timeout=args.timeout)
    except TesthostError as exc:
        print(f"scripts/testhosts: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    return 0
