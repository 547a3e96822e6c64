"""Download a pinned Hugging Face model snapshot into a directory, once (``qwen3-hosttools hf-fetch``).

Runs on the target host (role ``model_weights``) in the host tools' venv (``huggingface_hub``); ``--check`` needs
only the standard library. E.g. ``hf-fetch --repo-id Qwen/Qwen3-14B-FP8 --revision <commit> --local-dir DIR
--allow-pattern '*.safetensors' --allow-pattern '*.json' [--token-file F] [--endpoint URL]``.

Steps: (1) if the completion marker in the directory matches repo/revision/patterns and every file
it lists is present with its size, stop (nothing to do); (2) ask the Hub which files the revision
has (commit, names, sizes: the listing snapshot_download itself uses), drop local files whose size
is wrong, and check free disk for what is missing plus a margin;
(3) ``snapshot_download`` at the resolved commit, with retries and backoff;
(4) verify every expected file is there with the right size; (5) write the marker.

A new revision into the same directory: files the previous marker listed that the new revision
does not have are removed after the download (the engine would load stray shards too).

Interrupted runs: files that finished stay and are not fetched again. huggingface_hub resumes a
file whose connection drops mid-way with a Range request inside one run; a killed process loses
only the file it was writing (huggingface_hub >= 2 deletes its temporary file).

Token: ``--token-file`` (a file holding the token, or a line ``HF_TOKEN=...``), else env ``HF_TOKEN``.
It is never printed. Endpoint (a mirror): ``--endpoint``, else env ``HF_ENDPOINT``, else the Hub.

Output: progress lines on stdout (and ``--log-file``), then one JSON line ``{"result": ...}``.

Exit codes:
  0  complete (downloaded now, or already complete)
  1  --check only: a download is needed
  2  bad arguments
  3  not enough free disk space
  4  access denied: repo private/gated or missing, token missing or invalid
  5  revision or file not found, or the allow patterns match no file
  6  gave up after the retries (network errors, Hub 5xx, interrupted transfers)
  7  files on disk do not match what the Hub lists after the download
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import threading
import time
from pathlib import Path

# Before huggingface_hub reads them at import: no tqdm bars in logs (we print our own progress), no telemetry.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

try:  # the venv the role creates has it; --check works with a bare python3
    from huggingface_hub import HfApi, RepoFile, snapshot_download
    from huggingface_hub import errors as hub_errors
    from huggingface_hub.utils import filter_repo_objects
except ImportError:  # pragma: no cover
    HfApi = RepoFile = snapshot_download = hub_errors = filter_repo_objects = None

MARKER = ".qwen3-deploy-download.json"
EXIT_OK, EXIT_NEEDED, EXIT_USAGE, EXIT_DISK, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_RETRIES, EXIT_VERIFY = range(8)


class FetchError(Exception):
    """An error with the exit code it maps to; `retry` says whether another attempt may help."""

    def __init__(self, code: int, message: str, retry: bool = False):
        super().__init__(message)
        self.code = code
        self.retry = retry


class Log:
    """Prints lines to stdout and appends them to an optional log file."""

    def __init__(self, path: Path | None):
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} hf_fetch: {message}"
        print(line, flush=True)
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)  # pragma: no cover


def read_token(token_file: Path | None) -> str | None:
    """The token from the file (raw, or a HF_TOKEN=... line), else from env HF_TOKEN; None if empty."""
    if token_file is not None:
        text = token_file.read_text(encoding="utf-8")
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("HF_TOKEN="):
                return line.split("=", 1)[1].strip().strip("'\"") or None
        return text.strip() or None
    return os.environ.get("HF_TOKEN", "").strip() or None


def marker_request(args: argparse.Namespace) -> dict:
    return {
        "repo_id": args.repo_id,
        "revision": args.revision,
        "allow_patterns": sorted(args.allow_pattern or []),
        "ignore_patterns": sorted(args.ignore_pattern or []),
    }


def check_marker(local_dir: Path, request: dict) -> tuple[bool, str]:
    """(complete?, why). Complete = marker matches the request and all listed files have their sizes."""
    path = local_dir / MARKER
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False, "no completion marker"
    except (OSError, ValueError) as exc:
        return False, f"unreadable marker: {exc}"
    for key, value in request.items():
        if marker.get(key) != value:
            return False, f"marker is for {key}={marker.get(key)!r}, want {value!r}"
    files = marker.get("files")
    if not isinstance(files, dict) or not files:
        return False, "marker lists no files"
    for name, size in files.items():
        f = local_dir / name
        if not f.is_file():
            return False, f"{name} is missing"
        if f.stat().st_size != size:
            return False, f"{name} has {f.stat().st_size} bytes, want {size}"
    return True, f"complete: {len(files)} files, commit {marker.get('commit')}"


def free_bytes(path: Path) -> int:
    p = path
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def classify(exc: BaseException) -> FetchError:
    """Map huggingface_hub / network exceptions to an exit code, looking through the cause chain."""
    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in chain:
        if isinstance(e, hub_errors.RevisionNotFoundError):
            return FetchError(EXIT_NOT_FOUND, f"revision not found: {first_line(e)}")
        if isinstance(e, hub_errors.GatedRepoError):
            return FetchError(EXIT_AUTH, f"gated repo, the token has no access: {first_line(e)}")
        if isinstance(e, hub_errors.RemoteEntryNotFoundError):
            return FetchError(EXIT_NOT_FOUND, f"file not found: {first_line(e)}")
        if isinstance(e, hub_errors.RepositoryNotFoundError):
            why = "repository not found, or private/gated and the token is missing or invalid"
            return FetchError(EXIT_AUTH, f"{why}: {first_line(e)}")
        if isinstance(e, hub_errors.HfHubHTTPError) and e.response is not None and e.response.status_code in (401, 403):
            return FetchError(EXIT_AUTH, f"access denied (HTTP {e.response.status_code}): {first_line(e)}")
    return FetchError(EXIT_RETRIES, f"{type(exc).__name__}: {first_line(exc)}", retry=True)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split("\n")[:3])[:400]


def plan(args: argparse.Namespace, token: str | None, endpoint: str | None) -> tuple[str, dict[str, int], int]:
    """Ask the Hub: (commit, {file: size}, bytes still to download).

    Same listing snapshot_download makes (repo info at the revision -> commit, recursive tree at the
    commit, filtered by the patterns), but the sizes come from the Hub, not from files already on disk.
    """
    if HfApi is None:
        raise FetchError(EXIT_USAGE, "huggingface_hub is not installed in this python")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        commit = api.repo_info(args.repo_id, revision=args.revision).sha
        listing = {
            f.path: int(f.size or 0)
            for f in api.list_repo_tree(args.repo_id, revision=commit, recursive=True)
            if isinstance(f, RepoFile)
        }
    except Exception as exc:
        raise classify(exc) from exc
    if not commit:
        raise FetchError(EXIT_RETRIES, "the Hub returned no commit sha for the revision", retry=True)
    names = filter_repo_objects(
        sorted(listing), allow_patterns=args.allow_pattern or None, ignore_patterns=args.ignore_pattern or None
    )
    files = {name: listing[name] for name in names}
    if not files:
        raise FetchError(EXIT_NOT_FOUND, f"no file of {args.repo_id}@{args.revision} matches {args.allow_pattern}")
    todo = 0
    for name, size in files.items():
        local = args.local_dir / name
        if local.is_file() and local.stat().st_size != size:
            local.unlink()  # huggingface_hub would trust its metadata and keep a damaged file
        if not local.is_file():
            todo += size
    return commit, files, todo


class Progress(threading.Thread):
    """Every `interval` s: bytes on disk (finished files + huggingface_hub's *.incomplete files) vs total."""

    def __init__(self, log: Log, local_dir: Path, files: dict[str, int], interval: float):
        super().__init__(daemon=True, name="hf-fetch-progress")
        self.log, self.local_dir, self.files, self.interval = log, local_dir, files, interval
        self.total = sum(files.values())
        self.stopped = threading.Event()

    def on_disk(self) -> int:
        done = 0
        for name, size in self.files.items():
            f = self.local_dir / name
            if f.is_file() and f.stat().st_size == size:
                done += size
        tmp = self.local_dir / ".cache" / "huggingface" / "download"
        if tmp.is_dir():
            done += sum(p.stat().st_size for p in tmp.rglob("*.incomplete") if p.is_file())
        return min(done, self.total)

    def run(self) -> None:
        last, last_t = self.on_disk(), time.monotonic()
        while not self.stopped.wait(self.interval):
            now, now_t = self.on_disk(), time.monotonic()
            rate = (now - last) / max(now_t - last_t, 1e-6)
            pct = 100.0 * now / self.total if self.total else 100.0
            self.log(f"progress {human(now)} / {human(self.total)} ({pct:.1f}%), {human(rate)}/s")
            last, last_t = now, now_t


def download(args: argparse.Namespace, log: Log, token: str | None, endpoint: str | None) -> dict:
    attempt = 0
    while True:
        attempt += 1
        try:
            commit, files, todo = plan(args, token, endpoint)
            total = sum(files.values())
            log(f"{args.repo_id}@{args.revision} = commit {commit}: {len(files)} files, {human(total)}")
            log(f"{human(todo)} to fetch")
            free = free_bytes(args.local_dir)
            if free < todo + args.min_free_margin:
                raise FetchError(
                    EXIT_DISK,
                    f"not enough disk at {args.local_dir}: {human(free)} free, "
                    f"need {human(todo)} + margin {human(args.min_free_margin)}",
                )
            args.local_dir.mkdir(parents=True, exist_ok=True)
            progress = Progress(log, args.local_dir, files, args.progress_interval)
            progress.start()
            try:
                snapshot_download(
                    args.repo_id,
                    revision=commit,
                    local_dir=str(args.local_dir),
                    allow_patterns=sorted(files),
                    token=token,
                    endpoint=endpoint,
                    max_workers=args.max_workers,
                )
            except Exception as exc:
                raise classify(exc) from exc
            finally:
                progress.stopped.set()
            bad = verify(args.local_dir, files)
            if bad:
                raise FetchError(EXIT_VERIFY, "after download: " + "; ".join(bad[:5]), retry=True)
            return {
                "commit": commit,
                "files": files,
                "total_bytes": total,
                "downloaded_bytes": todo,
                "attempts": attempt,
            }
        except FetchError as err:
            if not err.retry or attempt > args.retries:
                if err.retry:
                    err.args = (f"{err} (gave up after {attempt} attempts)",)
                raise
            delay = min(args.backoff * (2 ** (attempt - 1)), args.max_backoff)
            log(f"attempt {attempt} failed: {err}; retrying in {delay:.0f} s")
            time.sleep(delay)


def verify(local_dir: Path, files: dict[str, int]) -> list[str]:
    bad = []
    for name, size in files.items():
        f = local_dir / name
        if not f.is_file():
            bad.append(f"{name} missing")
        elif size and f.stat().st_size != size:
            bad.append(f"{name} has {f.stat().st_size} bytes, want {size}")
    return bad


def previous_files(local_dir: Path) -> list[str]:
    """Files an earlier completed download (any revision) put into the directory, from its marker."""
    try:
        files = json.loads((local_dir / MARKER).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return []
    return [n for n in files if isinstance(n, str) and ".." not in Path(n).parts and not Path(n).is_absolute()]


def write_marker(local_dir: Path, request: dict, result: dict) -> None:
    marker = dict(request)
    marker.update(
        {
            "source": "hf",
            "commit": result["commit"],
            "files": dict(sorted(result["files"].items())),
            "total_bytes": result["total_bytes"],
        }
    )
    tmp = local_dir / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(local_dir / MARKER)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Download a pinned Hugging Face snapshot once (see module doc for exit codes).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Exit codes:", 1)[1].join(["Exit codes:", ""]),
    )
    p.add_argument("--repo-id", required=True, help="e.g. Qwen/Qwen3-14B-FP8")
    p.add_argument("--revision", required=True, help="commit sha (preferred), tag or branch")
    p.add_argument("--local-dir", required=True, type=Path, help="directory the files land in")
    p.add_argument("--allow-pattern", action="append", default=[], help="glob of files to fetch (repeatable)")
    p.add_argument("--ignore-pattern", action="append", default=[], help="glob of files to skip (repeatable)")
    p.add_argument("--token-file", type=Path, help="file holding the token (else env HF_TOKEN)")
    p.add_argument("--endpoint", default=None, help="Hub or mirror URL (else env HF_ENDPOINT)")
    p.add_argument("--retries", type=int, default=5, help="extra attempts after a failed one (default 5)")
    p.add_argument("--backoff", type=float, default=10.0, help="first retry delay in s, doubled each time")
    p.add_argument("--max-backoff", type=float, default=300.0, help="cap on the retry delay in s")
    p.add_argument("--max-workers", type=int, default=8, help="parallel file downloads")
    p.add_argument("--min-free-margin", type=int, default=1 << 30, help="bytes to keep free beyond the download")
    p.add_argument("--progress-interval", type=float, default=10.0, help="seconds between progress lines")
    p.add_argument("--log-file", type=Path, help="also append the output lines here")
    p.add_argument("--check", action="store_true", help="only check the marker: exit 0 complete, 1 needed")
    args = p.parse_args(argv)
    if args.retries < 0 or args.max_workers < 1 or args.progress_interval <= 0:
        p.error("--retries must be >= 0, --max-workers >= 1, --progress-interval > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.local_dir = args.local_dir.expanduser().absolute()
    log = Log(args.log_file)
    request = marker_request(args)
    complete, why = check_marker(args.local_dir, request)
    if args.check:
        print(json.dumps({"result": "complete" if complete else "needed", "reason": why, **request}))
        return EXIT_OK if complete else EXIT_NEEDED
    if complete:
        log(f"{args.repo_id}@{args.revision}: already {why}")
        print(json.dumps({"result": "already_complete", "changed": False, **request}), flush=True)
        return EXIT_OK
    log(f"{args.repo_id}@{args.revision} -> {args.local_dir}: {why}, fetching")

    try:
        token = read_token(args.token_file)
    except OSError as exc:
        log(f"cannot read token file: {exc.strerror}")
        return EXIT_USAGE
    endpoint = (args.endpoint or os.environ.get("HF_ENDPOINT", "")).strip().rstrip("/") or None
    if endpoint:
        log(f"endpoint {endpoint}")
    previous = previous_files(args.local_dir)
    (args.local_dir / MARKER).unlink(missing_ok=True)  # stale until this download completes
    started = time.monotonic()
    try:
        result = download(args, log, token, endpoint)
    except FetchError as err:
        log(f"FAILED (exit {err.code}): {err}")
        print(json.dumps({"result": "failed", "exit_code": err.code, "error": str(err), **request}), flush=True)
        return err.code
    for name in sorted(set(previous) - set(result["files"])):
        stale = args.local_dir / name
        if stale.is_file():
            stale.unlink()  # from an earlier revision (e.g. other shard names); the engine would load it too
            log(f"removed {name}: not part of this revision")
    write_marker(args.local_dir, request, result)
    seconds = time.monotonic() - started
    log(f"done: {len(result['files'])} files, {human(result['total_bytes'])} in {seconds:.1f} s")
    summary = {"result": "downloaded", "changed": True, "commit": result["commit"], "seconds": round(seconds, 1)}
    summary.update({k: result[k] for k in ("total_bytes", "downloaded_bytes", "attempts")})
    print(json.dumps({**summary, **request}), flush=True)
    return EXIT_OK
