"""scripts/testhosts: argument validation, clash detection, inventory and recap parsing, and the docker
SDK calls (against doubles: no dockerd needed)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from docker.errors import APIError, ImageNotFound, NotFound
from support import testhosts as th

REPO = Path(__file__).resolve().parents[2]
REF = th.image_ref()


class FakeDocker:
    """Test double for ``th.Docker``: serves canned containers and records every call.

    Reading methods answer; any other method (start, remove, run_container, import_image, exec, ...)
    is recorded as mutating and fails the test.
    """

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

    def __getattr__(self, method):
        if method.startswith("__"):
            raise AttributeError(method)

        def mutating(*args, **kwargs):
            self.calls.append(("mutate", method, *args))
            raise AssertionError(f"FakeDocker: unexpected call {method}{args}")

        return mutating

    @property
    def mutating_calls(self):
        return [c for c in self.calls if c[0] == "mutate"]


@pytest.fixture(autouse=True)
def _no_state_on_disk(monkeypatch, tmp_path):
    """Locks go to tmp_path and no key pair is generated: unit tests leave .testhosts/ alone."""
    monkeypatch.setattr(th.common, "STATE_DIR", tmp_path)
    monkeypatch.setattr(th.common, "ensure_ssh_key", lambda: tmp_path / "id_double")


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
    monkeypatch.setattr(th.recipe, "PACKAGES", (*th.PACKAGES, "vim-tiny"))
    assert th.recipe_hash() != first
    assert th.image_ref() == f"{th.IMAGE_REPO}:{th.recipe_hash()}"


def test_recipe_hash_is_the_one_of_the_built_images():
    # Images and hosts on the machines carry this tag; a refactor must not change it. Update it only
    # together with a deliberate recipe change (which builds a new image).
    assert th.recipe_hash() == "2bb163193427"


def test_run_flags_are_the_verified_ones():
    flags = " ".join(th.SYSTEMD_RUN_FLAGS)
    assert "--privileged" not in flags
    assert flags == (
        "--cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined -v /sys/fs/cgroup:/sys/fs/cgroup:rw "
        "--tmpfs /run --tmpfs /run/lock --shm-size 1g"
    )


def test_run_flags_translate_to_sdk_arguments():
    assert th.run_flags_to_kwargs(th.SYSTEMD_RUN_FLAGS) == {
        "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
        "security_opt": ["seccomp=unconfined"],
        "volumes": ["/sys/fs/cgroup:/sys/fs/cgroup:rw"],
        "tmpfs": {"/run": "", "/run/lock": ""},
        "shm_size": "1g",
    }
    more = th.run_flags_to_kwargs((*th.SYSTEMD_RUN_FLAGS, "--cap-add", "NET_RAW", "--tmpfs", "/tmp:size=64m"))
    assert more["cap_add"] == ["SYS_ADMIN", "NET_ADMIN", "NET_RAW"]
    assert more["tmpfs"]["/tmp"] == "size=64m"


@pytest.mark.parametrize("flags", [("--privileged",), ("--net", "host"), ("--cap-add",)])
def test_untranslated_run_flags_fail_loudly(flags):
    with pytest.raises(ValueError):
        th.run_flags_to_kwargs(flags)


def test_host_run_arguments(monkeypatch, tmp_path):
    monkeypatch.setattr(th.common, "SSH_KEY", tmp_path / "ssh" / "id_ed25519")
    monkeypatch.setattr(th.hosts, "WHEELHOUSE", tmp_path)  # exists
    monkeypatch.setattr(th.hosts, "PIP_CACHE", tmp_path / "pip")
    kwargs = th.host_run_kwargs("th-u-1", REF, 40001)
    assert kwargs == {
        "name": "th-u-1",
        "hostname": "th-u-1",
        "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
        "security_opt": ["seccomp=unconfined"],
        "tmpfs": {"/run": "", "/run/lock": ""},
        "shm_size": "1g",
        "stop_signal": "SIGRTMIN+3",
        "ports": {"22/tcp": ("127.0.0.1", 40001)},
        "volumes": [
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            f"{tmp_path}/ssh/id_ed25519.pub:/etc/ssh/testhosts_authorized_keys:ro",
            f"{tmp_path}:{tmp_path}:ro",
            f"{tmp_path}/pip:/root/.cache/pip",
        ],
        "labels": {
            th.LABEL: "1",
            th.LABEL_IMAGE: REF,
            th.LABEL_RECIPE: th.recipe_hash(),
            th.LABEL_SSH_PORT: "40001",
        },
    }
    monkeypatch.setattr(th.hosts, "WHEELHOUSE", tmp_path / "absent")
    assert f"{tmp_path}/absent:{tmp_path}/absent:ro" not in th.host_run_kwargs("th-u-1", REF, 40001)["volumes"]


# ---------------------------------------------------------------------------------------------
# th.Docker against a fake docker SDK client
# ---------------------------------------------------------------------------------------------
def inspect_data(container):
    """What ``docker inspect`` returns for a ``th.Container`` (the fields th reads)."""
    return {
        "Name": "/" + container.name,
        "Id": container.id,
        "Config": {"Image": container.image, "Labels": dict(container.labels)},
        "State": {"Running": container.running, "Status": container.status, "Pid": container.pid},
    }


class FakeSdkContainer:
    def __init__(self, client, attrs):
        self.client, self.attrs = client, attrs
        self.name = attrs["Name"].lstrip("/")

    def start(self):
        self.client.calls.append(("start", self.name))
        if self.client.start_errors:
            raise self.client.start_errors.pop(0)
        self.attrs["State"] = {"Running": True, "Status": "running", "Pid": 4242}

    def reload(self):
        pass


class FakeSdkClient:
    """Just enough of ``docker.DockerClient`` (and its ``.api``) for th.Docker; records calls."""

    def __init__(self, containers=(), images=(REF,)):
        self.calls: list[tuple] = []
        self.store = {c.name: c for c in containers}
        self.images_known = set(images)
        self.start_errors: list[Exception] = []
        self.exec_result = (0, b"", b"")
        self.exec_delay = 0.0
        self.timeout = 60
        self.api = self
        self.containers = SimpleNamespace(get=self.get_container, list=self.list_containers, create=self.create)
        self.images = SimpleNamespace(get=self.get_image)

    # api
    def ping(self):
        return True

    def remove_container(self, name, v=False, force=False):
        self.calls.append(("remove", name, v, force))
        if self.store.pop(name, None) is None:
            raise NotFound(f"No such container: {name}")

    def exec_create(self, name, cmd, stdout=True, stderr=True):
        if name not in self.store:
            raise NotFound("404", explanation=f"No such container: {name}")
        return {"Id": "e1"}

    def exec_start(self, exec_id, demux=False):
        time.sleep(self.exec_delay)
        return self.exec_result[1:]

    def exec_inspect(self, exec_id):
        return {"Running": False, "ExitCode": self.exec_result[0]}

    def import_image_from_stream(self, stream, repository=None, tag=None, changes=None):
        data = b"".join(stream)
        self.calls.append(("import", repository, tag, changes, data, self.timeout))
        if data == b"bad":
            return '{"status":"Importing"}\n{"errorDetail":{"message":"boom"},"error":"boom"}\n'
        self.images_known.add(f"{repository}:{tag}")
        return '{"status":"sha256:0123"}\n'

    # containers / images
    def get_image(self, ref):
        if ref not in self.images_known:
            raise ImageNotFound(ref)
        return object()

    def get_container(self, name):
        if name not in self.store:
            raise NotFound(name)
        return FakeSdkContainer(self, inspect_data(self.store[name]))

    def list_containers(self, all=False, filters=None, ignore_removed=False):
        assert (all, filters, ignore_removed) == (True, {"label": f"{th.LABEL}=1"}, True)
        return [FakeSdkContainer(self, inspect_data(c)) for c in self.store.values() if c.ours]

    def create(self, image, command, **kwargs):
        self.calls.append(("create", image, command, kwargs))
        attrs = {
            "Name": "/" + kwargs["name"],
            "Id": "c" * 64,
            "Config": {"Image": image, "Labels": kwargs["labels"]},
            "State": {"Running": False, "Status": "created"},
        }
        return FakeSdkContainer(self, attrs)


def test_create_runs_hosts_with_the_sdk_and_retries_a_taken_port(monkeypatch, tmp_path):
    monkeypatch.setattr(th.hosts, "PIP_CACHE", tmp_path / "pip")
    client = FakeSdkClient()
    client.start_errors = [APIError("500", explanation="Bind for 127.0.0.1:40000 failed: port is already allocated")]
    made = th.create(th.Docker(client=client), ["th-u-1"], wait=False, log=lambda _m: None)
    creates = [c for c in client.calls if c[0] == "create"]
    assert len(creates) == 2
    assert [c[0] for c in client.calls] == ["create", "start", "remove", "create", "start"]
    _, image, command, kwargs = creates[1]
    assert (image, command) == (REF, ["/lib/systemd/systemd"])
    assert kwargs["detach"] is True
    assert kwargs["cap_add"] == ["SYS_ADMIN", "NET_ADMIN"] and kwargs["stop_signal"] == "SIGRTMIN+3"
    assert kwargs["labels"][th.LABEL_SSH_PORT] == str(kwargs["ports"]["22/tcp"][1])
    assert creates[0][3]["ports"] != kwargs["ports"]
    assert made == [None]  # the fake does not keep what it created


def test_run_container_reports_other_start_errors():
    client = FakeSdkClient()
    client.start_errors = [APIError("500", explanation="unable to apply caps")]
    with pytest.raises(th.TesthostError, match="starting container th-u-1 failed: unable to apply caps"):
        th.Docker(client=client).run_container(REF, ["/lib/systemd/systemd"], name="th-u-1", labels={})


def test_remove_ignores_missing_containers():
    client = FakeSdkClient([fake_container("th-u-1")])
    th.Docker(client=client).remove(["th-u-1", "th-u-2"])
    assert client.calls == [("remove", "th-u-1", True, True), ("remove", "th-u-2", True, True)]


def test_inspect_and_image_exists():
    client = FakeSdkClient([fake_container("th-u-1", port=40009), fake_container("other", ours=False)])
    docker = th.Docker(client=client)
    assert docker.inspect("th-u-1").ssh_port == 40009
    assert not docker.inspect("other").ours
    assert docker.inspect("th-u-2") is None
    assert [c.name for c in docker.ours()] == ["th-u-1"]
    assert docker.image_exists(REF)
    assert not docker.image_exists(f"{th.IMAGE_REPO}:000000000000")
    assert docker.available()


def test_exec_is_like_subprocess_run():
    client = FakeSdkClient([fake_container("th-u-1")])
    client.exec_result = (3, b"a\r\nb\n", b"err\n")
    proc = th.Docker(client=client).exec("th-u-1", "sh", "-c", "x")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "a\nb\n", "err\n")
    assert proc.args == ["docker", "exec", "th-u-1", "sh", "-c", "x"]
    missing = th.Docker(client=client).exec("th-u-9", "true")
    assert (missing.returncode, missing.stderr) == (1, "Error response from daemon: No such container: th-u-9\n")
    client.exec_delay = 2
    with pytest.raises(subprocess.TimeoutExpired):
        th.Docker(client=client).exec("th-u-1", "sleep", "9", timeout=0.2)


def test_import_streams_the_tar_with_the_recipe_changes(tmp_path):
    client = FakeSdkClient(images=())
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text("x\n")
    th.import_rootfs(th.Docker(client=client), tmp_path, "tsdk-unit:1")
    (_, repository, tag, changes, data, timeout) = client.calls[0]
    assert (repository, tag) == ("tsdk-unit", "1")
    assert changes == ['CMD ["/lib/systemd/systemd"]', "ENV container=docker", f"LABEL {th.LABEL_RECIPE}={th.recipe_hash()}"]
    assert b"./etc/hostname" in data
    assert timeout == th.dockerapi.IMPORT_TIMEOUT
    assert client.timeout == 60  # restored


def test_import_error_in_the_stream_fails():
    client = FakeSdkClient(images=())
    with pytest.raises(th.TesthostError, match="docker import failed: boom"):
        th.Docker(client=client).import_image([b"b", b"ad"], "tsdk-unit:2", [])


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
