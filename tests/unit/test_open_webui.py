"""Role open_webui without hosts: the environment it computes for each backend, the rendered env file and unit.
(Its inputs are in tests/unit/test_bad_values.py; its variable docs in tests/unit/test_architecture.py.)

The playbooks run on localhost with a local connection and change nothing outside a temp dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from support.paths import tool

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "open_webui"
ANSIBLE_PLAYBOOK = tool("ansible-playbook")

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
        __open_webui_backend_key: vllm-key
    - name: Render the env file
      ansible.builtin.template:
        src: "{role}/templates/open-webui.env.j2"
        dest: "{out}/open-webui.env"
        mode: "0600"
      vars:
        __open_webui_backend_key: vllm-key
        __open_webui_env_out: "{{{{ __open_webui_env }}}}"
"""

# What the engine role publishes on a vLLM host (docs/ARCHITECTURE.md, qwen3_engine).
ENGINE_VLLM = {"engine": "vllm", "url": "http://127.0.0.1:8000", "served_model_name": "qwen3-demo"}
ENGINE_OLLAMA = {"engine": "ollama", "url": "http://127.0.0.1:11434", "served_model_name": "qwen3-14b-q4-nothink:latest"}
BASE_VARS = {
    "llm_profile": "cpu-demo",
    "qwen3_engine": ENGINE_VLLM,
    "open_webui_admin_email": "admin@example.invalid",
    "open_webui_admin_password": "pw-long-enough",
    "ansible_python_interpreter": sys.executable,
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


def render(tmp_path: Path, **extra) -> tuple[dict, str]:
    proc = play(tmp_path, RENDER_PLAY.format(role=ROLE, out=tmp_path), extra)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads((tmp_path / "computed.json").read_text()), (tmp_path / "open-webui.env").read_text()


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
    # The session key is read from .webui_secret_key in the working directory, the admin only at the first start:
    # neither is in the service's environment file (README, secret table).
    assert not {"WEBUI_SECRET_KEY", "WEBUI_ADMIN_PASSWORD", "WEBUI_ADMIN_EMAIL"} & set(env)
    assert env["DATA_DIR"] == "/var/lib/qwen3-deploy/open-webui"
    assert computed["url"] == "http://127.0.0.1:8080"
    service = computed["unit"]["Service"]
    assert service["ExecStart"].split() == [
        "/opt/qwen3-deploy/open-webui/0.12.4/bin/open-webui",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "8080",
    ]
    assert service["EnvironmentFile"] == ["/etc/qwen3-deploy/open-webui.env",
                                          "-/etc/qwen3-deploy/open-webui-first-admin.env"]
    assert service["WorkingDirectory"] == "/var/lib/qwen3-deploy/open-webui"  # where .webui_secret_key is read
    assert service["User"] != "root"
    # the env file: managed header, role fingerprint, quoted values systemd reads back
    lines = env_file.splitlines()
    assert "# Ansible managed" in lines[:4]
    assert "# role: open_webui" in lines[:5]
    assert 'CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE="1"' in lines
    assert 'OPENAI_API_KEYS="vllm-key"' in lines


def test_ollama_profile_wires_ollama_only(tmp_path):
    computed, _ = render(tmp_path, llm_profile="ollama-q4", qwen3_engine=ENGINE_OLLAMA, open_webui_stream_chunk_size=8)
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


def test_a_host_with_a_space_cannot_become_a_second_option(tmp_path):
    """ExecStart is quoted word by word (module_utils/systemd.py); preflight refuses such a host anyway."""
    computed, _ = render(tmp_path, open_webui_host="127.0.0.1 --evil")
    assert '"127.0.0.1 --evil"' in computed["unit"]["Service"]["ExecStart"]
