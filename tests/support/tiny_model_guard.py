"""The tiny model's guard: it can never write '<' (so no ``<think>`` tag, token or text) and never ends on its own.

Why: random weights emit any token, and a ``<think>`` (token or text) in the answer makes Open WebUI draw a
"Thought for N seconds" block; a random end-of-turn makes answer lengths random. The construction, on the
residual stream of a Qwen3 decoder (hidden size H, guard dimension g):

1. Every token embedding has ``e[g] = C`` (C > 0); no layer reads dimension g (its weight in both RMSNorms of
   every layer is 0) and none writes it (row g of ``o_proj`` and ``down_proj`` is 0). So after the last layer
   ``h[g] = C`` exactly, for every position of every input.
2. The final RMSNorm gives ``y[g] = w[g] * C / sqrt((C^2 + S) / H + eps)`` with ``S`` the squared norm of the other
   dimensions. ``S`` is bounded by the weights (``residual_bound``): each layer's input is RMS-normalised (norm
   <= sqrt(H) * max weight), attention outputs are convex mixes of values, SiLU(z) <= max(|z|, 0.28). So
   ``y[g] >= y_min > 0`` for ANY input.
3. Embeddings are untied. ``lm_head`` row g is 0 for ordinary tokens, whose logits are then bounded by
   ``|l_t| <= ||W_t|| * ||y_other|| <= ||W_t|| * sqrt(H) * max w``. A banned token's row is ``-B_BAN`` at g and 0
   elsewhere: its logit is ``<= -B_BAN * y_min``, thousands below every ordinary token, so softmax gives it exactly
   0 in float32 (exp underflows) at any temperature up to ``ban_gap / 104``. End-of-turn rows are ``-B_EOS`` at g:
   below every ordinary token, so the profile's top_k (20) never keeps them and an answer ends at the token limit
   (cpu-demo caps it with vLLM's --override-generation-config max_new_tokens).

Banned: every token whose bytes contain '<' (0x3C) or 0xE2 (the lead byte of U+25C1 '◁', as in '◁think▷'),
special or not, except the end-of-turn tokens. Every reasoning tag Open WebUI 0.12.4 recognises starts with one
of those, so no answer text can open a reasoning block. ``margins`` computes the bounds from the actual weights;
tests/unit/test_tiny_model_guard.py checks them and runs a float32 forward pass.
"""

from __future__ import annotations

import math

import numpy as np

GUARD_DIM_FROM_END = 1  # guard dimension g = H - 1
GUARD_VALUE = 1.0  # C: the constant the residual stream carries in dimension g
B_BAN = 65536.0  # 2**16, exact in bf16
B_EOS = 256.0  # 2**8, exact in bf16
BANNED_BYTES = (0x3C, 0xE2)
SILU_MIN = 0.2785  # |SiLU(z)| <= max(|z|, 0.2785) (its minimum is -0.2785 at z = -1.278)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, as the ByteLevel pre-tokenizer uses."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def token_bytes(vocab: dict[str, int], added: dict[str, int]) -> dict[int, bytes]:
    """Token id -> the bytes it writes (added tokens are literal text, the rest byte-level symbols)."""
    inverse = {ch: b for b, ch in bytes_to_unicode().items()}
    out = {}
    for piece, tid in vocab.items():
        if piece in added:
            out[tid] = piece.encode("utf-8")
        else:
            out[tid] = bytes(inverse[ch] for ch in piece)
    return out


def banned_ids(tok_bytes: dict[int, bytes], eos_ids: set[int]) -> list[int]:
    return sorted(t for t, b in tok_bytes.items() if t not in eos_ids and any(x in b for x in BANNED_BYTES))


def apply(tensors: dict[str, np.ndarray], hidden: int, banned: list[int], eos_ids: list[int]) -> None:
    """Turn random float32 weights (HF names, tensors['lm_head.weight'] present) into the guarded model."""
    g = hidden - GUARD_DIM_FROM_END
    tensors["model.embed_tokens.weight"][:, g] = GUARD_VALUE
    for name, w in tensors.items():
        if name.endswith(("input_layernorm.weight", "post_attention_layernorm.weight")):
            w[g] = 0.0
        elif name.endswith(("self_attn.o_proj.weight", "mlp.down_proj.weight")):
            w[g, :] = 0.0
    head = tensors["lm_head.weight"]
    head[:, g] = 0.0
    for t in banned:
        head[t, :] = 0.0
        head[t, g] = -B_BAN
    for t in eos_ids:
        head[t, :] = 0.0
        head[t, g] = -B_EOS


def _op(w: np.ndarray) -> float:
    return float(np.linalg.norm(w.astype(np.float64), 2))


def residual_bound(tensors: dict[str, np.ndarray], layers: int, hidden: int, heads: int) -> float:
    """An upper bound of the norm of the residual stream without dimension g, for any input."""
    g = hidden - GUARD_DIM_FROM_END
    others = np.delete(tensors["model.embed_tokens.weight"].astype(np.float64), g, axis=1)
    bound = float(np.max(np.linalg.norm(others, axis=1)))
    for n in range(layers):
        p = f"model.layers.{n}."
        # RMSNorm output: norm <= sqrt(H) * its largest weight
        x_attn = math.sqrt(hidden) * float(np.max(np.abs(tensors[p + "input_layernorm.weight"])))
        x_mlp = math.sqrt(hidden) * float(np.max(np.abs(tensors[p + "post_attention_layernorm.weight"])))
        # attention: each of the `heads` query heads mixes (convexly) values of its KV head; heads are concatenated
        v = _op(tensors[p + "self_attn.v_proj.weight"]) * x_attn
        bound += _op(tensors[p + "self_attn.o_proj.weight"]) * math.sqrt(heads) * v
        # MLP: ||SiLU(G x) * (U x)|| <= max|SiLU(G x)| * ||U x||
        gate = max(_op(tensors[p + "mlp.gate_proj.weight"]) * x_mlp, SILU_MIN)
        up = _op(tensors[p + "mlp.up_proj.weight"]) * x_mlp
        bound += _op(tensors[p + "mlp.down_proj.weight"]) * gate * up
    return bound


def margins(tensors: dict[str, np.ndarray], *, layers: int, hidden: int, heads: int, eps: float,
            banned: list[int], eos_ids: list[int]) -> dict[str, float]:
    """The proved bounds: y_min, the largest ordinary logit, and the gaps to banned and end-of-turn tokens."""
    g = hidden - GUARD_DIM_FROM_END
    s_max = residual_bound(tensors, layers, hidden, heads) ** 2
    w_final = tensors["model.norm.weight"].astype(np.float64)
    y_min = float(w_final[g]) * GUARD_VALUE / math.sqrt((GUARD_VALUE ** 2 + s_max) / hidden + eps)
    head = tensors["lm_head.weight"].astype(np.float64)
    special = set(banned) | set(eos_ids)
    ordinary = [t for t in range(head.shape[0]) if t not in special]
    y_other_max = math.sqrt(hidden) * float(np.max(np.abs(np.delete(w_final, g))))
    logit_max = float(np.max(np.linalg.norm(head[ordinary], axis=1))) * y_other_max
    return {
        "residual_bound": math.sqrt(s_max),
        "y_min": y_min,
        "ordinary_logit_bound": logit_max,
        # banned: l_ban <= -B_BAN * y_min; every ordinary logit >= -logit_max
        "ban_gap": B_BAN * y_min - logit_max,
        "eos_gap": B_EOS * y_min - logit_max,
    }
