"""The tiny model's guard (tests/support/tiny_model_guard.py): no answer can contain '<' (no <think> token or
text, no reasoning tag Open WebUI knows) and end-of-turn never wins. Proved from bounds on the written weights,
then checked with a float32 forward pass of the bf16 checkpoint; the positive control shows that the same checks
fail on the unguarded random model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import tiny_model as tm
from support import tiny_model_guard as guard


@pytest.fixture(scope="module")
def built():
    tok = tm.build_tokenizer()
    banned, eos = tm.guarded_tokens(tok)
    vocab = tok.get_vocab_size(with_added_tokens=True)
    return tok, banned, eos, tm.weights(vocab, banned, eos)


def _margins(tensors, banned, eos):
    return guard.margins(tensors, layers=tm.LAYERS, hidden=tm.HIDDEN, heads=tm.HEADS, eps=1e-6,
                         banned=banned, eos_ids=eos)


def _rms(x, w, eps=1e-6):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _rope(x, theta=1e6):
    n, d = x.shape[-2], x.shape[-1]
    inv = theta ** (-np.arange(0, d, 2) / d)
    ang = np.arange(n)[:, None] * inv[None, :]
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = x[..., : d // 2], x[..., d // 2 :]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def forward(t: dict, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Qwen3ForCausalLM in float32: (last residual stream, logits) for every position."""
    h = t["model.embed_tokens.weight"][ids].astype(np.float32)
    n, group = len(ids), tm.HEADS // tm.KV_HEADS
    mask = np.triu(np.full((n, n), -np.inf, dtype=np.float32), 1)
    for layer in range(tm.LAYERS):
        p = f"model.layers.{layer}."
        x = _rms(h, t[p + "input_layernorm.weight"])
        q = (x @ t[p + "self_attn.q_proj.weight"].T).reshape(n, tm.HEADS, tm.HEAD_DIM).transpose(1, 0, 2)
        k = (x @ t[p + "self_attn.k_proj.weight"].T).reshape(n, tm.KV_HEADS, tm.HEAD_DIM).transpose(1, 0, 2)
        v = (x @ t[p + "self_attn.v_proj.weight"].T).reshape(n, tm.KV_HEADS, tm.HEAD_DIM).transpose(1, 0, 2)
        q = _rope(_rms(q, t[p + "self_attn.q_norm.weight"]))
        k = _rope(_rms(k, t[p + "self_attn.k_norm.weight"]))
        k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(tm.HEAD_DIM) + mask
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        h = h + (a @ v).transpose(1, 0, 2).reshape(n, -1) @ t[p + "self_attn.o_proj.weight"].T
        x = _rms(h, t[p + "post_attention_layernorm.weight"])
        g = x @ t[p + "mlp.gate_proj.weight"].T
        h = h + ((g / (1 + np.exp(-g))) * (x @ t[p + "mlp.up_proj.weight"].T)) @ t[p + "mlp.down_proj.weight"].T
    return h, _rms(h, t["model.norm.weight"]) @ t["lm_head.weight"].T


def _inputs(tok, rng) -> list[list[int]]:
    vocab = tok.get_vocab_size(with_added_tokens=True)
    chat = tok.encode("<|im_start|>user\nTell me a long story.<|im_end|>\n<|im_start|>assistant\n"
                      "<think>\n\n</think>\n\n").ids
    return [chat] + [list(rng.integers(0, vocab, size=n)) for n in (1, 7, 64, 200)]


def test_banned_tokens_are_every_token_that_writes_a_tag_opener(built):
    tok, banned, eos, _ = built
    names = {tok.id_to_token(i) for i in banned}
    assert {"<think>", "</think>", "<", "<|im_start|>"} <= names
    assert not set(eos) & set(banned)
    inverse = {c: b for b, c in guard.bytes_to_unicode().items()}
    for piece, tid in tok.get_vocab(with_added_tokens=True).items():
        raw = piece.encode() if piece.startswith("<") and piece.endswith(">") else bytes(inverse[c] for c in piece)
        if b"<" in raw or 0xE2 in raw:
            assert tid in banned or tid in eos, piece


def test_the_bounds_prove_no_banned_token_and_no_end_of_turn_can_be_sampled(built):
    _, banned, eos, tensors = built
    m = _margins(tensors, banned, eos)
    # exp(-104) underflows to 0 in float32: banned tokens get probability 0 up to temperature ban_gap / 104
    assert m["ban_gap"] / 104 > 100, m
    # end-of-turn sits below every ordinary token, so top_k 20 (generation_config.json) never keeps it
    assert m["eos_gap"] > 20, m
    gen = json.loads(tm.model_files()["generation_config.json"])
    assert gen["top_k"] == 20


def violations(tensors, tok, banned, eos) -> list[str]:
    """What a float32 forward pass shows against the guard's claims (empty: all hold)."""
    m = _margins(tensors, banned, eos)
    gdim = tm.HIDDEN - guard.GUARD_DIM_FROM_END
    ordinary = np.array([i for i in range(tensors["lm_head.weight"].shape[0]) if i not in set(banned) | set(eos)])
    found = []
    for n, ids in enumerate(_inputs(tok, np.random.default_rng(7))):
        h, logits = forward(tensors, ids)
        low = logits[:, ordinary].min(axis=1)
        if not np.all(h[:, gdim] == guard.GUARD_VALUE):
            found.append(f"input {n}: guard dimension not constant")
        if np.linalg.norm(np.delete(h, gdim, axis=1), axis=1).max() > m["residual_bound"]:
            found.append(f"input {n}: residual above its bound")
        if not np.all(logits[:, banned].max(axis=1) <= low - m["ban_gap"] * 0.99):
            found.append(f"input {n}: a banned token is not {m['ban_gap']:.0f} below every ordinary token")
        if not np.all(logits[:, eos].max(axis=1) < low):
            found.append(f"input {n}: end-of-turn is not below every ordinary token")
        if np.isin(np.argsort(-logits, axis=1)[:, :20], banned + eos).any():
            found.append(f"input {n}: a banned or end-of-turn token is in the top 20")
    return found


def test_a_forward_pass_agrees_with_the_bounds(built):
    tok, banned, eos, tensors = built
    assert violations(tensors, tok, banned, eos) == []


def test_positive_control_the_unguarded_model_fails_the_same_checks(built, monkeypatch):
    tok, banned, eos, _ = built
    monkeypatch.setattr(guard, "apply", lambda *_args: None)
    tensors = tm.weights(tok.get_vocab_size(with_added_tokens=True), banned, eos)  # same draw, no guard
    found = violations(tensors, tok, banned, eos)
    assert any("not constant" in f for f in found) and any("banned token" in f for f in found), found
