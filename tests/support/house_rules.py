"""Static checks of the house plan (docs/ARCHITECTURE.md), used by tests/unit/test_architecture.py.

``variable_references(role_dir)`` parses every task, handler, vars, defaults and template file of a role and
returns each variable name it reads, with where: names from Jinja expressions (``{{ }}``, ``{% %}`` and the bare
expressions of ``when``/``that``/``failed_when``/``changed_when``/``until``/``loop``), names given as string
constants to ``hostvars[...]`` and ``lookup('vars', ...)`` / ``query('vars', ...)``. Keys of ``vars:`` on an
include_role/import_role task are parameters passed to that role, not reads, and are not reported.

``cross_role_references(roles_dir)`` keeps the references to another role's variables (``<role>_*`` or
``__<role>_*``), which the house plan forbids: roles talk through published facts (``llm``, ``qwen3_*``).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml
from jinja2 import meta, nodes

BARE_EXPRESSION_KEYS = {"when", "that", "failed_when", "changed_when", "until", "loop"}
VARS_LOOKUPS = {"vars", "ansible.builtin.vars"}
INCLUDE_ROLE = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}


@dataclass(frozen=True)
class Reference:
    name: str
    file: str
    context: str


def _any_function(*_args, **_kwargs):
    return None


class _Anything(dict):
    """Filters and tests by any name (Ansible's and ours): only the variable names matter here."""

    def __contains__(self, _name) -> bool:
        return True

    def __missing__(self, _name):
        return _any_function

    def get(self, name, default=None):
        return super().get(name, _any_function)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
    env.filters = _Anything(env.filters)
    env.tests = _Anything(env.tests)
    return env


def _constants(tree: nodes.Template) -> set[str]:
    """Variable names passed as string constants to hostvars[...] and the vars lookup/query."""
    found: set[str] = set()
    for node in tree.find_all(nodes.Getitem):
        if isinstance(node.node, nodes.Name) and node.node.name == "hostvars":
            continue  # hostvars[host] selects a host, not a variable
        if isinstance(node.node, nodes.Getitem) and isinstance(node.node.node, nodes.Name) \
                and node.node.node.name == "hostvars" and isinstance(node.arg, nodes.Const):
            found.add(str(node.arg.value))
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Getitem) and isinstance(node.node.node, nodes.Name) \
                and node.node.node.name == "hostvars":
            found.add(node.attr)
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in ("lookup", "query", "q") and call.args:
            first = call.args[0]
            if isinstance(first, nodes.Const) and first.value in VARS_LOOKUPS:
                found |= {str(arg.value) for arg in call.args[1:] if isinstance(arg, nodes.Const)}
    return found


def names_in(text: str, *, bare: bool = False) -> set[str]:
    """Variables a Jinja template (or a bare expression) reads."""
    source = "{{ " + text + " }}" if bare else text
    try:
        tree = _env().parse(source)
    except jinja2.TemplateSyntaxError:
        return set()
    return set(meta.find_undeclared_variables(tree)) | _constants(tree)


def _walk(value, file: str, context: str, out: list[Reference], *, key: str = "") -> None:
    if isinstance(value, dict):
        is_include = any(k in INCLUDE_ROLE for k in value)
        for k, item in value.items():
            if is_include and k == "vars" and isinstance(item, dict):
                for param, param_value in item.items():
                    _walk(param_value, file, f"{context} vars.{param}", out, key=str(param))
                continue
            _walk(item, file, f"{context}.{k}" if context else str(k), out, key=str(k))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, file, f"{context}[{index}]", out, key=key)
    elif isinstance(value, str):
        names = names_in(value, bare=True) if key in BARE_EXPRESSION_KEYS and "{{" not in value else set()
        if "{{" in value or "{%" in value:
            names |= names_in(value)
        out += [Reference(name, file, context) for name in sorted(names)]
    elif isinstance(value, bool) or value is None:
        return


def variable_references(role_dir: Path) -> list[Reference]:
    out: list[Reference] = []
    for sub in ("tasks", "handlers", "vars", "defaults"):
        for path in sorted((role_dir / sub).glob("*.yml")):
            data = yaml.safe_load(path.read_text()) or {}
            _walk(data, str(path.relative_to(role_dir.parent.parent)), "", out)
    for path in sorted((role_dir / "templates").glob("*.j2")):
        names = names_in(path.read_text())
        out += [Reference(name, str(path.relative_to(role_dir.parent.parent)), "template") for name in sorted(names)]
    return out


def role_owner(name: str, roles: list[str]) -> str | None:
    """The role whose variable ``name`` is (by prefix), longest prefix first; None for other names."""
    bare = name[2:] if name.startswith("__") else name
    for role in sorted(roles, key=len, reverse=True):
        if bare == role or bare.startswith(role + "_"):
            return role
    return None


def cross_role_references(roles_dir: Path) -> list[tuple[str, Reference]]:
    roles = sorted(p.name for p in roles_dir.iterdir() if (p / "tasks").is_dir())
    bad = []
    for role in roles:
        for ref in variable_references(roles_dir / role):
            owner = role_owner(ref.name, roles)
            if owner is not None and owner != role:
                bad.append((role, ref))
    return bad


# --- Python structure ---------------------------------------------------------------------------------------

PRODUCT_PYTHON = ("collections", "hosttools", "roles")


def product_python_files(repo: Path) -> list[Path]:
    files = []
    for top in PRODUCT_PYTHON:
        files += [p for p in (repo / top).rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files)


def module_name(path: Path, repo: Path) -> str | None:
    rel = path.relative_to(repo)
    if rel.parts[0] == "collections":
        parts = rel.parts[1:]
    elif rel.parts[0] == "hosttools":
        parts = rel.parts[1:]
    else:
        return None
    dotted = ".".join(parts)[: -len(".py")]
    return dotted.removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def import_cycles(repo: Path) -> list[list[str]]:
    modules = {}
    for path in product_python_files(repo):
        name = module_name(path, repo)
        if name:
            modules[name] = path
    graph = {name: sorted(i for i in imports_of(path) if i in modules and i != name) for name, path in modules.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "active"
        for nxt in graph[node]:
            if state.get(nxt) == "active":
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    sys.setrecursionlimit(10000)
    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


SYS_PATH = re.compile(r"sys\.path\.(insert|append)|PYTHONPATH")


# --- secrets: every task that handles one has no_log -------------------------------------------------------

SKIP_KEYS = {"name", "when", "tags", "loop_control", "register"}
# Modules whose results carry what they read (a file's content, an HTTP body such as a JWT). Results of other
# modules (template, copy, file, ...) say only whether something changed, even when the task handled a secret.
CONTENT_MODULES = {"ansible.builtin.slurp", "ansible.builtin.uri"}
# Role variables that read a secret only to test whether it is set; their values carry no secret.
NOT_SECRET = {"__model_weights_fetch_argv": "passes --token-file <path> when model_weights_hf_token is set"}


def _tasks(items):
    """Tasks of a task list, blocks flattened (with the block's no_log inherited)."""
    for task in items or []:
        if not isinstance(task, dict):
            continue
        inner = task.get("block")
        if inner is not None:
            for sub in ("block", "rescue", "always"):
                for child in _tasks(task.get(sub)):
                    inherited = {"no_log": child.get("no_log", True)} if task.get("no_log") is True else {}
                    yield {**child, **inherited}
        else:
            yield task


def _refs(value) -> set[str]:
    out: list[Reference] = []
    _walk(value, "", "", out)
    return {ref.name for ref in out}


def secret_names(roles_dir: Path) -> set[str]:
    """Vault options (no_log in a spec), role vars computed from them, and results of tasks that run with no_log."""
    names: set[str] = set()
    for spec_file in roles_dir.glob("*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec_file.read_text())["argument_specs"] or {}).values():
            names |= {n for n, o in (entry.get("options") or {}).items() if o.get("no_log")}
    role_vars = {}
    for path in list(roles_dir.glob("*/vars/main.yml")) + list(roles_dir.glob("*/defaults/main.yml")):
        role_vars.update(yaml.safe_load(path.read_text()) or {})
    for path in roles_dir.glob("*/tasks/*.yml"):
        for task in _tasks(yaml.safe_load(path.read_text())):
            if task.get("no_log") is True:
                if task.get("register") and CONTENT_MODULES & set(task):
                    names.add(task["register"])
                for module in ("ansible.builtin.set_fact", "set_fact"):
                    if isinstance(task.get(module), dict):
                        names |= set(task[module])
    changed = True
    while changed:  # role vars built from secrets are secrets
        changed = False
        for name, value in role_vars.items():
            if name not in names and name not in NOT_SECRET and _refs(value) & names:
                names.add(name)
                changed = True
    return names


def _template_refs(task: dict, role_dir: Path) -> set[str]:
    """Variables the template a template task renders reads (the role's own templates/ only)."""
    args = task.get("ansible.builtin.template") or task.get("template")
    src = args.get("src") if isinstance(args, dict) else None
    if not isinstance(src, str) or "{{" in src:
        return set()
    path = role_dir / "templates" / src
    return names_in(path.read_text()) if path.is_file() else set()


URI_MODULES = ("ansible.builtin.uri", "uri")


def _without_url_password(task: dict) -> dict:
    """The task without uri's ``url_password`` (in its arguments or its module_defaults): the module declares that
    option no_log (ansible.module_utils.urls.url_argument_spec), so Ansible masks it in every result and log line."""
    out = dict(task)
    for module in URI_MODULES:
        if isinstance(out.get(module), dict):
            out[module] = {k: v for k, v in out[module].items() if k != "url_password"}
    defaults = out.get("module_defaults")
    if isinstance(defaults, dict):
        out["module_defaults"] = {name: ({k: v for k, v in args.items() if k != "url_password"}
                                         if name in URI_MODULES and isinstance(args, dict) else args)
                                  for name, args in defaults.items()}
    return out


def secret_tasks_without_no_log(roles_dir: Path) -> list[str]:
    secrets = secret_names(roles_dir)
    offenders = []
    for path in sorted(roles_dir.glob("*/tasks/*.yml")):
        for task in _tasks(yaml.safe_load(path.read_text())):
            task = _without_url_password(task)  # noqa: PLW2901 - the task as the check reads it
            used = _refs({k: v for k, v in task.items() if k not in SKIP_KEYS}) | _template_refs(task, path.parent.parent)
            used &= secrets
            if used and task.get("no_log") is not True:
                offenders.append(f"{path.relative_to(roles_dir.parent)}: {task.get('name')!r} uses {sorted(used)}")
    return offenders
