#!/usr/bin/env python3
"""Pull an Ollama model through POST /api/pull, following the streamed progress; retry until `success`.

Runs on the managed host (stdlib only), started by the ollama_service role:

    ollama_pull.py --url http://127.0.0.1:11434 --model qwen3:14b-q8_0 [--retries 5] [--stall-timeout 300]

Each attempt streams NDJSON status lines; progress is printed to stderr at most every 10 s. An attempt fails on
an `error` line, an HTTP error, a connection error, or no line for --stall-timeout seconds; the pull resumes
(Ollama keeps partial blobs) after a back-off of 5, 10, 20 ... s (capped at 60). Exit 0 and a JSON summary on
stdout once a line says {"status": "success"}; exit 1 after the last attempt.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def attempt(url: str, model: str, stall_timeout: float) -> tuple[bool, str]:
    body = json.dumps({"model": model, "stream": True}).encode()
    request = urllib.request.Request(  # noqa: S310 - the local Ollama API URL from the role
        f"{url.rstrip('/')}/api/pull", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    last_report = 0.0
    try:
        with urllib.request.urlopen(request, timeout=stall_timeout) as response:  # noqa: S310 - local API
            for raw in response:
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    return False, f"undecodable progress line {raw[:200]!r}"
                if line.get("error"):
                    return False, str(line["error"])
                status = str(line.get("status", ""))
                if status == "success":
                    return True, status
                now = time.monotonic()
                if now - last_report >= 10 or "total" not in line:
                    last_report = now
                    if line.get("total"):
                        pct = 100.0 * float(line.get("completed", 0)) / float(line["total"])
                        status = f"{status} {pct:.1f}% of {int(line['total']) / 1e9:.2f} GB"
                    print(f"pull {model}: {status}", file=sys.stderr, flush=True)
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        return False, f"HTTP {exc.code}: {detail}"
    except (urllib.error.URLError, OSError) as exc:  # includes socket timeouts (stalls)
        return False, f"{type(exc).__name__}: {exc}"
    return False, "stream ended without success"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--retries", type=int, default=5)
    ap.add_argument("--stall-timeout", type=float, default=300)
    args = ap.parse_args(argv)
    errors = []
    started = time.monotonic()
    for number in range(1, max(1, args.retries) + 1):
        ok, detail = attempt(args.url, args.model, args.stall_timeout)
        if ok:
            print(
                json.dumps(
                    {
                        "model": args.model,
                        "attempts": number,
                        "errors": errors,
                        "seconds": round(time.monotonic() - started, 1),
                    }
                )
            )
            return 0
        errors.append(f"attempt {number}: {detail}")
        print(f"pull {args.model}: attempt {number} failed: {detail}", file=sys.stderr, flush=True)
        if number < args.retries:
            time.sleep(min(60, 5 * 2 ** (number - 1)))
    print(json.dumps({"model": args.model, "attempts": args.retries, "errors": errors}))
    return 1
