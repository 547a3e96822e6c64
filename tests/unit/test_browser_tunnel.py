"""The controller-side SSH tunnel of the browser probe (module_utils/browser_tunnel.py): the ssh command it runs
(the host's own connection settings, no connection sharing) and its life cycle, with a stand-in for ssh that
forwards like ``ssh -N -L`` does (a test double: no SSH server is involved)."""

from __future__ import annotations

import socket
import stat
import sys
import threading

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_tunnel as bt

FAKE_SSH = r'''#!PYTHON
import socket, sys, threading
args = sys.argv[1:]
forwards = [args[i + 1] for i, a in enumerate(args) if a == "-L"]
if "fail-host" in args:
    sys.stderr.write("ssh: connect to host fail-host port 22: Connection refused\n")
    sys.exit(255)
def pipe(a, b):
    try:
        while (data := a.recv(65536)):
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)  # half-close as ssh forwards EOF; close() would not wake the other pipe
        except OSError:
            pass
def serve(spec):
    _, lport, rhost, rport = spec.rsplit(":", 3)
    srv = socket.socket()
    srv.bind(("127.0.0.1", int(lport)))
    srv.listen()
    while True:
        c, _ = srv.accept()
        u = socket.create_connection((rhost.strip("[]"), int(rport)))
        threading.Thread(target=pipe, args=(c, u), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
for spec in forwards:
    threading.Thread(target=serve, args=(spec,), daemon=True).start()
threading.Event().wait(60)
'''


@pytest.fixture()
def fake_ssh(tmp_path):
    path = tmp_path / "ssh"
    path.write_text(FAKE_SSH.replace("PYTHON", sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture()
def echo_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def answer(c):
        with c:
            c.sendall(c.recv(100).upper())

    def serve():
        # One thread per connection: the tunnel's readiness probe opens a connection too, and a server that waits
        # on it would leave the real one unanswered.
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def test_argv_uses_the_hosts_connection_settings_without_connection_sharing():
    target = bt.SshTarget(host="10.0.0.5", port=2222, user="root", private_key_file="/k/id",
                          ssh_args=bt.split_args("-o ControlMaster=auto -o ControlPersist=60s",
                                                 "-o StrictHostKeyChecking=no", None))
    argv = target.argv([(5000, "127.0.0.1", 8080), (5001, "::1", 8000)])
    assert argv[:2] == ["ssh", "-N"] and argv[-1] == "10.0.0.5"
    assert "ControlMaster=auto" not in argv and "ControlPersist=60s" not in argv
    for pair in (["-o", "ControlPath=none"], ["-o", "ExitOnForwardFailure=yes"], ["-o", "StrictHostKeyChecking=no"],
                 ["-p", "2222"], ["-l", "root"], ["-i", "/k/id"], ["-L", "127.0.0.1:5000:127.0.0.1:8080"],
                 ["-L", "127.0.0.1:5001:[::1]:8000"]):
        assert any(argv[i : i + 2] == pair for i in range(len(argv) - 1)), pair


def test_the_tunnel_forwards_and_closes(fake_ssh, echo_server):
    target = bt.SshTarget(host="testhost", ssh_executable=fake_ssh)
    with bt.Tunnel(target, [("127.0.0.1", echo_server)], timeout_s=10) as tunnel:
        with socket.create_connection(("127.0.0.1", tunnel.local[0]), timeout=5) as conn:
            conn.sendall(b"hello")
            assert conn.recv(100) == b"HELLO"
        proc = tunnel.proc
    assert proc.poll() is not None


def test_a_tunnel_that_cannot_start_says_why(fake_ssh):
    target = bt.SshTarget(host="fail-host", ssh_executable=fake_ssh)
    with pytest.raises(RuntimeError, match="Connection refused"):
        bt.Tunnel(target, [("127.0.0.1", 1)], timeout_s=10).__enter__()
