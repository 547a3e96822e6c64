"""FakeHub: a test double of the Hugging Face Hub (stdlib only, binds 127.0.0.1 by default).

Serves model repos from local directories with just enough of the Hub HTTP API for
``huggingface_hub.snapshot_download`` (checked against huggingface_hub 2.4.0):

* ``GET  /api/models/{repo}/revision/{rev}``         repo info: ``sha`` (the commit), ``siblings``
* ``GET  /api/models/{repo}/tree/{rev}[?recursive]`` file list with size, oid and ``lfs`` for weights
* ``HEAD|GET /{repo}/resolve/{rev}/{path}``          file bytes with ``ETag`` (sha256), ``X-Repo-Commit``,
                                                     ``Content-Length``, ``Range`` -> 206

Errors use the Hub's ``X-Error-Code`` header so the client raises its real exceptions
(``RevisionNotFound`` 404, ``RepoNotFound`` 401, ``EntryNotFound`` 404).

Test knobs: ``token`` (require ``Authorization: Bearer <token>``), ``cut_once(path, after_bytes)``
(drop the connection mid-body once), ``fail_next(path, times, status)`` (answer GETs of a file
with an error), ``stall(path, after_bytes)`` (send some bytes, then hang until ``release()``),
and ``requests`` (a log of every request seen).

Run standalone (e.g. inside a test host): ``python3 fake_hub.py --repo ORG/NAME=DIR [--port N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".msgpack", ".h5")


@dataclass
class FakeRepo:
    """One repo: all files under `root`, published as one commit reachable by `refs` (branch/tag names)."""

    repo_id: str
    root: Path
    refs: tuple[str, ...] = ("main",)
    commit: str = ""
    files: dict[str, dict] = field(default_factory=dict)

    def scan(self) -> None:
        self.files = {}
        digest = hashlib.sha1(self.repo_id.encode())
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            rel = path.relative_to(self.root).as_posix()
            if rel.startswith(".") or "/." in rel:
                continue
            data = path.read_bytes()
            sha256 = hashlib.sha256(data).hexdigest()
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            self.files[rel] = {"path": path, "size": len(data), "sha256": sha256, "oid": blob}
            digest.update(rel.encode() + b"\0" + sha256.encode())
        self.commit = digest.hexdigest()

    def resolve(self, revision: str) -> str | None:
        if revision == self.commit or revision in self.refs:
            return self.commit
        return None


@dataclass
class SeenRequest:
    method: str
    path: str
    range: str | None
    authorization: str | None


class FakeHub:
    """The server. Use as a context manager; `endpoint` is the value for HF_ENDPOINT."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str | None = None):
        self.repos: dict[str, FakeRepo] = {}
        self.token = token
        self.requests: list[SeenRequest] = []
        self._cuts: dict[str, int] = {}
        self._fails: dict[str, list] = {}
        self._stalls: dict[str, int] = {}
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # setup -----------------------------------------------------------------------------------------
    def add_repo(self, repo_id: str, root: str | Path, refs: tuple[str, ...] = ("main",)) -> FakeRepo:
        repo = FakeRepo(repo_id=repo_id, root=Path(root), refs=tuple(refs))
        repo.scan()
        self.repos[repo_id] = repo
        return repo

    def cut_once(self, path: str, after_bytes: int) -> None:
        """The next full GET of `path` sends `after_bytes` bytes of the body, then drops the connection."""
        with self._lock:
            self._cuts[path] = after_bytes

    def fail_next(self, path: str, times: int = 1, status: int = 500) -> None:
        """The next `times` GETs of `path` (resolve) answer `status` with no body."""
        with self._lock:
            self._fails[path] = [times, status]

    def stall(self, path: str, after_bytes: int) -> None:
        """GETs of `path` send `after_bytes` bytes, then wait (up to 60 s) until `release()`."""
        with self._lock:
            self._stalls[path] = after_bytes
            self._release.clear()

    def release(self) -> None:
        with self._lock:
            self._stalls.clear()
        self._release.set()

    # lifecycle -------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def start(self) -> FakeHub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def file_gets(self, path: str) -> list[SeenRequest]:
        """GET requests seen for a file (any repo/revision)."""
        return [r for r in self.requests if r.method == "GET" and "/resolve/" in r.path and r.path.endswith("/" + path)]


def _make_handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeHub/1"

        def log_message(self, format, *args):
            pass

        # helpers -----------------------------------------------------------------------------------
        def _reply(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and not head:
                self.wfile.write(body)

        def _json(self, status: int, obj, head: bool = False):
            self._reply(status, json.dumps(obj).encode(), {"Content-Type": "application/json"}, head)

        def _error(self, status: int, code: str | None, message: str, head: bool = False, extra=None):
            headers = {"Content-Type": "application/json", "X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            headers.update(extra or {})
            self._reply(status, json.dumps({"error": message}).encode(), headers, head)

        def _authorized(self, head: bool) -> bool:
            if hub.token is None:
                return True
            auth = self.headers.get("Authorization")
            if auth == f"Bearer {hub.token}":
                return True
            if auth:
                self._error(401, None, "Invalid credentials in Authorization header", head)
            else:
                self._error(401, "RepoNotFound", "Repository not found", head)
            return False

        def _find_repo(self, parts: list[str]) -> tuple[FakeRepo | None, list[str]]:
            """parts = raw path segments; repo ids are 'org/name' (2 segments) or 'name' (1)."""
            if len(parts) >= 2 and "/".join(parts[:2]) in hub.repos:
                return hub.repos["/".join(parts[:2])], parts[2:]
            if parts and parts[0] in hub.repos:
                return hub.repos[parts[0]], parts[1:]
            return None, parts

        # dispatch ----------------------------------------------------------------------------------
        def do_HEAD(self):
            self._handle(head=True)

        def do_GET(self):
            self._handle(head=False)

        def _handle(self, head: bool):
            url = urlsplit(self.path)
            with hub._lock:
                hub.requests.append(
                    SeenRequest(
                        self.command, unquote(url.path), self.headers.get("Range"), self.headers.get("Authorization")
                    )
                )
            raw = [p for p in url.path.split("/") if p]
            if not self._authorized(head):
                return
            if raw[:2] == ["api", "models"]:
                return self._api(raw[2:], parse_qs(url.query), head)
            repo, rest = self._find_repo([unquote(p) for p in raw])
            if repo is None or len(rest) < 3 or rest[0] != "resolve":
                return self._error(401, "RepoNotFound", "Repository not found", head)
            commit = repo.resolve(rest[1])
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rest[1]}", head)
            return self._resolve(repo, "/".join(rest[2:]), head)

        def _api(self, parts: list[str], query: dict, head: bool):
            repo, rest = self._find_repo(parts)
            if repo is None:
                return self._error(401, "RepoNotFound", "Repository not found", head)
            if not rest or rest[0] not in ("revision", "tree") or len(rest) < 2:
                return self._error(404, None, "Not found", head)
            revision = unquote(rest[1])
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)
            if rest[0] == "revision":
                return self._json(
                    200,
                    {
                        "_id": commit[:24],
                        "id": repo.repo_id,
                        "modelId": repo.repo_id,
                        "sha": commit,
                        "private": hub.token is not None,
                        "gated": False,
                        "disabled": False,
                        "tags": ["safetensors", "qwen3", "text-generation"],
                        "pipeline_tag": "text-generation",
                        "library_name": "transformers",
                        "siblings": [{"rfilename": name} for name in repo.files],
                    },
                    head,
                )
            prefix = "/".join(unquote(p) for p in rest[2:])
            recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
            return self._json(200, self._tree(repo, prefix, recursive), head)

        def _tree(self, repo: FakeRepo, prefix: str, recursive: bool) -> list[dict]:
            base = prefix + "/" if prefix else ""
            entries: dict[str, dict] = {}
            for name, info in repo.files.items():
                if not name.startswith(base):
                    continue
                rel = name[len(base) :]
                if "/" in rel:
                    top = base + rel.split("/")[0]
                    entries.setdefault(top, {"type": "directory", "oid": "0" * 40, "size": 0, "path": top})
                    if not recursive:
                        continue
                    parts = rel.split("/")
                    for k in range(2, len(parts)):
                        sub = base + "/".join(parts[:k])
                        entries.setdefault(sub, {"type": "directory", "oid": "0" * 40, "size": 0, "path": sub})
                entry = {"type": "file", "oid": info["oid"], "size": info["size"], "path": name}
                if name.endswith(LFS_SUFFIXES):
                    entry["lfs"] = {"oid": info["sha256"], "size": info["size"], "pointerSize": 134}
                entries[name] = entry
            return [entries[k] for k in sorted(entries)]

        def _resolve(self, repo: FakeRepo, name: str, head: bool):
            info = repo.files.get(name)
            headers = {"X-Repo-Commit": repo.commit}
            if info is None:
                return self._error(404, "EntryNotFound", f"{name} does not exist", head, headers)
            if not head:
                with hub._lock:
                    fail = hub._fails.get(name)
                    if fail and fail[0] > 0:
                        fail[0] -= 1
                        status = fail[1]
                    else:
                        status = None
                if status is not None:
                    return self._error(status, None, "Injected failure", head, headers)
            size = info["size"]
            headers.update(
                {
                    "ETag": f'"{info["sha256"]}"',
                    "Accept-Ranges": "bytes",
                    "Content-Type": "application/octet-stream",
                    "Content-Disposition": f'attachment; filename="{name.rsplit("/", 1)[-1]}"',
                }
            )
            start, status = 0, 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                first, _, last = rng[len("bytes=") :].partition("-")
                start = int(first or 0)
                end = int(last) if last else size - 1
                if start >= size:
                    return self._error(416, None, "Range not satisfiable", head, {"Content-Range": f"bytes */{size}"})
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            else:
                end = size - 1
            length = end - start + 1
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if head:
                return
            with open(info["path"], "rb") as fh:
                fh.seek(start)
                body = fh.read(length)
            with hub._lock:
                cut = hub._cuts.pop(name, None) if status == 200 else None
                stall = hub._stalls.get(name)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # socket.SHUT_RDWR
                return
            if stall is not None:
                self.wfile.write(body[:stall])
                self.wfile.flush()
                hub._release.wait(60)
                body = body[stall:]
            self.wfile.write(body)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="FakeHub: local test double of the Hugging Face Hub")
    parser.add_argument("--repo", action="append", required=True, metavar="ORG/NAME=DIR", help="repo to serve")
    parser.add_argument("--ref", action="append", default=[], help="extra branch/tag names for every repo")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--token", default=None, help="require this bearer token")
    parser.add_argument("--ready-file", type=Path, help="write the endpoint and commits here once listening")
    args = parser.parse_args(argv)
    hub = FakeHub(host=args.host, port=args.port, token=args.token)
    commits = {}
    for spec in args.repo:
        repo_id, _, root = spec.partition("=")
        commits[repo_id] = hub.add_repo(repo_id, root, refs=("main", *args.ref)).commit
    info = json.dumps({"endpoint": hub.endpoint, "commits": commits, "pid": os.getpid()})
    print(info, flush=True)
    if args.ready_file:
        args.ready_file.write_text(info + "\n")
    try:
        hub._server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
