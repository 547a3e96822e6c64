"""Email receivers through the real Alertmanager (Debian 12's 0.25.0, unpacked by scripts/bootstrap) into a local SMTP
sink on 127.0.0.1: the configuration monitoring_server writes (module_utils/monitoring/alertmanager.config) passes
amtool, an alert arrives as a mail from the configured sender to the configured recipients, signed in with the vault
password (AUTH PLAIN, which Go's client sends only over TLS or to localhost), and Watchdog is not mailed."""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import alertmanager
from support import prometheus_tools

PASSWORD = "relay-secret-1"  # a test value, not a vault
TEMPLATE = "/usr/share/prometheus/alertmanager/default.tmpl"


class _Sink(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for Go's net/smtp client: EHLO offering AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        mail = {"auth": None, "from": None, "to": [], "data": ""}
        self._say("220 sink ESMTP")
        while line := self.rfile.readline().decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-sink")
                self._say("250 AUTH PLAIN")
            elif verb == "AUTH":
                mail["auth"] = base64.b64decode(line.split()[2]).split(b"\0")[1:]
                self._say("235 accepted")
            elif verb == "MAIL":
                mail["from"] = line.split(":", 1)[1].strip("<> ")
                self._say("250 ok")
            elif verb == "RCPT":
                mail["to"].append(line.split(":", 1)[1].strip("<> "))
                self._say("250 ok")
            elif verb == "DATA":
                self._say("354 go on")
                lines = []
                while (body := self.rfile.readline().decode()) not in (".\r\n", ""):
                    lines.append(body)
                mail["data"] = "".join(lines)
                self.server.mails.append(mail)
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 ok")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sink():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    server.mails = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _receivers(sink_port: int) -> list[dict]:
    return [{"name": "ops-mail", "to": "ops@example.com, oncall@example.com", "from": "alertmanager@example.com",
             "smarthost": f"127.0.0.1:{sink_port}", "auth_username": "alertmanager", "require_tls": False}]


def _post(url: str, body: object) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # 127.0.0.1: our own daemon
        assert answer.status == 200


def test_an_alert_reaches_the_email_receiver_through_the_real_alertmanager(tmp_path, sink):
    # Debian's build reads its mail template from this path (scripts/bootstrap puts the package's file there).
    assert Path(TEMPLATE).is_file(), f"{TEMPLATE} missing: run scripts/bootstrap"
    config = alertmanager.config([], group_wait_s=1, repeat_interval="4h", email_receivers=_receivers(sink.server_address[1]),
                                 smtp_password=PASSWORD)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    checked = prometheus_tools.run("amtool", "check-config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    port = _free_port()
    daemon = subprocess.Popen([prometheus_tools.tool("prometheus-alertmanager"), f"--config.file={path}",
                               f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                               "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        api = f"http://127.0.0.1:{port}/api/v2/alerts"
        for _ in range(100):
            try:
                _post(api, [{"labels": {"alertname": "EngineDown", "host": "demo-1", "severity": "critical"}},
                            {"labels": {"alertname": "Watchdog", "severity": "none"}}])
                break
            except OSError:
                time.sleep(0.1)
        deadline = time.monotonic() + 30
        while not sink.mails and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # a Watchdog mail, were it routed there, would have left with the same group_wait
    finally:
        daemon.terminate()
        log = daemon.communicate(timeout=10)[1].decode()
    assert len(sink.mails) == 1, log[-3000:]
    mail = sink.mails[0]
    assert mail["from"] == "alertmanager@example.com"
    assert sorted(mail["to"]) == ["oncall@example.com", "ops@example.com"]
    assert mail["auth"] == [b"alertmanager", PASSWORD.encode()]
    assert "EngineDown" in mail["data"] and "demo-1" in mail["data"]
    assert "Watchdog" not in mail["data"].split("\r\n\r\n", 1)[0]  # the subject names the group's alert only


def test_without_auth_username_nothing_signs_in_and_tls_is_required_by_default():
    receiver = {"name": "ops", "to": "ops@example.com", "from": "am@example.com", "smarthost": "smtp.example.com:25"}
    config = alertmanager.config([{"name": "hook", "url": "http://127.0.0.1:9/h"}], group_wait_s=30,
                                 repeat_interval="4h", email_receivers=[receiver], smtp_password=PASSWORD,
                                 watchdog_receiver="hook")
    email = next(r for r in config["receivers"] if r["name"] == "ops")["email_configs"][0]
    assert email == {"to": "ops@example.com", "from": "am@example.com", "smarthost": "smtp.example.com:25",
                     "require_tls": True, "send_resolved": True}
    assert PASSWORD not in json.dumps(config)
    # Both kinds page for everything but Watchdog; Watchdog goes to its own receiver only.
    routes = config["route"]["routes"]
    assert [(r["receiver"], r["matchers"]) for r in routes] == [
        ("hook", ['alertname="Watchdog"']), ("ops", ['alertname!="Watchdog"'])]


def test_receiver_names_are_distinct_across_webhooks_and_email():
    receiver = {"name": "ops", "to": "ops@example.com", "from": "am@example.com", "smarthost": "smtp.example.com:25"}
    with pytest.raises(alertmanager.MonitoringError, match="distinct"):
        alertmanager.config([{"name": "ops", "url": "http://127.0.0.1:9/h"}], group_wait_s=30, repeat_interval="4h",
                            email_receivers=[receiver])
