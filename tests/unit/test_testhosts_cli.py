"""scripts/testhosts: argument validation, clash detection, inventory and recap parsing (no docker)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from support import testhosts as th

REPO = Path(__file__).resolve().parents[2]
REF = th.image_ref()


class FakeDocker:
    """Test double for ``th.Docker``: serves canned containers and records every call."""

    def __init__(self, containers=None):
        self.containers = {c.name: c for c in containers or []}
        self.calls: list[tuple] = []

    def available(self):
        return True

    def require(self):
        self.calls.append(("require",))

    def image_exists(self, ref):
        self.calls.append(("image_exists", ref))
        return True

    def inspect(self, name):
        self.calls.append(("inspect", name))
        return self.containers.get(name)

    def ours(self):
        self.calls.append(("ours",))
        return [c for c in self.containers.values() if c.ours]

    def run(self, *args, **kwargs):
        self.calls.append(("run", *args))
        raise AssertionError(f"FakeDocker: unexpected mutating call docker {' '.join(args)}")

    def exec(self, name, *argv, timeout=30):
        raise AssertionError("FakeDocker: unexpected exec")

    @property
    def mutating_calls(self):
        return [c for c in self.calls if c[0] == "run"]


@pytest.fixture(autouse=True)
def _no_state_on_disk(monkeypatch, tmp_path):
    """Locks go to tmp_path and no key pair is generated: unit tests leave .testhosts/ alone."""
    monkeypatch.setattr(th, "STATE_DIR", tmp_path)
    monkeypatch.setattr(th, "ensure_ssh_key", lambda: tmp_path / "id_double")


def fake_container(name, ours=True, image=REF, port=40000, running=True):
    labels = {th.LABEL: "1", th.LABEL_IMAGE: image, th.LABEL_SSH_PORT: str(port)} if ours else {}
    return th.Container(name=name, id="f" * 64, running=running, status="running", image=image, labels=labels)


def run_main(argv, docker=None):
    docker = docker or FakeDocker()
    return th.main(argv, docker=docker), docker


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "--prefix", "th-u", "--count", "0"],
        ["create", "--prefix", "th-u", "--count", "-1"],
        ["create", "--prefix", "th-u", "--count", str(th.MAX_COUNT + 1)],
        ["create", "--prefix", "th-u"],
        ["create", "--count", "2"],
        ["create"],
        ["create", "th-u-1", "--prefix", "th-u", "--count", "1"],
        ["create", "Bad_Name"],
        ["create", "-- -x"],
        ["create", "th-u-"],
        ["create", "a.b"],
        ["create", "a" * 64],
        ["create", "th-u-1", "th-u-1"],
        ["create", "--prefix", "TH", "--count", "1"],
        ["create", "th-u-1", "th-u-2", "--ssh-port", "2222"],
        ["create", "th-u-1", "--ssh-port", "0"],
        ["create", "th-u-1", "--ssh-port", "70000"],
        ["create", "th-u-1", "--timeout", "0"],
        ["destroy"],
        ["destroy", "th-u-1", "--all"],
        ["destroy", "--prefix", "th-u", "--all"],
        ["destroy", "bad name"],
        ["inventory"],
        ["inventory", "--prefix", "th_u"],
        ["inventory", "--prefix", "th-u", "--group", "bad-group"],
        ["wait"],
        ["wait", "th-u-1", "--timeout", "-5"],
        ["list", "th-u-1", "--prefix", "th-u"],
    ],
)
def test_bad_input_exits_2_and_touches_nothing(argv, capsys):
    rc, docker = run_main(argv)
    assert rc == 2
    assert "error:" in capsys.readouterr().err
    assert docker.calls == []


@pytest.mark.parametrize(
    "argv",
    [["bogus"], [], ["create", "--count", "x", "--prefix", "p"], ["destroy", "--nope"]],
)
def test_argparse_errors_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        th.main(argv, docker=FakeDocker())
    assert exc.value.code == 2


def test_entry_point_unknown_command_exits_2():
    proc = subprocess.run(
        [str(REPO / "scripts" / "testhosts"), "frobnicate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "invalid choice: 'frobnicate'" in proc.stderr


def test_prefix_expands_to_numbered_names():
    args = th.parse_args(["create", "--prefix", "th-u", "--count", "3"])
    assert args.names == ["th-u-1", "th-u-2", "th-u-3"]


def test_demo_host_command_parses():
    args = th.parse_args(["create", "qwen3-demo-1", "--ssh-port", "2222"])
    assert (args.names, args.ssh_port) == (["qwen3-demo-1"], 2222)


def test_clash_with_foreign_container_changes_nothing(capsys):
    docker = FakeDocker([fake_container("th-u-2", ours=False)])
    rc, _ = run_main(["create", "th-u-1", "th-u-2"], docker)
    assert rc == 2
    assert "not made by scripts/testhosts" in capsys.readouterr().err
    assert docker.mutating_calls == []


def test_clash_with_host_from_other_image_changes_nothing(capsys):
    docker = FakeDocker([fake_container("th-u-1", image=f"{th.IMAGE_REPO}:000000000000")])
    rc, _ = run_main(["create", "--prefix", "th-u", "--count", "2"], docker)
    assert rc == 2
    assert "destroy it first" in capsys.readouterr().err
    assert docker.mutating_calls == []


def test_existing_host_with_other_ssh_port_is_refused(capsys):
    docker = FakeDocker([fake_container("qwen3-demo-1", port=40000)])
    rc, _ = run_main(["create", "qwen3-demo-1", "--ssh-port", "2222"], docker)
    assert rc == 2
    assert "SSH port 40000, not 2222" in capsys.readouterr().err
    assert docker.mutating_calls == []


def test_destroy_refuses_foreign_container(capsys):
    docker = FakeDocker([fake_container("th-u-1"), fake_container("someone-else", ours=False)])
    rc, _ = run_main(["destroy", "th-u-1", "someone-else"], docker)
    assert rc == 2
    assert "refusing" in capsys.readouterr().err
    assert docker.mutating_calls == []


def test_destroy_missing_host_is_a_noop(capsys):
    rc, docker = run_main(["destroy", "th-u-9"])
    assert rc == 0
    assert "does not exist" in capsys.readouterr().out
    assert docker.mutating_calls == []


def test_prefix_matching_is_exact():
    assert th.matches_prefix("th-u-1", "th-u")
    assert th.matches_prefix("th-u-12", "th-u")
    assert not th.matches_prefix("th-u-x-1", "th-u")
    assert not th.matches_prefix("th-ux-1", "th-u")
    assert not th.matches_prefix("th-u", "th-u")


def test_inventory_is_valid_yaml_with_connection_vars(capsys):
    docker = FakeDocker([fake_container("th-u-1", port=40001), fake_container("th-u-2", port=40002)])
    rc, _ = run_main(["inventory", "--prefix", "th-u", "--group", "llm_servers"], docker)
    assert rc == 0
    data = yaml.safe_load(capsys.readouterr().out)
    hosts = data["all"]["children"]["llm_servers"]["hosts"]
    assert list(hosts) == ["th-u-1", "th-u-2"]
    assert hosts["th-u-2"]["ansible_port"] == 40002
    assert hosts["th-u-1"]["ansible_host"] == "127.0.0.1"
    assert hosts["th-u-1"]["ansible_user"] == "root"
    assert hosts["th-u-1"]["ansible_ssh_private_key_file"].endswith(".testhosts/ssh/id_ed25519")


def test_inventory_without_group_uses_all_hosts():
    data = yaml.safe_load(th.render_inventory([fake_container("qwen3-demo-1", port=2222)]))
    assert data["all"]["hosts"]["qwen3-demo-1"]["ansible_port"] == 2222


def test_inventory_for_unknown_prefix_fails(capsys):
    rc, _ = run_main(["inventory", "--prefix", "th-none"])
    assert rc == 1
    assert "no test hosts match" in capsys.readouterr().err


def test_hosts_sort_naturally():
    assert sorted(["h-10", "h-2", "h-1"], key=th.natural_key) == ["h-1", "h-2", "h-10"]


def test_recipe_hash_is_stable_and_tracks_the_recipe(monkeypatch):
    first = th.recipe_hash()
    assert first == th.recipe_hash()
    assert len(first) == 12
    assert th.image_ref() == f"{th.IMAGE_REPO}:{first}"
    monkeypatch.setattr(th, "PACKAGES", (*th.PACKAGES, "vim-tiny"))
    assert th.recipe_hash() != first


def test_run_flags_are_the_verified_ones():
    flags = " ".join(th.SYSTEMD_RUN_FLAGS)
    assert "--privileged" not in flags
    assert flags == (
        "--cap-add SYS_ADMIN --security-opt seccomp=unconfined -v /sys/fs/cgroup:/sys/fs/cgroup:rw "
        "--tmpfs /run --tmpfs /run/lock --shm-size 1g"
    )


RECAP_SAMPLE = """
PLAY [all] *********************************************************************

TASK [ping] ********************************************************************
ok: [th-u-1]
changed: [th-u-2]

PLAY RECAP *********************************************************************
th-u-1                     : ok=3    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0
th-u-2                     : ok=2    changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0

"""


def test_parse_play_recap():
    recap = th.parse_play_recap(RECAP_SAMPLE)
    assert recap["th-u-1"] == {
        "ok": 3,
        "changed": 0,
        "unreachable": 0,
        "failed": 0,
        "skipped": 1,
        "rescued": 0,
        "ignored": 0,
    }
    assert recap["th-u-2"]["changed"] == 1
    result = th.PlaybookResult(rc=2, stdout=RECAP_SAMPLE, stderr="", recap=recap, argv=[])
    assert result.changed() == 1
    assert result.changed("th-u-1") == 0
    assert result.failed() == 1


def test_parse_play_recap_takes_the_last_recap_and_strips_color():
    twice = RECAP_SAMPLE + "\x1b[0;33mPLAY RECAP\x1b[0m ***\n\x1b[0;32mth-u-1\x1b[0m : ok=1 changed=0 failed=0\n"
    assert th.parse_play_recap(twice) == {"th-u-1": {"ok": 1, "changed": 0, "failed": 0}}


def test_parse_play_recap_without_recap_is_empty():
    assert th.parse_play_recap("ERROR! the playbook could not be found") == {}
