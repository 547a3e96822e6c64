"""The Ollama STAND-IN's Go text/template port (tests/ollama_standin/standin/gotemplate*.py) against real Go.

tests/ollama_standin/golden/golden.json was written by Go's own text/template (go1.19.8) running transcriptions of
ollama/ollama v0.33.0-rc2 template/template.go (Parse, Vars, Execute, the template value types) and upstream's
verbatim thinking/template.go InferTags, over tests/ollama_standin/golden/cases.json (regenerate with
tests/ollama_standin/golden/regen.sh). So every expectation here comes from Go, not from the port under test.
"""

import json
from pathlib import Path

import pytest
from ollama_standin.standin import gotemplate, ollama_template
from ollama_standin.standin.gotemplate import TemplateError
from ollama_standin.standin.gotemplate_exec import execute

GOLDEN = Path(__file__).resolve().parents[1] / "ollama_standin" / "golden"
CASES = json.loads((GOLDEN / "cases.json").read_text())
GOLD = json.loads((GOLDEN / "golden.json").read_text())
RESULTS = GOLD["results"]
THINK = CASES["think"]


def values(think):
    level = {True: "medium", False: "", None: ""}.get(think, think) if not isinstance(think, str) else think
    return {"think": think not in (None, False), "think_level": level, "is_think_set": think is not None}


@pytest.mark.parametrize("name", sorted(CASES["templates"]))
def test_infer_tags_and_vars_match_go(name):
    tmpl = ollama_template.Template.parse(CASES["templates"][name])
    assert list(ollama_template.infer_tags(tmpl.root)) == RESULTS[name]["infer_tags"]
    assert tmpl.vars() == RESULTS[name]["vars"]


@pytest.mark.parametrize("name", sorted(CASES["templates"]))
@pytest.mark.parametrize("value_set", sorted(CASES["values"]))
def test_rendering_matches_go(name, value_set):
    tmpl = ollama_template.Template.parse(CASES["templates"][name])
    case = CASES["values"][value_set]
    for think_name, think in THINK.items():
        want = RESULTS[name]["renders"][f"{value_set}/{think_name}"]
        try:
            got = tmpl.execute(case["messages"], case.get("tools"), **values(think))
        except TemplateError as exc:
            got = {"error": str(exc)}
        if isinstance(want, dict):
            assert isinstance(got, dict), (think_name, got)
        else:
            assert got == want, think_name


# thinking/template_test.go TestInferThinkingTags (v0.33.0-rc2), run through the port directly
@pytest.mark.parametrize(
    ("case", "opening", "closing"),
    [
        ("upstream_infertags_basic", "<think>", "</think>"),
        ("upstream_infertags_doubly_nested_range", "", ""),
        ("upstream_infertags_whitespace_trimmed", "Some text before", "Some text after"),
        ("upstream_infertags_qwen3", "<think>", "</think>"),
    ],
    ids=["basic", "doubly nested range", "whitespace is trimmed", "qwen3"],
)
def test_TestInferThinkingTags(case, opening, closing):
    assert ollama_template.infer_tags(gotemplate.parse(CASES["templates"][case])) == (opening, closing)


@pytest.mark.parametrize("src", sorted(GOLD["parse_checks"]))
def test_parse_and_exec_errors_like_go(src):
    want = GOLD["parse_checks"][src]
    if isinstance(want, dict) and "error" in want:
        with pytest.raises(TemplateError):
            gotemplate.parse(src)
        return
    root = gotemplate.parse(src)
    if isinstance(want, dict):
        with pytest.raises(TemplateError):
            execute(root, {"A": ["a"]})
    else:
        assert execute(root, {"A": ["a"]}) == want
