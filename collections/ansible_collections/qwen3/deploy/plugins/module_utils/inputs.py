"""Check a role's inputs before anything changes: the role's argument spec, then its own rules.

``check_role`` runs Ansible's own ``ArgumentSpecValidator`` on ``meta/argument_specs.yml`` (types, choices,
list elements), then every variable's checker from ``input_rules/<role>.py`` and the role's cross-variable
checks. Each message starts with the variable name, and values of ``no_log`` options never appear in it.
The lookup plugin ``qwen3.deploy.input_errors`` feeds it from a play; unit tests call it directly.
"""

from __future__ import annotations

import importlib

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

RULES_PACKAGE = "ansible_collections.qwen3.deploy.plugins.module_utils.input_rules"
MASK = "********"


def rules_for(role: str):
    """(RULES, CHECKS) of a role; a role without a rules module has none (a test requires one)."""
    try:
        module = importlib.import_module(f"{RULES_PACKAGE}.{role}")
    except ModuleNotFoundError:
        return {}, []
    return getattr(module, "RULES", {}), getattr(module, "CHECKS", [])


def _secrets(options: dict, values: dict) -> list[str]:
    return [
        str(values[name])
        for name, option in options.items()
        if option.get("no_log") and values.get(name) not in (None, "")
    ]


def _mask(message: str, secrets: list[str]) -> str:
    for value in secrets:
        if len(value) >= 3:
            message = message.replace(value, MASK)
    return message


def check_role(role: str, options: dict, values: dict, profile: dict | None = None, derived=()) -> list[str]:
    """Errors (``"variable: message"``) for the given values of one role; empty when all is well.

    ``options`` is the ``main`` entry point's options; ``values`` holds the variables that are set (the
    role's defaults filled in). Required options without a value are reported. ``derived`` names values that
    came from a templated default: their messages say so (``what_the_user_wrote`` may then drop them).
    """
    spec = {name: {k: v for k, v in option.items() if k in ("type", "choices", "elements", "required")}
            for name, option in options.items()}
    result = ArgumentSpecValidator(spec).validate(dict(values))
    secrets = _secrets(options, values)
    errors = []
    for error in result.errors:
        text = str(error)
        name = next((n for n in options if f"'{n}'" in text or f" {n} " in f" {text} "), role)
        errors.append(_mask(f"{name}: {text}", secrets))
    converted = {name: result.validated_parameters.get(name) for name in values}
    bad = {name for name in options if any(f"'{name}'" in str(e) or f" {name} " in f" {e} " for e in result.errors)}
    rules, checks = rules_for(role)
    for name in options:
        if name in bad or name not in values:
            continue
        checker = rules.get(name)
        if checker is None:
            continue
        message = checker(converted[name], converted, profile)
        if message:
            shown = f"{name} (not set; its default gave {converted[name]!r})" if name in derived else name
            errors.append(_mask(f"{shown}: {message}", secrets))
    if not errors:
        for check in checks:
            errors += [_mask(message, secrets) for message in check(converted, profile)]
    return errors


def what_the_user_wrote(errors: list[str], derived) -> list[str]:
    """Drop messages about values derived from a default when another message names what the user wrote.

    ``preflight_models_dir`` defaults to where ``model_weights_dir`` points: a relative ``model_weights_dir`` is
    refused under its own name, and the same value seen again through the default would name a variable the user
    never set. A derived message stays when it is the only explanation (its text says it is a default).
    """
    def about_derived(message: str) -> bool:
        return any(message.startswith(f"{name} (not set;") or message.startswith(f"{name}:") for name in derived)

    mine = [message for message in errors if not about_derived(message)]
    return mine if mine else errors
