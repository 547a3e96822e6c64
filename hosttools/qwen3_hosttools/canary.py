"""``qwen3-hosttools canary``: one short streamed request per user path, the last run as Prometheus gauges.

Runs on the served host from a systemd timer (standard library, ``requests``; the browser path also
``python-socketio[client]``), through the latency probe's own code (``latency.runner``), so the canary and
verification measure the same way:

    qwen3-hosttools canary --out /var/lib/prometheus/node-exporter/qwen3_canary.prom \
        --target engine=http://127.0.0.1:8000 --target webui=http://127.0.0.1:8080 \
        --target webui-socket=http://127.0.0.1:8080 --model qwen3-demo \
        --api-key-file /etc/qwen3-deploy/vllm.env --api-key-name VLLM_API_KEY \
        --webui-credentials-file /etc/qwen3-deploy/canary-account.json --max-tokens 16 [--print]

Paths: ``engine`` (the engine directly; ``--engine-kind`` vllm, ollama or openai for a router), ``webui`` (Open
WebUI's ``/api/chat/completions`` over SSE) and ``webui-socket`` (the browser path: the page's steps, text over
Socket.IO). One request per path, in order, no warm-up. Every series is labelled ``path``. A path that cannot be
reached reports ``success 0``, ``error_ratio 1`` and no TTFT; the exit code stays 0 (only wrong arguments give 2),
so the timer keeps its rhythm and the alerts, not the unit's state, say what is wrong.

Secrets come from files only (the engine's key, the canary account's ``{"email", "password"}``), as the latency
probe reads them; argv holds their paths. The Open WebUI paths sign in as a dedicated canary account, and the
canary leaves no chat behind (Open WebUI 0.12.4):

* ``webui`` creates no chat: its body has neither ``chat_id`` nor ``parent_id``, which ``chat_completion``
  (open_webui/main.py, ``@app.post('/api/chat/completions')``) treats as "absent -> legacy caller, no chat
  management": ``metadata['chat_id']`` stays ``''`` and ``Chats.insert_new_chat`` runs only under
  ``if metadata.get('chat_id') and user``.
* ``webui-socket`` takes the page's steps, and the page's first message is a new chat (``parent_id: null``, no
  ``chat_id``): the server inserts a saved chat. The probe deletes it after measuring (latency/pagesteps.py), and
  the canary then sweeps the account's chat list for any chat whose user messages are all the canary's prompt (one
  the probe never learned the id of, or one left by a run that was killed) and deletes it with
  ``DELETE /api/v1/chats/{id}`` (open_webui/routers/chats.py ``delete_chat_by_id``: the owner's chat, its in-flight
  tasks stopped, its internal child chats with it). A chat with any other user message is never touched.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from qwen3_hosttools import textfile
from qwen3_hosttools.latency.cli import read_secret, webui_credentials
from qwen3_hosttools.latency.runner import run_target
from qwen3_hosttools.latency.stats import percentile, summarize_target
from qwen3_hosttools.latency.transport import Target, webui_signin

PATHS = ("engine", "webui", "webui-socket")
ENGINE_KINDS = ("vllm", "ollama", "openai")
DEFAULT_PROMPT = "Count from one to ten in English words, separated by spaces."
SWEEP_PAGES = 5  # Open WebUI lists 60 chats a page (routers/chats.py get_session_user_chat_list)

# key (as module_utils/monitoring/metric_names.py CANARY) -> (metric, HELP); every one a gauge labelled path.
METRICS = {
    "ttft": ("qwen3_canary_ttft_seconds",
             "Time to first token of the canary's last request on this path (first visible content; reasoning and "
             "<think> text excluded); absent when the request failed."),
    "itl": ("qwen3_canary_itl_seconds",
            "p95 of the gaps between content events of the canary's last request on this path; absent with fewer "
            "than 2 content events."),
    "decode": ("qwen3_canary_decode_tokens_per_second",
               "Decode rate of the canary's last request: (tokens-1)/(last content event - first); tokens from the "
               "server's usage, else one per content event."),
    "error_ratio": ("qwen3_canary_error_ratio",
                    "Failed requests / attempted requests in the canary's last run on this path (1 when the path "
                    "could not be reached)."),
    "success": ("qwen3_canary_success", "1 when every canary request of the last run on this path succeeded."),
    "thinking_leaks": ("qwen3_canary_thinking_leaks",
                       "Requests of the canary's last run whose stream carried reasoning or <think> text."),
    "last_run": ("qwen3_canary_last_run_timestamp_seconds",
                 "Unix time at which the canary's last run on this path ended, successful or not."),
}


# -- arguments ---------------------------------------------------------------------------------------------------
def parse_target(text: str) -> tuple[str, str]:
    path, sep, url = text.partition("=")
    if not sep or path not in PATHS or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"--target wants PATH=URL with PATH one of {', '.join(PATHS)}, got {text!r}")
    return path, url


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qwen3-hosttools canary", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="the .prom file node exporter's textfile collector reads")
    ap.add_argument("--print", action="store_true", help="write the metrics to stdout instead of --out")
    ap.add_argument("--target", action="append", type=parse_target, default=[], metavar="PATH=URL",
                    help=f"a path to probe, in order (PATH: {', '.join(PATHS)}); repeatable")
    ap.add_argument("--engine-kind", choices=ENGINE_KINDS, default="vllm",
                    help="what answers the engine path (openai: an OpenAI-compatible router)")
    ap.add_argument("--model", required=True, help="model name as the engine serves it")
    ap.add_argument("--webui-model", help="model id in Open WebUI (default: --model)")
    ap.add_argument("--api-key-file", type=Path, help="file holding the engine's API key (raw, or NAME=value)")
    ap.add_argument("--api-key-name", default="VLLM_API_KEY", help="variable name in --api-key-file")
    ap.add_argument("--webui-credentials-file", type=Path,
                    help='the canary account, JSON {"email": ..., "password": ...}')
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--prompt", default=DEFAULT_PROMPT, help="also how the chat sweep recognises the canary's chats")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-request limit, seconds")
    ap.add_argument("--time-limit", type=float, default=120.0, help="whole-run limit, seconds")
    return ap


def check_args(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    paths = [path for path, _ in args.target]
    if not paths:
        ap.error("give at least one --target PATH=URL")
    if len(set(paths)) != len(paths):
        ap.error(f"each path once: got {', '.join(paths)}")
    if args.max_tokens < 1 or args.timeout <= 0 or args.time_limit <= 0:
        ap.error("need --max-tokens >= 1, --timeout > 0, --time-limit > 0")
    if not args.print:
        if args.out is None or args.out.suffix != ".prom":
            ap.error("give --out FILE.prom (node exporter's textfile collector reads *.prom only) or --print")
        if not args.out.parent.is_dir():
            ap.error(f"--out: no directory {args.out.parent}")


# -- targets: secrets from files; a problem belongs to its path ---------------------------------------------------
def build_targets(args: argparse.Namespace) -> list[Target]:
    targets = []
    signins: dict[str, tuple[str | None, str | None]] = {}
    for path, url in args.target:
        if path == "engine":
            key, problem = None, None
            if args.api_key_file:
                try:
                    key = read_secret(args.api_key_file, args.api_key_name)
                except (OSError, ValueError) as exc:
                    problem = f"cannot read the engine's API key file {args.api_key_file}: {type(exc).__name__}"
            targets.append(Target(args.engine_kind, url, args.model, key, name=path, problem=problem))
            continue
        base = url.rstrip("/")
        if base not in signins:
            signins[base] = sign_in(base, args.webui_credentials_file)
        token, problem = signins[base]
        targets.append(Target(path, url, args.webui_model or args.model, token, name=path, problem=problem))
    return targets


def sign_in(base_url: str, credentials_file: Path | None) -> tuple[str | None, str | None]:
    """(JWT, None) for the canary account, else (None, why)."""
    if not credentials_file:
        return None, "no canary account: give --webui-credentials-file"
    try:
        email, password = webui_credentials(credentials_file)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"cannot read the canary account file {credentials_file}: {type(exc).__name__}"
    try:
        # A session of its own: Open WebUI's token cookie must not travel to the engine on the same address.
        with requests.Session() as session:
            return webui_signin(session, base_url, email, password), None
    except requests.exceptions.ConnectionError as exc:
        return None, f"Open WebUI not reachable at {base_url} ({type(exc).__name__})"
    except Exception as exc:
        return None, f"Open WebUI sign-in as {email} failed: {str(exc)[:200]}"


# -- the run -----------------------------------------------------------------------------------------------------
def measure(targets: list[Target], *, prompt: str, max_tokens: int, timeout_s: float, time_limit_s: float,
            clock: Callable[[], float] = time.perf_counter, wall: Callable[[], float] = time.time) -> list[dict]:
    """One request per target, in order. Rows: path, the latency summary of its run, the wall time it ended."""
    rows = []
    deadline = clock() + time_limit_s
    with requests.Session() as session:
        for target in targets:
            run = run_target(target, n=1, warmup=0, prompt=prompt, max_tokens=max_tokens, timeout_s=timeout_s,
                             deadline=deadline, session=session, clock=clock)
            if target.kind == "webui-socket" and target.token:
                for line in sweep_chats(target.base_url, target.token, prompt, timeout_s=min(timeout_s, 15.0)):
                    print(f"canary: {target.name}: {line}", file=sys.stderr)
            rows.append({"path": target.name, "run": run, "summary": summarize_target(run), "ended": wall()})
    return rows


def gauges(row: dict) -> dict[str, float]:
    """The metric keys (METRICS) of one path's run; a value that was not measured is left out."""
    summary, run = row["summary"], row["run"]
    attempted, ok = summary["attempted"], summary["ok"]
    out: dict[str, float] = {
        "error_ratio": (attempted - ok) / attempted if attempted else 1.0,  # not attempted: not proven
        "success": 1 if attempted and ok == attempted else 0,
        "thinking_leaks": summary["thinking_leaks"],
        "last_run": round(row["ended"], 3),
    }
    good = [r for r in run["results"] if r["ok"]]
    if good:
        r = good[-1]
        if r["ttft_ms"] is not None:
            out["ttft"] = r["ttft_ms"] / 1000.0
        itl = percentile(r["itl_ms"], 95)
        if itl is not None:
            out["itl"] = itl / 1000.0
        if r["decode_tokens_per_s"] is not None:
            out["decode"] = r["decode_tokens_per_s"]
    return out


def problems(row: dict) -> str | None:
    s = row["summary"]
    if s["unreachable"]:
        return s["unreachable"]
    if s["attempted"] == 0:
        return "not attempted: the run's time limit was spent on the paths before it"
    return s["first_error"]


def render(rows: list[dict]) -> str:
    """Prometheus text exposition (format 0.0.4): HELP and TYPE once per family, a family without samples left out."""
    values = [(row["path"], gauges(row)) for row in rows]
    lines = []
    for key, (name, help_text) in METRICS.items():
        samples = [(path, vals[key]) for path, vals in values if key in vals]
        if not samples:
            continue
        # Six decimals: microseconds are more than a single request's timing can tell.
        points = [textfile.sample(name, {"path": path}, round(float(value), 6)) for path, value in samples]
        lines += textfile.family(name, "gauge", help_text, points)
    return "\n".join(lines) + "\n"


# -- no chat left behind -----------------------------------------------------------------------------------------
def is_canary_chat(chat: Any, prompt: str) -> bool:
    """A chat (GET /api/v1/chats/{id}) whose user messages, at least one, are all exactly the canary's prompt."""
    body = chat.get("chat") if isinstance(chat, dict) else None
    if not isinstance(body, dict):
        return False
    history = body.get("history") if isinstance(body.get("history"), dict) else {}
    history_messages = history.get("messages") if isinstance(history.get("messages"), dict) else {}
    messages = list(history_messages.values()) + list(body.get("messages") or [])
    user = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return bool(user) and all(content == prompt for content in user)


def sweep_chats(base_url: str, token: str, prompt: str, *, timeout_s: float = 15.0, http: Any = None) -> list[str]:
    """Delete the canary account's chats the canary made; returns warnings (a failed sweep never fails the run).

    Upstream (Open WebUI 0.12.4, open_webui/routers/chats.py): ``GET /api/v1/chats/?page=N`` lists the caller's
    chats (60 a page, id and title), ``GET /api/v1/chats/{id}`` returns one with ``chat.history.messages`` and
    ``chat.messages``, ``@router.delete('/{id}')`` ``delete_chat_by_id`` deletes the caller's own chat.
    """
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    warnings: list[str] = []
    own = http is None
    http = http or requests.Session()
    try:
        found: list[str] = []
        for page in range(1, SWEEP_PAGES + 1):
            resp = http.get(f"{base}/api/v1/chats/", params={"page": page}, headers=headers, timeout=timeout_s)
            listed = resp.json() if resp.status_code == 200 else None
            if not isinstance(listed, list):
                warnings.append(f"chat sweep: listing the canary account's chats gave HTTP {resp.status_code}")
                break
            found += [str(c["id"]) for c in listed if isinstance(c, dict) and c.get("id")]
            if len(listed) < 60:
                break
        for chat_id in found:
            resp = http.get(f"{base}/api/v1/chats/{chat_id}", headers=headers, timeout=timeout_s)
            if resp.status_code != 200 or not is_canary_chat(resp.json(), prompt):
                continue
            gone = http.delete(f"{base}/api/v1/chats/{chat_id}", headers=headers, timeout=timeout_s)
            if gone.status_code != 200:
                warnings.append(f"chat sweep: DELETE /api/v1/chats/{chat_id} gave HTTP {gone.status_code}")
    except Exception as exc:
        warnings.append(f"chat sweep failed: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        if own:
            http.close()
    return warnings


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    check_args(ap, args)
    targets = build_targets(args)
    rows = measure(targets, prompt=args.prompt, max_tokens=args.max_tokens, timeout_s=args.timeout,
                   time_limit_s=args.time_limit)
    for row in rows:
        why = problems(row)
        if why:
            print(f"canary: {row['path']}: {why}", file=sys.stderr)
    text = render(rows)
    if args.print:
        sys.stdout.write(text)
        return 0
    try:
        textfile.write_atomically(args.out, text)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 2
    return 0
