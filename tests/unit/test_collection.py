"""The repository builds into the collection qwen3.deploy (scripts/build-collection): the tarball ships roles,
playbooks, plugins and what the roles read (templates/, hosttools/), never tests; installed from the file into a
fresh directory, a user's playbook calling our roles by full name and ``qwen3.deploy.site`` pass the syntax check
from a directory of the user's; ansible-lint (production profile, galaxy rule) is clean on the staged collection.
The deploy itself: tests/integration/test_collection_fresh_host.py.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from support import collection as coll
from support.paths import REPO

SOURCE = REPO / "collections" / "ansible_collections" / "qwen3" / "deploy"
INVENTORY = "all:\n  children:\n    llm_servers:\n      hosts:\n        gpu-1:\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> coll.Built:
    return coll.build(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def fresh(built, tmp_path_factory) -> Path:
    return coll.install(built.tarball, tmp_path_factory.mktemp("fresh"), cwd=tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def user_dir(tmp_path) -> Path:
    (tmp_path / "play.yml").write_text(coll.USER_PLAYBOOK)
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    return tmp_path


def members(tarball: Path) -> list[str]:
    with tarfile.open(tarball) as archive:
        return [m.name for m in archive.getmembers() if m.isfile()]


def test_the_tarball_ships_roles_playbooks_plugins_and_what_they_read_but_no_tests(built):
    names = set(members(built.tarball))
    galaxy = yaml.safe_load((SOURCE / "galaxy.yml").read_text())
    assert built.tarball.name == f"qwen3-deploy-{galaxy['version']}.tar.gz"
    for role in sorted(p.name for p in (REPO / "roles").iterdir() if p.is_dir()):
        assert {f"roles/{role}/tasks/main.yml", f"roles/{role}/meta/argument_specs.yml"} <= names, role
    for playbook in sorted((REPO / "playbooks").rglob("*.yml")):
        assert playbook.relative_to(REPO).as_posix() in names
    plugins = {p.relative_to(SOURCE).as_posix() for p in (SOURCE / "plugins").rglob("*.py")}
    assert plugins <= names
    assert {"playbooks/site.yml", "templates/systemd_unit.j2", "hosttools/build.py", "hosttools/qwen3_hosttools/__main__.py",
            "meta/runtime.yml", "CHANGELOG.md", "README.md", "MANIFEST.json", "FILES.json"} <= names
    assert [n for n in names if "tests" in n.split("/") or "__pycache__" in n or n.endswith(".pyc")] == []
    with tarfile.open(built.tarball) as archive:
        manifest = json.load(archive.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("qwen3", "deploy", galaxy["version"])
    changelog = (SOURCE / "CHANGELOG.md").read_text()
    assert re.search(r"^## (\S+)", changelog, re.M).group(1) == galaxy["version"], "CHANGELOG.md's newest entry"


def test_tests_added_to_the_staged_collection_stay_out_of_the_tarball(tmp_path):
    """Positive control of galaxy.yml's build_ignore: tests put into the staged directory are not shipped."""
    staged = coll.build(tmp_path / "b", stage_only=True).staged
    for where in ("tests/unit", "roles/verify/tests", "roles/verify/molecule/default"):
        (staged / where).mkdir(parents=True)
        (staged / where / "test_x.yml").write_text("---\n")
    out = tmp_path / "out"
    result = coll.run(["ansible-galaxy", "collection", "build", str(staged), "--output-path", str(out)], cwd=tmp_path,
                      collections=tmp_path / "none")
    assert result.returncode == 0, result.stderr
    shipped = members(next(out.glob("*.tar.gz")))
    assert "roles/verify/tasks/main.yml" in shipped
    assert [n for n in shipped if "test_x" in n] == []


def test_a_users_playbook_and_site_pass_the_syntax_check_from_the_installed_collection(fresh, user_dir):
    user = coll.run(["ansible-playbook", "-i", "hosts.yml", "--syntax-check", "play.yml"], cwd=user_dir, collections=fresh)
    assert user.returncode == 0, user.stdout + user.stderr
    site = coll.run(["ansible-playbook", "-i", "hosts.yml", "--syntax-check", "qwen3.deploy.site"], cwd=user_dir,
                    collections=fresh)
    assert site.returncode == 0, site.stdout + site.stderr
    assert f"playbook: {fresh}/ansible_collections/qwen3/deploy/playbooks/site.yml" in site.stdout
    doc = coll.run(["ansible-doc", "-t", "role", "qwen3.deploy.vllm_service"], cwd=user_dir, collections=fresh)
    assert doc.returncode == 0 and "vllm_service_port" in doc.stdout, doc.stdout + doc.stderr


def test_without_the_installed_collection_the_same_checks_fail(user_dir):
    """Positive control: the checks above find qwen3.deploy in the fresh directory, nowhere else."""
    empty = user_dir / "empty"
    empty.mkdir()
    user = coll.run(["ansible-playbook", "-i", "hosts.yml", "--syntax-check", "play.yml"], cwd=user_dir, collections=empty)
    assert user.returncode != 0 and "qwen3.deploy.llm_profile" in user.stdout + user.stderr
    site = coll.run(["ansible-playbook", "-i", "hosts.yml", "--syntax-check", "qwen3.deploy.site"], cwd=user_dir,
                    collections=empty)
    assert site.returncode != 0


def test_the_staged_collection_is_lint_clean_with_the_galaxy_rule(built):
    result = coll.run(["ansible-lint", "--offline", "--profile", "production", "--nocolor"], cwd=built.staged,
                      collections=built.root, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert "galaxy" not in result.stdout


def test_the_galaxy_rule_runs_on_our_galaxy_yml(tmp_path):
    """Positive control: the same lint of galaxy.yml without a changelog and without a Galaxy category tag fails."""
    shutil.copytree(SOURCE / "meta", tmp_path / "meta")
    galaxy = yaml.safe_load((SOURCE / "galaxy.yml").read_text())
    galaxy["tags"] = ["llm"]
    (tmp_path / "galaxy.yml").write_text("---\n" + yaml.safe_dump(galaxy, sort_keys=False))
    result = coll.run(["ansible-lint", "--offline", "--profile", "production", "--nocolor", "galaxy.yml"], cwd=tmp_path,
                      collections=tmp_path)
    assert result.returncode != 0
    assert "galaxy[no-changelog]" in result.stdout and "galaxy[tags]" in result.stdout, result.stdout


def test_requires_ansible_is_the_ansible_core_line_requirements_txt_installs():
    runtime = yaml.safe_load((SOURCE / "meta" / "runtime.yml").read_text())
    required = SpecifierSet(runtime["requires_ansible"])
    pinned = next(line.split("==")[1].strip() for line in (REPO / "requirements.txt").read_text().splitlines()
                  if line.startswith("ansible=="))
    assert importlib.metadata.version("ansible") == pinned
    core = next(Requirement(r) for r in importlib.metadata.requires("ansible") if Requirement(r).name == "ansible-core")
    floor = min(Version(s.version) for s in core.specifier if s.operator in (">=", "~=", "=="))
    installed = Version(importlib.metadata.version("ansible-core"))
    assert installed in required
    assert min(Version(s.version) for s in required if s.operator == ">=").release[:2] == floor.release[:2], (
        f"requires_ansible {required} vs ansible {pinned}'s {core}")


def test_the_readmes_show_the_playbook_the_tests_run():
    for readme in (REPO / "README.md", SOURCE / "README.md"):
        assert coll.USER_PLAYBOOK in readme.read_text(), f"{readme} does not show tests/support/collection.py's playbook"
