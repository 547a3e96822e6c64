"""The collection's host-side modules without a host: releases (rollback copies), the health wait that sees a crash
in seconds, and the listener allow-list. States and /proc text below are what systemd and the kernel produce."""

from __future__ import annotations

import os
import stat

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import health_identity, listeners
from ansible_collections.qwen3.deploy.plugins.modules import release, service_health

# --- release -----------------------------------------------------------------------------------------------------

@pytest.fixture
def live(tmp_path):
    unit, env = tmp_path / "etc" / "x.service", tmp_path / "etc" / "x.env"
    unit.parent.mkdir()
    unit.write_text("ExecStart=/bin/true --v1\n")
    env.write_text("KEY='secret'\n")
    env.chmod(0o600)
    return {"name": "x.service", "files": [str(unit), str(env)], "state_dir": str(tmp_path / "releases")}


def run(params, state, check=False):
    return release.run({**params, "state": state}, check)


def test_pending_promote_and_restore_put_the_good_files_back(live):
    unit, env = live["files"]
    assert run(live, "status")["has_good"] is False
    assert run(live, "pending")["changed"] and run(live, "promote")["changed"]
    assert run(live, "status") == {"changed": False, "restored": [], "has_good": True, "has_pending": False,
                                   "live_is_good": True}
    assert run(live, "pending")["changed"] is False, "the known good release is not pending again"
    with open(unit, "w") as handle:
        handle.write("ExecStart=/bin/true --broken\n")
    os.remove(env)
    result = run(live, "restore")
    assert result["changed"] and sorted(result["restored"]) == sorted([unit, env])
    assert open(unit).read() == "ExecStart=/bin/true --v1\n"
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600, "a restored secret keeps its mode"
    assert run(live, "restore")["changed"] is False


def test_restore_without_a_good_release_fails(live):
    assert run(live, "restore")["failed"]


def test_adopt_only_when_nothing_is_kept_and_discard_forgets_pending(live):
    assert run(live, "pending")["changed"]
    assert run(live, "adopt")["changed"] is False, "our own unverified release is never adopted as good"
    assert run(live, "discard")["changed"] and run(live, "status")["has_pending"] is False
    assert run(live, "adopt")["changed"] and run(live, "status")["has_good"]


def test_check_mode_changes_nothing(live):
    assert run(live, "pending", check=True)["changed"]
    assert not os.path.exists(live["state_dir"])


def test_a_file_absent_in_the_good_release_is_removed_on_restore(live, tmp_path):
    extra = str(tmp_path / "etc" / "dropin.conf")
    params = {**live, "files": live["files"] + [extra]}
    run(params, "pending")
    run(params, "promote")
    with open(extra, "w") as handle:
        handle.write("[Service]\nEnvironment=X=1\n")
    assert extra in run(params, "restore")["restored"] and not os.path.exists(extra)


# --- service_health ----------------------------------------------------------------------------------------------
def test_the_journal_excerpt_is_the_failed_start_alone_with_the_reason_first():
    """The excerpt is the journal of the new release's first invocation (by its InvocationID), so the previous
    process's shutdown noise is not in it; the lines that say why come first. Test double for subprocess.run."""
    calls = []

    class Done:
        stdout = ("INFO starting\n" + "".join(f"INFO loading {i}\n" for i in range(80))
                  + "usage: vllm serve [-h]\nvllm: error: unrecognized arguments: --x\n")

    def fake_run(argv, **_):
        calls.append(argv)
        return Done()

    lines = service_health.journal("qwen3-vllm.service", 1000.0, 40, run=fake_run, invocation="abc123")
    assert calls[0][-1] == "_SYSTEMD_INVOCATION_ID=abc123" and "--since" not in calls[0]
    assert lines[0] == "vllm: error: unrecognized arguments: --x" and len(lines) == 40
    assert lines[-1] == "usage: vllm serve [-h]" and lines[1] == "..."


def test_without_an_invocation_the_excerpt_is_the_tail_since_the_wait_began():
    """journalctl gets no --lines (with --since it gave the first lines: the old process's shutdown)."""
    calls = []

    class Done:
        stdout = "".join(f"old shutdown {i}\n" for i in range(80)) + "last line\n"

    def fake_run(argv, **_):
        calls.append(argv)
        return Done()

    lines = service_health.journal("qwen3-vllm.service", 1000.0, 40, run=fake_run)
    assert "--lines" not in calls[0] and "--since" in calls[0]
    assert len(lines) == 40 and lines[-1] == "last line"


def test_a_nanobind_flood_does_not_push_the_reason_out():
    flood = [f"nanobind: leaked {i} instances of type X" for i in range(500)]
    lines = health_identity.why_first(["vllm: error: unrecognized arguments: --no-such-flag", *flood], 40)
    assert lines[0] == "vllm: error: unrecognized arguments: --no-such-flag" and len(lines) <= 40


def states(*sequence):
    """systemctl show values, one dict per poll (the last repeats)."""
    items = [dict({"ActiveState": "activating", "SubState": "start", "MainPID": 0, "NRestarts": 0,
                   "ExecMainStatus": 0, "Result": "success"}, **step) for step in sequence]

    def state_of(_unit):
        return items.pop(0) if len(items) > 1 else items[0]

    return state_of


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def wait(state_of, status_of, timeout=600, **checks):
    clock = Clock()
    return service_health.wait("u.service", "http://x/health", timeout, 200, clock=clock, sleep=clock.sleep,
                               state_of=state_of, status_of=status_of, **checks)


def test_healthy_when_active_and_answering():
    result = wait(states({"ActiveState": "active", "SubState": "running", "MainPID": 10}), lambda url: 200)
    assert result["healthy"] and result["reason"] == "healthy"


def test_a_crash_ends_the_wait_at_once():
    """vLLM with an unknown flag exits 2; under Restart=on-failure systemd shows auto-restart: caught at the poll."""
    seq = states({"ActiveState": "activating", "MainPID": 10}, {"MainPID": 10},
                 {"ActiveState": "activating", "SubState": "auto-restart", "MainPID": 0, "ExecMainStatus": 2})
    result = wait(seq, lambda url: None)
    assert not result["healthy"] and result["reason"] == "crashed"
    assert "status 2" in result["detail"] and result["elapsed"] <= 3


def test_a_restart_between_polls_is_seen_by_its_counter_or_pid():
    seq = states({"ActiveState": "active", "MainPID": 10}, {"ActiveState": "active", "MainPID": 11, "NRestarts": 1})
    result = wait(seq, lambda url: None)
    assert result["reason"] == "crashed" and "restarted automatically" in result["detail"]
    seq = states({"ActiveState": "active", "MainPID": 10}, {"ActiveState": "active", "MainPID": 12})
    assert "main process changed" in wait(seq, lambda url: None)["detail"]


def test_a_slow_start_waits_until_the_timeout():
    result = wait(states({"ActiveState": "active", "SubState": "running", "MainPID": 10}), lambda url: None, timeout=5)
    assert result["reason"] == "timeout" and result["elapsed"] >= 5


DECOY = {"proto": "tcp", "address": "127.0.0.1", "port": 8000, "pid": 77, "process": "python3",
         "unit": "qwen3-test-decoy.service"}


def test_a_decoy_on_the_port_fails_the_wait_within_two_polls_naming_it():
    """Something else answers /health on the unit's port: the listening socket is not in the unit's cgroup."""
    running = states({"ActiveState": "active", "SubState": "running", "MainPID": 10})
    polls = []

    def holder_of():
        polls.append(1)
        entry = health_identity.port_holder([DECOY], 8000, "127.0.0.1", "u.service")
        return health_identity.describe_holder(entry, 8000, "u.service") if entry else None

    result = wait(running, lambda url: 200, holder_of=holder_of)
    assert not result["healthy"] and result["reason"] == "port_taken" and len(polls) == 2
    assert "port 8000 is held by python3 (pid 77, unit qwen3-test-decoy.service)" in result["detail"]


def test_the_units_own_socket_and_other_addresses_are_not_a_decoy():
    ours = {**DECOY, "unit": "u.service"}
    assert health_identity.port_holder([ours], 8000, "127.0.0.1", "u.service") is None
    hidden = {**DECOY, "pid": None, "process": "", "unit": "", "uid": 998}  # no CAP_SYS_PTRACE: matched by uid
    assert health_identity.port_holder([hidden], 8000, "127.0.0.1", "u.service", unit_uid=998) is None
    other_user = health_identity.port_holder([{**hidden, "uid": 997}], 8000, "127.0.0.1", "u.service", unit_uid=998)
    assert "could not be inspected" in health_identity.describe_holder(other_user, 8000, "u.service")
    assert health_identity.port_holder([{**DECOY, "address": "10.1.2.3"}], 8000, "127.0.0.1", "u.service") is None
    assert health_identity.port_holder([{**DECOY, "address": "::"}], 8000, "127.0.0.1", "u.service")


def test_a_wrong_identity_fails_the_wait_and_a_right_one_passes():
    running = states({"ActiveState": "active", "SubState": "running", "MainPID": 10})
    models = '{"object":"list","data":[{"id":"qwen3-demo","object":"model"}]}'
    right = health_identity.identity_problem(models, "id", "qwen3-demo", "http://x/v1/models")
    assert right is None and wait(running, lambda url: 200, identity_of=lambda: right)["healthy"]
    wrong = health_identity.identity_problem('{"status": true}', "id", "qwen3-demo", "http://x/v1/models")
    result = wait(running, lambda url: 200, identity_of=lambda: wrong)
    assert result["reason"] == "wrong_service" and "no id 'qwen3-demo'" in result["detail"]


# --- listeners ---------------------------------------------------------------------------------------------------

# /proc/net/tcp and tcp6 lines as the kernel writes them (net/ipv4/tcp_ipv4.c get_tcp4_sock): 0A = LISTEN.
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 111 1 0 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0 100 0 0 10 0
   2: 0200A8C0:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 333 1 0 100 0 0 10 0
   3: 0100007F:9C41 0100007F:1F40 01 00000000:00000000 00:00000000 00000000   999        0 444 1 0 100 0 0 10 0
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 666 1 0 100 0 0 10 0
"""


def test_proc_net_parsing_keeps_listeners_with_their_addresses():
    rows = listeners.parse_proc_net(TCP, "tcp") + listeners.parse_proc_net(TCP6, "tcp6")
    got = {(r["address"], r["port"]) for r in rows}
    assert got == {("127.0.0.1", 8000), ("0.0.0.0", 22), ("192.168.0.2", 40000), ("::", 22), ("::1", 8080)}


def test_violations_are_the_reachable_sockets_no_rule_allows():
    rows = listeners.parse_proc_net(TCP, "tcp") + listeners.parse_proc_net(TCP6, "tcp6")
    for row in rows:
        row["unit"] = "ssh.service" if row["port"] == 22 else "qwen3-vllm.service"
    bad = listeners.violations(rows, [{"unit": "ssh.service"}])
    assert [(b["address"], b["port"]) for b in bad] == [("192.168.0.2", 40000)]
    assert listeners.violations(rows, [{"unit": "ssh.service"}, {"address": "192.168.0.2", "port": 40000}]) == []
    wildcard = [{"proto": "tcp", "address": "::", "port": 8000, "unit": "x"}]
    assert listeners.violations(wildcard, [{"address": "0.0.0.0", "port": 8000, "proto": "tcp"}]) == []
    assert "tcp [::]:8000 (x" in listeners.describe(wildcard[0])


def test_sockets_systemd_holds_are_named_by_their_socket_unit():
    """Socket activation (Debian's ssh.socket): PID 1 holds the listener; systemctl list-sockets names the unit."""
    text = ("[::]:22                      ssh.socket                      ssh.service\n"
            "/run/initctl                 systemd-initctl.socket          systemd-initctl.service\n")
    assert listeners.socket_units(text) == {"[::]:22": "ssh.socket"}
