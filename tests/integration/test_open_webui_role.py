"""Open WebUI role, for real: venv mode on a booted test host, container mode on this machine's dockerd.

venv mode (test host ``ow-1``): host_base, then a stand-in engine (``fake_openai_double``: an
OpenAI-compatible streaming server, one token per SSE chunk, 20 ms apart) on the host's
127.0.0.1:8000, then ``playbooks/webui.yml`` with the cpu-demo profile. Open WebUI is reached through
an SSH port forward on 127.0.0.1.

container mode (this machine): the locally built image (``tests/webui_image/build``), host
networking, in front of a real vLLM CPU server on 127.0.0.1 when ``OW_VLLM_URL`` names one (the
tiny model; skipped otherwise).

What is proved: the served model is listed in /api/models; a chat streams through the browser path
(Socket.IO ``events``, as the page receives them) and through the API (SSE); with chunk size 1
every engine chunk arrives as its own Socket.IO event, with 8 the events carry 8, back to 1 gives 1
again; reruns report changed=0 and keep the secret key, the admin and stored chats; bad values fail
before any change and name the variable; check mode changes nothing.

Environment: OW_KEEP_HOSTS=1 keeps the test host; OW_VLLM_URL / OW_VLLM_KEY / OW_VLLM_MODEL name the
real vLLM for container mode; OW_WEBUI_IMAGE the test image (default qwen3-deploy-open-webui-test:0.12.4).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils import latency

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
TESTHOSTS = REPO / "scripts" / "testhosts"
PREFIX = "ow"
HOST = f"{PREFIX}-1"
ADMIN = {"email": "admin@ow-test.invalid", "password": "ow-Test-passw0rd", "name": "OW Admin"}
FAKE_KEY = "ow-fake-engine-key"
MODEL = "qwen3-demo"
PROMPT = "Count from one to forty in English words, separated by spaces."
MAX_TOKENS = 24
SHARED_UNIT_TEMPLATE = REPO / "templates" / "systemd_unit.j2"
# Used only while the shared templates/systemd_unit.j2 (vllm_service helper) does not exist yet.
UNIT_TEMPLATE_STAND_IN = """{{ ansible_managed | comment }}
# role: {{ systemd_unit_role }}
{% for section, entries in systemd_unit.items() %}
[{{ section }}]
{% for key, value in entries.items() %}
{% for v in (value if value is sequence and value is not string else [value]) %}
{{ key }}={{ v }}
{% endfor %}
{% endfor %}

{% endfor %}
"""

# A stand-in for the engine (test double): OpenAI-compatible, streams MAX_TOKENS one-token chunks.
FAKE_OPENAI_DOUBLE = r"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = sys.argv[2]
MODEL = sys.argv[3]
WORDS = "one two three four five six seven eight nine ten eleven twelve".split()


class FakeOpenAIDouble(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self):
        if self.headers.get("Authorization") != "Bearer " + KEY:
            self._json(401, {"error": "bad key"})
            return False
        return True

    def do_GET(self):
        if self.path == "/health":
            return self._json(200, {})
        if not self._authorized():
            return None
        if self.path.rstrip("/") == "/v1/models":
            return self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "double"}]})
        return self._json(404, {"error": "not found"})

    def do_POST(self):
        if not self._authorized():
            return None
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        n = int(req.get("max_tokens") or req.get("max_completion_tokens") or 16)
        toks = [WORDS[i % len(WORDS)] + " " for i in range(n)]
        base = {"id": "chatcmpl-double", "object": "chat.completion.chunk", "created": int(time.time()), "model": MODEL}
        if not req.get("stream"):
            return self._json(200, {**base, "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "length",
                              "message": {"role": "assistant", "content": "".join(toks)}}],
                              "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": n + 5}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(obj):
            data = ("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        send({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        for tok in toks:
            time.sleep(0.02)
            send({**base, "choices": [{"index": 0, "delta": {"content": tok}}]})
        send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        if (req.get("stream_options") or {}).get("include_usage"):
            send({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": n + 5}})
        send("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), FakeOpenAIDouble).serve_forever()
"""

PREP_PLAYBOOK = """
- name: Test host plumbing and the stand-in engine (test double)
  hosts: llm_servers
  become: true
  roles:
    - role: host_base
  tasks:
    - name: Install the fake engine (test double)
      ansible.builtin.copy:
        src: {double}
        dest: /usr/local/bin/fake_openai_double.py
        mode: "0755"
    - name: Unit for the fake engine (test double)
      ansible.builtin.copy:
        dest: /etc/systemd/system/fake-openai-double.service
        mode: "0644"
        content: |
          [Service]
          ExecStart=/usr/bin/python3 /usr/local/bin/fake_openai_double.py 8000 {key} {model}
          [Install]
          WantedBy=multi-user.target
    - name: Start the fake engine (test double)
      ansible.builtin.systemd_service:
        name: fake-openai-double.service
        state: started
        enabled: true
        daemon_reload: true
"""


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------
def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP counters per host."""
    out = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    """Runs playbooks/webui.yml with a vars file; remembers the last output."""

    def __init__(self, inventory: Path, workdir: Path, base_vars: dict, extra_args: list[str] | None = None):
        self.inventory = inventory
        self.workdir = workdir
        self.base_vars = base_vars
        self.extra_args = extra_args or []
        self.runs = 0

    def play(
        self, playbook: Path | str = "playbooks/webui.yml", check: bool = False, timeout: int = 1500, **overrides
    ) -> subprocess.CompletedProcess:
        self.runs += 1
        vars_file = self.workdir / f"vars-{self.runs}.yml"
        vars_file.write_text(yaml.safe_dump({**self.base_vars, **overrides}))
        cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(self.inventory), str(playbook), "-e", f"@{vars_file}", *self.extra_args]
        if check:
            cmd.append("--check")
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        proc = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
        (self.workdir / f"run-{self.runs}.log").write_text(proc.stdout + proc.stderr)
        return proc


def ok(proc: subprocess.CompletedProcess) -> dict[str, int]:
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    counters = recap(proc.stdout)
    assert counters, proc.stdout[-3000:]
    return next(iter(counters.values()))


def wait_http(url: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


class WebUI:
    """Client for one Open WebUI instance (admin JWT)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        wait_http(base_url + "/health")
        self.token = latency.webui_signin(self.session, base_url, ADMIN["email"], ADMIN["password"])
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def models(self) -> list[str]:
        resp = self.session.get(self.base_url + "/api/models", headers=self.headers, timeout=30)
        resp.raise_for_status()
        return [m["id"] for m in resp.json()["data"]]

    def socket_chat(self, model: str, n: int = 2) -> list[latency.RequestResult]:
        target = latency.Target("webui-socket", self.base_url, model, token=self.token)
        sock = latency.SocketPath(target, self.session, timeout_s=60)
        try:
            return [sock.measure(i, PROMPT, MAX_TOKENS) for i in range(n)]
        finally:
            sock.close()

    def api_chat(self, model: str) -> latency.RequestResult:
        target = latency.Target("webui", self.base_url, model, token=self.token)
        return latency.measure_http(self.session, target, 0, prompt=PROMPT, max_tokens=MAX_TOKENS, timeout_s=60)

    def new_chat(self, title: str) -> str:
        body = {"chat": {"title": title, "models": [MODEL], "messages": [{"role": "user", "content": "kept?"}]}}
        resp = self.session.post(self.base_url + "/api/v1/chats/new", json=body, headers=self.headers, timeout=30)
        resp.raise_for_status()
        return resp.json()["id"]

    def chat_title(self, chat_id: str) -> str:
        resp = self.session.get(self.base_url + f"/api/v1/chats/{chat_id}", headers=self.headers, timeout=30)
        resp.raise_for_status()
        return resp.json()["chat"]["title"]


def expect_events(results: list[latency.RequestResult], engine_chunks: int, chunk: int, exact: bool = True) -> None:
    """Every request streamed its answer in ceil(engine_chunks / chunk) Socket.IO content events.

    exact=False (a real vLLM on a loaded machine): vLLM itself merges deltas when its output loop falls behind,
    so a request may see a few engine chunks fewer than the reference request; allow 10 % fewer chunks.
    """
    want = math.ceil(engine_chunks / chunk)
    for res in results:
        assert res.ok and res.done, res.error
        assert res.text, "empty answer"
        got = res.content_events
        if exact:
            assert got == want, f"chunk size {chunk}: {got} Socket.IO content events for {engine_chunks} engine chunks"
        else:
            low = math.ceil(math.floor(engine_chunks * 0.9) / chunk)
            assert low <= got <= want, (
                f"chunk size {chunk}: {got} Socket.IO content events for ~{engine_chunks} engine chunks "
                f"(want {low}..{want})"
            )


def bad_value_fails(dep: Deployment, variable: str, value, state_probe) -> None:
    before = state_probe()
    proc = dep.play(**{variable: value})
    assert proc.returncode != 0, f"{variable}={value!r} was accepted"
    assert variable in proc.stdout + proc.stderr, f"failure does not name {variable}"
    assert state_probe() == before, f"{variable}={value!r} changed the host before failing"


# ---------------------------------------------------------------------------------------------------
# venv mode on a booted test host
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def venv_host(tmp_path_factory):
    if shutil.which("docker") is None:
        pytest.skip("docker CLI missing")
    work = tmp_path_factory.mktemp("ow-venv")
    subprocess.run([str(TESTHOSTS), "create", "--prefix", PREFIX, "--count", "1"], check=True, timeout=900)
    inv_text = subprocess.run(
        [str(TESTHOSTS), "inventory", "--prefix", PREFIX, "--group", "llm_servers"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    inventory = work / "inventory.yml"
    inventory.write_text(inv_text)
    double = work / "fake_openai_double.py"
    double.write_text(FAKE_OPENAI_DOUBLE)
    prep = work / "prep.yml"
    prep.write_text(PREP_PLAYBOOK.format(double=double, key=FAKE_KEY, model=MODEL))
    base_vars = {
        "llm_profile": "cpu-demo",
        "vllm_service_api_key": FAKE_KEY,
        "open_webui_admin_email": ADMIN["email"],
        "open_webui_admin_password": ADMIN["password"],
        "open_webui_admin_name": ADMIN["name"],
        "host_base_ca_certificates": sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("*.crt")),
        "host_base_pip_find_links": ["/opt/wheels"],
    }
    if not SHARED_UNIT_TEMPLATE.exists():
        stand_in = work / "systemd_unit_stand_in.j2"
        stand_in.write_text(UNIT_TEMPLATE_STAND_IN)
        base_vars["__open_webui_unit_template"] = str(stand_in)
    dep = Deployment(inventory, work, base_vars)
    ok(dep.play(prep))
    ssh_port = next(iter(yaml.safe_load(inv_text)["all"]["children"]["llm_servers"]["hosts"].values()))["ansible_port"]
    local = free_port()
    tunnel = subprocess.Popen(
        [
            "ssh",
            "-N",
            "-i",
            str(REPO / ".testhosts" / "ssh" / "id_ed25519"),
            "-p",
            str(ssh_port),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ExitOnForwardFailure=yes",
            "-L",
            f"127.0.0.1:{local}:127.0.0.1:8080",
            "root@127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield dep, f"http://127.0.0.1:{local}"
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)
        if not os.environ.get("OW_KEEP_HOSTS"):
            subprocess.run([str(TESTHOSTS), "destroy", "--prefix", PREFIX], check=False, timeout=300)


def host_exec(*argv: str) -> str:
    return subprocess.run(
        ["docker", "exec", HOST, *argv], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def host_state() -> str:
    """What a failed run must not touch: the env file, the unit and the service's start time."""
    return host_exec(
        "sh",
        "-c",
        "sha256sum /etc/qwen3-deploy/open-webui.env /etc/systemd/system/"
        "qwen3-open-webui.service 2>&1; systemctl show -p ActiveEnterTimestampMonotonic "
        "qwen3-open-webui.service",
    )


def test_venv_mode_streams_token_by_token(venv_host):
    dep, url = venv_host

    # 1. deploy, then a rerun changes nothing
    ok(dep.play())
    assert ok(dep.play())["changed"] == 0
    webui = WebUI(url)
    assert MODEL in webui.models()
    key_before = host_exec("cat", "/etc/qwen3-deploy/open-webui.secret_key")
    assert len(key_before) >= 32
    assert host_exec("stat", "-c", "%a %U", "/etc/qwen3-deploy/open-webui.env").split() == ["600", "root"]
    chat_id = webui.new_chat("kept across reruns")

    # 2. chunk size 1: one Socket.IO event per engine chunk (token); API path streams too
    expect_events(webui.socket_chat(MODEL), MAX_TOKENS, 1)
    api = webui.api_chat(MODEL)
    assert api.ok and api.content_events == MAX_TOKENS, (api.error, api.content_events)

    # 3. check mode with a new value reports a change and changes nothing
    before = host_state()
    proc = dep.play(check=True, open_webui_stream_chunk_size=8)
    assert ok(proc)["changed"] >= 1
    assert host_state() == before

    # 4. chunk size 8 takes effect on rerun
    assert ok(dep.play(open_webui_stream_chunk_size=8))["changed"] >= 1
    webui = WebUI(url)
    expect_events(webui.socket_chat(MODEL), MAX_TOKENS, 8)

    # 5. a per-model param larger than wanted is removed by the role (create, or update on a kept host)
    model_record = {
        "id": MODEL,
        "base_model_id": None,
        "name": MODEL,
        "meta": {},
        "params": {"stream_delta_chunk_size": 16},
    }
    resp = webui.session.post(url + "/api/v1/models/create", headers=webui.headers, timeout=30, json=model_record)
    if resp.status_code != 200:
        resp = webui.session.post(
            url + "/api/v1/models/model/update", headers=webui.headers, timeout=30, json=model_record
        )
    assert resp.status_code == 200, resp.text
    all_models = webui.session.get(url + "/api/v1/models/all", headers=webui.headers, timeout=30).json()
    assert [m["params"].get("stream_delta_chunk_size") for m in all_models if m["id"] == MODEL] == [16]

    # 6. back to 1: token by token again, and the per-model 16 is gone
    assert ok(dep.play(open_webui_stream_chunk_size=1))["changed"] >= 1
    webui = WebUI(url)
    expect_events(webui.socket_chat(MODEL), MAX_TOKENS, 1)

    all_models = webui.session.get(url + "/api/v1/models/all", headers=webui.headers, timeout=30).json()
    assert [m["params"].get("stream_delta_chunk_size") for m in all_models if m["id"] == MODEL] == [None]

    # 7. rerun: changed=0 (also in check mode), same key, admin and chats still there
    assert ok(dep.play())["changed"] == 0
    assert ok(dep.play(check=True))["changed"] == 0
    assert host_exec("cat", "/etc/qwen3-deploy/open-webui.secret_key") == key_before
    webui = WebUI(url)
    assert webui.chat_title(chat_id) == "kept across reruns"

    # 8. bad values fail before any change, naming the variable
    for value in (0, -1, "abc", 1.5, True):
        bad_value_fails(dep, "open_webui_stream_chunk_size", value, host_state)
    bad_value_fails(dep, "open_webui_install_mode", "podman", host_state)


# ---------------------------------------------------------------------------------------------------
# container mode on this machine's dockerd, in front of a real vLLM
# ---------------------------------------------------------------------------------------------------
def engine_content_chunks(base_url: str, key: str, model: str) -> int:
    target = latency.Target("vllm", base_url, model, token=key)
    res = latency.measure_http(requests.Session(), target, 0, prompt=PROMPT, max_tokens=MAX_TOKENS, timeout_s=60)
    assert res.ok, res.error
    return res.content_events


@pytest.fixture(scope="module")
def container_deployment(tmp_path_factory):
    vllm_url = os.environ.get("OW_VLLM_URL")
    if not vllm_url:
        pytest.skip("OW_VLLM_URL (a running vLLM, e.g. the tiny cpu-demo model) not set")
    image = os.environ.get("OW_WEBUI_IMAGE", "qwen3-deploy-open-webui-test:0.12.4")
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode != 0:
        pytest.skip(f"image {image} missing: run tests/webui_image/build")
    work = tmp_path_factory.mktemp("ow-container")
    inventory = work / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "llm_servers": {
                            "hosts": {
                                "ow-local": {
                                    "ansible_connection": "local",
                                    "ansible_python_interpreter": str(REPO / ".venv" / "bin" / "python"),
                                }
                            }
                        }
                    }
                }
            }
        )
    )
    port = free_port()
    name = "ow-it-webui"
    base_vars = {
        "llm_profile": "cpu-demo",
        "llm_profile_overrides": {"served_model_name": os.environ.get("OW_VLLM_MODEL", MODEL)},
        "open_webui_install_mode": "container",
        "open_webui_image": image,
        "open_webui_container_name": name,
        "open_webui_volume": f"{name}-data",
        "open_webui_port": port,
        "open_webui_openai_base_url": vllm_url.rstrip("/") + "/v1",
        "open_webui_openai_api_key": os.environ.get("OW_VLLM_KEY", ""),
        "open_webui_admin_email": ADMIN["email"],
        "open_webui_admin_password": ADMIN["password"],
        "__open_webui_config_dir": str(work / "etc"),
    }
    dep = Deployment(inventory, work, base_vars, extra_args=["-e", "ansible_become=false"])
    try:
        yield dep, f"http://127.0.0.1:{port}", vllm_url, name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", f"{name}-data"], capture_output=True, check=False)


def test_container_mode_in_front_of_vllm(container_deployment):
    dep, url, vllm_url, name = container_deployment
    model = os.environ.get("OW_VLLM_MODEL", MODEL)
    key = os.environ.get("OW_VLLM_KEY", "")
    keyfile = Path(dep.base_vars["__open_webui_config_dir"]) / "open-webui.secret_key"

    ok(dep.play())
    assert ok(dep.play())["changed"] == 0
    key_before = keyfile.read_text()
    webui = WebUI(url)
    assert model in webui.models()
    chat_id = webui.new_chat("kept across reruns")
    direct = engine_content_chunks(vllm_url, key, model)
    assert direct >= 8, f"engine streamed only {direct} content chunks"
    expect_events(webui.socket_chat(model), direct, 1, exact=False)
    api = webui.api_chat(model)
    assert api.ok and api.content_events >= 0.9 * direct, (api.error, api.content_events, direct)

    assert ok(dep.play(open_webui_stream_chunk_size=8))["changed"] >= 1
    webui = WebUI(url)
    expect_events(webui.socket_chat(model), direct, 8, exact=False)

    assert ok(dep.play(open_webui_stream_chunk_size=1))["changed"] >= 1
    webui = WebUI(url)
    expect_events(webui.socket_chat(model), direct, 1, exact=False)

    assert ok(dep.play())["changed"] == 0
    assert keyfile.read_text() == key_before
    assert webui.chat_title(chat_id) == "kept across reruns"

    def container_state() -> str:
        return subprocess.run(
            ["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    bad_value_fails(dep, "open_webui_stream_chunk_size", 0, container_state)
    bad_value_fails(dep, "open_webui_install_mode", "podman", container_state)
    # the chat list survives the recreated container too (the data volume is kept)
    info = json.loads(
        subprocess.run(
            ["docker", "volume", "inspect", f"{name}-data"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert info and info[0]["Name"] == f"{name}-data"
