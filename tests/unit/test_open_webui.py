"""Role open_webui without hosts: its inputs (as the preflight validates them), the environment it
computes for each engine, the rendered env file, and the documentation of every variable.

The playbooks run on localhost with a local connection and change nothing outside a temp dir.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "open_webui"
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"

# What the preflight does for every role: validate the spec, then the role's own checks.
VALIDATE_PLAY = """
- name: Validate open_webui inputs like the preflight
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: llm_profile
  tasks:
    - name: Validate the argument spec
      ansible.builtin.validate_argument_spec:
        argument_spec: "{{{{ (lookup('file', '{spec}') | from_yaml).argument_specs.main.options }}}}"
    - name: The role's own checks
      ansible.builtin.include_role:
        name: open_webui
        tasks_from: validate
"""

RENDER_PLAY = """
- name: Render what the role computes
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: llm_profile
  tasks:
    - name: Load the role's variables
      ansible.builtin.include_vars:
        file: "{{{{ item }}}}"
      loop: ["{role}/defaults/main.yml", "{role}/vars/main.yml"]
    - name: Write the environment and the unit dict
      ansible.builtin.copy:
        content: "{{{{ {{'env': __open_webui_env, 'unit': __open_webui_unit, 'url': __open_webui_url}} | to_json }}}}"
        dest: "{out}/computed.json"
        mode: "0600"
      vars:
        __open_webui_secret_key: secret-from-test
    - name: Render the env file
      ansible.builtin.template:
        src: "{role}/templates/open-webui.env.j2"
        dest: "{out}/open-webui.env"
        mode: "0600"
      vars:
        __open_webui_secret_key: secret-from-test
        __open_webui_env_out: "{{{{ __open_webui_env }}}}"
"""

BASE_VARS = {
    "llm_profile": "cpu-demo",
    "open_webui_admin_email": "admin@example.invalid",
    "open_webui_admin_password": "pw",
    "vllm_service_api_key": "vllm-key",
    "ansible_python_interpreter": str(REPO / ".venv" / "bin" / "python"),
}


def play(tmp_path: Path, text: str, extra: dict) -> subprocess.CompletedProcess:
    book = tmp_path / "play.yml"
    book.write_text(text)
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text(yaml.safe_dump({**BASE_VARS, **extra}))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_FILTER_PLUGINS": str(REPO / "plugins" / "filter"),
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(book), "-e", f"@{vars_file}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def validate(tmp_path: Path, **extra) -> subprocess.CompletedProcess:
    return play(tmp_path, VALIDATE_PLAY.format(spec=ROLE / "meta" / "argument_specs.yml"), extra)


def render(tmp_path: Path, **extra) -> tuple[dict, str]:
    proc = play(tmp_path, RENDER_PLAY.format(role=ROLE, out=tmp_path), extra)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads((tmp_path / "computed.json").read_text()), (tmp_path / "open-webui.env").read_text()


@pytest.mark.parametrize("chunk", [1, 8, "8", 64])
def test_good_chunk_sizes_pass(tmp_path, chunk):
    proc = validate(tmp_path, open_webui_stream_chunk_size=chunk)
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize("chunk", [0, -1, "abc", 1.5, True, "", "2x"])
def test_bad_chunk_sizes_fail_naming_the_variable(tmp_path, chunk):
    proc = validate(tmp_path, open_webui_stream_chunk_size=chunk)
    assert proc.returncode != 0
    assert "open_webui_stream_chunk_size" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("open_webui_install_mode", "podman"),
        ("open_webui_port", 0),
        ("open_webui_port", "http"),
        ("open_webui_enable_signup", "maybe"),
        ("open_webui_admin_password", ""),
        ("open_webui_secret_key", "x" * 44),
    ],
)
def test_bad_values_fail_naming_the_variable(tmp_path, variable, value):
    proc = validate(tmp_path, **{variable: value})
    assert proc.returncode != 0
    assert variable in proc.stdout + proc.stderr


def test_vllm_profile_wires_the_openai_api(tmp_path):
    computed, env_file = render(tmp_path)
    env = computed["env"]
    assert env["ENABLE_OPENAI_API"] == "true"
    assert env["OPENAI_API_BASE_URLS"] == "http://127.0.0.1:8000/v1"
    assert env["OPENAI_API_KEYS"] == "vllm-key"
    assert env["ENABLE_OLLAMA_API"] == "false"
    assert "OLLAMA_BASE_URLS" not in env
    # streaming and the settings that keep the first token fast
    assert env["CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE"] == "1"
    assert env["DEFAULT_MODEL_PARAMS"] == "{}"
    assert json.loads(env["DEFAULT_MODEL_METADATA"]) == {"capabilities": {"builtin_tools": False}}
    assert env["ENABLE_PERSISTENT_CONFIG"] == "false"
    for key in ("ENABLE_TITLE_GENERATION", "ENABLE_TAGS_GENERATION", "ENABLE_FOLLOW_UP_GENERATION", "ENABLE_SIGNUP"):
        assert env[key] == "false", key
    assert env["OFFLINE_MODE"] == "true"
    assert env["RAG_EMBEDDING_ENGINE"] == "openai"
    assert env["ENABLE_VERSION_UPDATE_CHECK"] == "false"
    assert env["WEBUI_SECRET_KEY"] == "secret-from-test"
    assert env["DATA_DIR"] == "/var/lib/qwen3-deploy/open-webui"
    assert computed["url"] == "http://127.0.0.1:8080"
    service = computed["unit"]["Service"]
    assert service["ExecStart"].split() == [
        "/opt/qwen3-deploy/open-webui/bin/open-webui",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "8080",
    ]
    assert service["EnvironmentFile"] == "/etc/qwen3-deploy/open-webui.env"
    assert service["User"] != "root"
    # the env file: managed header, role fingerprint, quoted values systemd reads back
    lines = env_file.splitlines()
    assert "# Ansible managed" in lines[:4]
    assert "# role: open_webui" in lines[:5]
    assert 'CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE="1"' in lines
    assert 'OPENAI_API_KEYS="vllm-key"' in lines


def test_ollama_profile_wires_ollama_only(tmp_path):
    computed, _ = render(tmp_path, llm_profile="ollama-q4", open_webui_stream_chunk_size=8)
    env = computed["env"]
    assert env["ENABLE_OLLAMA_API"] == "true"
    assert env["OLLAMA_BASE_URLS"] == "http://127.0.0.1:11434"
    assert env["ENABLE_OPENAI_API"] == "false"
    assert "OPENAI_API_KEYS" not in env
    assert env["CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE"] == "8"


def test_background_tasks_and_host_follow_the_inventory(tmp_path):
    computed, _ = render(
        tmp_path,
        open_webui_background_tasks=True,
        open_webui_builtin_tools=True,
        open_webui_host="0.0.0.0",
        open_webui_port=3000,
    )
    assert computed["env"]["ENABLE_TITLE_GENERATION"] == "true"
    assert computed["env"]["DEFAULT_MODEL_METADATA"] == "{}"
    assert computed["url"] == "http://127.0.0.1:3000"
    assert "--host 0.0.0.0 --port 3000" in computed["unit"]["Service"]["ExecStart"]


def test_every_variable_is_commented_specified_and_documented():
    defaults_text = (ROLE / "defaults" / "main.yml").read_text()
    defaults = yaml.safe_load(defaults_text)
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    readme = (ROLE / "README.md").read_text()
    lines = defaults_text.splitlines()
    for name in defaults:
        assert name.startswith("open_webui_"), name
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
        assert lines[index - 1].startswith("# "), f"{name} has no one-line comment"
        assert name in spec, f"{name} missing from meta/argument_specs.yml"
        assert spec[name].get("default") == defaults[name], f"{name}: spec default differs"
        assert f"`{name}`" in readme, f"{name} missing from README.md"
    assert set(spec) == set(defaults)


def test_secrets_never_logged():
    """Tasks that see the secret key, the admin password or the engine key use no_log."""
    for path in (ROLE / "tasks").glob("*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            for inner in task.get("block", []) + task.get("rescue", []) + [task]:
                text = json.dumps({k: v for k, v in inner.items() if k not in ("when", "block", "rescue")})
                sees_secret = re.search(
                    r"admin_password|__open_webui_env\b|secret_key_slurp|open_webui_secret_key\b", text
                )
                if sees_secret and "ansible.builtin.assert" not in inner and "validate" not in text:
                    assert inner.get("no_log") is True, f"{path.name}: {inner.get('name')}"
