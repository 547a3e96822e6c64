"""``qwen3-hosttools latency measure``: stream requests to the endpoints and write the JSON results.

Secrets never travel on the command line or in the environment: the engine's API key and the Open WebUI
account are read from files (0600, root) whose paths are given, so ``ps`` on the host shows only paths.
Thresholds are not judged here: the controller compares the results (role verify).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests

from qwen3_hosttools.latency.kinds import DEFAULT_PROMPT, KINDS, WEBUI_KINDS
from qwen3_hosttools.latency.runner import run
from qwen3_hosttools.latency.transport import Target, webui_signin

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE = 0, 2, 3


def read_secret(path: Path, name: str | None = None) -> str:
    """The secret in ``path``: the value of a ``NAME=value`` line (an EnvironmentFile), else the whole file."""
    text = path.read_text(encoding="utf-8")
    assignments = {}
    for raw in text.splitlines():
        line = raw.strip()
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assignments[key.strip()] = value.strip().strip("'\"")
    if name and name in assignments:
        return assignments[name]
    if len(assignments) == 1 and not name:
        return next(iter(assignments.values()))
    return text.strip()


def webui_credentials(path: Path) -> tuple[str, str]:
    """``{"email": ..., "password": ...}`` from the file the open_webui role writes (0600)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return str(data["email"]), str(data["password"])


def parse_target(text: str) -> tuple[str, str]:
    kind, sep, url = text.partition("=")
    if not sep or kind not in KINDS or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"--target wants KIND=URL with KIND one of {', '.join(KINDS)}, got {text!r}")
    return kind, url


def build_targets(args: argparse.Namespace) -> list[Target]:
    targets: list[Target] = []
    api_key = read_secret(args.api_key_file, args.api_key_name) if args.api_key_file else None
    token, problem = None, None
    pairs = list(args.target)
    if any(kind in WEBUI_KINDS for kind, _ in pairs):
        webui_url = next(url for kind, url in pairs if kind in WEBUI_KINDS)
        if not args.webui_credentials_file:
            problem = "no Open WebUI credentials: give --webui-credentials-file"
        else:
            email, password = webui_credentials(args.webui_credentials_file)
            try:
                with requests.Session() as session:
                    token = webui_signin(session, webui_url, email, password)
            except requests.exceptions.ConnectionError as exc:
                problem = f"Open WebUI not reachable at {webui_url} ({type(exc).__name__})"
            except Exception as exc:
                problem = f"Open WebUI sign-in as {email} failed: {str(exc)[:200]}"
    for kind, url in pairs:
        if kind in WEBUI_KINDS:
            targets.append(Target(kind, url, args.webui_model or args.model, token, problem=problem,
                                  params=json.loads(args.webui_params)))
        elif kind == "ollama":
            targets.append(Target(kind, url, args.model))
        else:
            targets.append(Target(kind, url, args.model, api_key))
    return targets


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qwen3-hosttools latency", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="stream requests and write the JSON results")
    m.add_argument("--target", action="append", type=parse_target, default=[], metavar="KIND=URL",
                   help=f"an endpoint to measure, in order (KIND: {', '.join(KINDS)}); repeatable")
    m.add_argument("--model", required=True, help="model name as the engine serves it")
    m.add_argument("--webui-model", help="model id in Open WebUI (default: --model)")
    m.add_argument("--webui-params", default="{}", help="JSON chat params for Open WebUI requests")
    m.add_argument("--api-key-file", type=Path, help="file holding the engine's API key (raw, or NAME=value)")
    m.add_argument("--api-key-name", default="VLLM_API_KEY", help="variable name in --api-key-file")
    m.add_argument("--webui-credentials-file", type=Path, help='JSON {"email": ..., "password": ...}')
    m.add_argument("-n", "--requests", type=int, default=20, help="measured requests per target")
    m.add_argument("-w", "--warmup", type=int, default=2, help="warm-up requests per target (excluded)")
    m.add_argument("--max-tokens", type=int, default=64)
    m.add_argument("--prompt", default=DEFAULT_PROMPT)
    m.add_argument("--timeout", type=float, default=60.0, help="per-request limit, seconds")
    m.add_argument("--time-limit", type=float, default=600.0, help="whole-run limit, seconds")
    m.add_argument("--record", type=Path, help="write the raw timed stream of every request to this JSON file")
    m.add_argument("-o", "--output", default="-", help="results JSON file (default stdout)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.time_limit <= 0 or args.timeout <= 0:
        ap.error("need --requests >= 1, --warmup >= 0, --timeout > 0, --time-limit > 0")
    if not args.target:
        ap.error("give at least one --target KIND=URL")
    try:
        targets = build_targets(args)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: cannot read a secret file: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    record: dict | None = {} if args.record else None
    doc = run(targets, n=args.requests, warmup=args.warmup, prompt=args.prompt, max_tokens=args.max_tokens,
              timeout_s=args.timeout, time_limit_s=args.time_limit, record=record)
    text = json.dumps(doc, indent=1)
    if args.output == "-":
        print(text)
    else:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    if record is not None:
        args.record.write_text(json.dumps(record), encoding="utf-8")
    unreachable = [t["unreachable"] for t in doc["summary"]["targets"].values() if t["unreachable"]]
    for line in unreachable:
        print(f"ERROR: {line}", file=sys.stderr)
    return EXIT_UNREACHABLE if unreachable else EXIT_OK
