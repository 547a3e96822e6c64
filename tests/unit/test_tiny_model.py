"""The tiny Qwen3 test model: deterministic bytes, Qwen3 tensor layout, tokenizer and chat template."""

import json
import struct
import subprocess
from pathlib import Path

import jinja2
import pytest
from support import tiny_model
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "scripts" / "make-tiny-model"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    subprocess.run([str(CLI), "--out", str(out), "--quiet"], check=True)
    return out


def read_safetensors_header(path: Path) -> dict:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8 : 8 + n])
    body = len(data) - 8 - n
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    assert max(ends) == body, "tensors must fill the body exactly"
    return header


def test_byte_identical_across_runs(model_dir, tmp_path):
    again = tmp_path / "again"
    subprocess.run([str(CLI), "--out", str(again), "--quiet"], check=True)
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == [
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    for name in names:
        assert (again / name).read_bytes() == (model_dir / name).read_bytes(), name


def test_rerun_is_idempotent(model_dir):
    mtimes = {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()}
    summary = tiny_model.write_model(model_dir)
    assert summary["changed"] == []
    assert {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()} == mtimes


def test_size_is_about_a_megabyte(model_dir):
    total = sum(p.stat().st_size for p in model_dir.iterdir())
    assert 500_000 < total < 2_500_000


def test_config_is_qwen3(model_dir):
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["architectures"] == ["Qwen3ForCausalLM"]
    assert cfg["model_type"] == "qwen3"
    assert (cfg["hidden_size"], cfg["num_hidden_layers"]) == (128, 2)
    assert (cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]) == (4, 2, 32)
    assert cfg["tie_word_embeddings"] is False  # the guard needs its own lm_head (tiny_model_guard)
    assert cfg["torch_dtype"] == "bfloat16"
    assert cfg["max_position_embeddings"] == 4096
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    assert cfg["vocab_size"] == tok.get_vocab_size(with_added_tokens=True)
    assert 1000 <= cfg["vocab_size"] <= 2000
    assert cfg["eos_token_id"] == tok.token_to_id("<|im_end|>")


def test_safetensors_names_shapes_and_dtype(model_dir):
    cfg = json.loads((model_dir / "config.json").read_text())
    header = read_safetensors_header(model_dir / "model.safetensors")
    assert header.pop("__metadata__") == {"format": "pt"}
    assert {k: tuple(v["shape"]) for k, v in header.items()} == tiny_model.tensor_shapes(cfg["vocab_size"])
    assert {v["dtype"] for v in header.values()} == {"BF16"}
    assert header["lm_head.weight"]["shape"] == [cfg["vocab_size"], 128]  # untied: the guard's lm_head
    for n in range(2):
        for part in ("q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm"):
            assert f"model.layers.{n}.self_attn.{part}.weight" in header
    assert header["model.embed_tokens.weight"]["shape"] == [cfg["vocab_size"], 128]


def test_bf16_rounding():
    import numpy as np

    raw = tiny_model._bf16_bytes(np.array([1.0, -2.0, 0.0, 1.00390625], dtype=np.float32))
    assert list(struct.unpack("<4H", raw)) == [0x3F80, 0xC000, 0x0000, 0x3F80]  # 1+2^-8 rounds to even


def test_tokenizer_special_tokens_and_roundtrip(model_dir):
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    ids = [tok.token_to_id(t) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")]
    assert None not in ids and len(set(ids)) == 5
    text = "<|im_start|>user\nHello, café 東京 42!<|im_end|>\n"
    enc = tok.encode(text)
    assert enc.ids[0] == tok.token_to_id("<|im_start|>")
    assert tok.decode(enc.ids, skip_special_tokens=False) == text
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    specials = {v["content"]: v["special"] for v in cfg["added_tokens_decoder"].values()}
    assert specials == {
        "<|endoftext|>": True,
        "<|im_start|>": True,
        "<|im_end|>": True,
        "<think>": False,
        "</think>": False,
    }
    assert (cfg["eos_token"], cfg["pad_token"]) == ("<|im_end|>", "<|endoftext|>")


def render(model_dir: Path, **kwargs) -> str:
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)  # what transformers uses
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    return env.from_string(cfg["chat_template"]).render(messages=msgs, **kwargs)


def test_chat_template_thinking_off_prefills_empty_think(model_dir):
    out = render(model_dir, add_generation_prompt=True, enable_thinking=False)
    assert out == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )


def test_chat_template_thinking_default_on(model_dir):
    assert render(model_dir, add_generation_prompt=True).endswith("<|im_start|>assistant\n")
    assert render(model_dir, add_generation_prompt=True, enable_thinking=True).endswith("<|im_start|>assistant\n")
    assert render(model_dir, add_generation_prompt=False).endswith("Hi<|im_end|>\n")
