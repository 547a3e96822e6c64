"""Role verify / playbooks/verify.yml for real, on a booted test host (prefix ``vf``).

The engine is FakeStreamServer (a test double from tests/fixtures/streams/fake_server.py) run as a
transient unit on the host's 127.0.0.1:8000: OpenAI-style SSE, empty role chunk, 16 one-token
chunks, first token after 20 ms, 5 ms apart, usage and [DONE]. The play installs the tool's venv on
the host (pip through host_base's /etc/pip.conf), measures there, and renders the reports here.

Proved: a run within the cpu-demo thresholds passes and leaves measured.json, results.json,
summary.md, junit.xml and latency.png under reports/<run id>/<host>/; a missed threshold fails the
host with the table (metric, measured, limit); a stopped engine fails with "engine (vLLM) not
reachable at http://127.0.0.1:8000" and no traceback; check mode passes without measuring.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOUBLE_SRC = REPO / "tests" / "fixtures" / "streams" / "fake_server.py"
HOST = "vf-1"

PREP = """
- name: Test host plumbing and the engine stand-in (FakeStreamServer test double)
  hosts: llm_servers
  become: true
  roles:
    - role: host_base
  tasks:
    - name: Directory of the double
      ansible.builtin.file:
        path: /opt/vf-double
        state: directory
        mode: "0755"
    - name: Copy the double
      ansible.builtin.copy:
        src: {src}
        dest: /opt/vf-double/fake_server.py
        mode: "0644"
    - name: Launcher of the double
      ansible.builtin.copy:
        dest: /opt/vf-double/run.py
        mode: "0644"
        content: |
          import sys
          sys.path.insert(0, "/opt/vf-double")
          from fake_server import FakeScript, FakeStreamServer
          srv = FakeStreamServer(FakeScript(ttft_s=0.02, itl_s=0.005, tokens=16), port=8000)
          srv.httpd.serve_forever()
"""


def start_double(host):
    host.exec("systemctl", "stop", "vf-fake-vllm.service")
    proc = host.exec("systemd-run", "--unit", "vf-fake-vllm", "/usr/bin/python3", "/opt/vf-double/run.py")
    assert proc.returncode == 0, proc.stderr
    for _ in range(50):
        if host.exec("python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health')"
                     ).returncode == 0:
            return
        host.exec("sleep", "0.2")
    raise AssertionError("double did not start")


@pytest.fixture(scope="module")
def site(testhosts, run_playbook, tmp_path_factory):
    group = testhosts("vf", 1, group="llm_servers")
    work = tmp_path_factory.mktemp("vf")
    prep = work / "prep.yml"
    prep.write_text(PREP.format(src=DOUBLE_SRC))
    base = {
        "llm_profile": "cpu-demo",
        "vllm_service_api_key": "vf-key",
        "open_webui_enabled": False,
        "host_base_ca_certificates": sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("*.crt")),
        "verify_report_dir": str(work / "reports"),
        "verify_requests": 6,
        "verify_warmup": 1,
        "verify_max_tokens": 16,
        "verify_time_limit": 120,
    }
    res = run_playbook(prep, group.inventory, base, timeout=900)
    assert res.rc == 0, res.stdout[-3000:]
    start_double(group.hosts[0])

    def play(run_id, args=(), **extra):
        return run_playbook("playbooks/verify.yml", group.inventory, {**base, "verify_run_id": run_id, **extra},
                            args=args, timeout=900)

    return group, work, play


def test_pass_writes_reports(site):
    _group, work, play = site
    res = play("pass")
    assert res.rc == 0, res.stdout[-4000:]
    out = work / "reports" / "pass" / HOST
    for name in ("measured.json", "results.json", "summary.md", "junit.xml", "latency.png"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "results.json").read_text())
    t = doc["summary"]["targets"]["vllm"]
    assert t["ok"] == 6 and t["errors"] == {}
    assert 20 <= t["stats"]["ttft_ms"]["p50"] < 500  # the double waits 20 ms before the first token
    assert t["stats"]["output_tokens"]["p50"] == 16
    assert doc["failures"] == []
    assert doc["thresholds"]["ttft_p95_ms"] == 500  # from the cpu-demo profile
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.get("failures") == "0"


def test_missed_threshold_fails_with_table(site):
    _group, work, play = site
    res = play("strict", verify_thresholds={"ttft_p95_ms": 1, "min_decode_tokens_per_s": 100000})
    assert res.rc != 0
    assert res.failed(HOST) == 1, res.stdout[-3000:]
    text = res.stdout
    assert "metric" in text and "measured" in text and "limit" in text
    assert "ttft_p95_ms" in text and "min_decode_tokens_per_s" in text
    assert "Traceback" not in text
    suite = ET.parse(work / "reports" / "strict" / HOST / "junit.xml").getroot()
    assert suite.get("failures") == "2"


def test_engine_down_is_a_clear_failure(site):
    group, _work, play = site
    group.hosts[0].exec("systemctl", "stop", "vf-fake-vllm.service")
    try:
        res = play("down")
    finally:
        start_double(group.hosts[0])
    assert res.rc != 0
    assert "engine (vLLM) not reachable at http://127.0.0.1:8000" in res.stdout, res.stdout[-3000:]
    assert "Traceback" not in res.stdout


def test_check_mode_measures_nothing(site):
    _group, work, play = site
    res = play("check", args=("--check",))
    assert res.rc == 0, res.stdout[-3000:]
    assert not (work / "reports" / "check").exists()
