"""Deterministic tiny Qwen3 checkpoint for end-to-end tests (no network, no torch).

Writes a directory that looks like a Hugging Face Qwen3 repo, only very small:

* ``config.json``            Qwen3ForCausalLM, hidden 128, 2 layers, 4 heads, 2 KV heads, head_dim 32
* ``generation_config.json`` sampling defaults like the real Qwen3 repos
* ``model.safetensors``      random bf16 weights (fixed seed), written by hand (no safetensors package),
                             untied lm_head, guarded (tiny_model_guard): no answer can contain '<' (so no
                             ``<think>`` token or text) and end-of-turn never wins, so answers run to the
                             token limit the cpu-demo profile sets
* ``tokenizer.json``         byte-level BPE trained with ``tokenizers`` on a built-in corpus,
                             plus Qwen's special tokens
* ``tokenizer_config.json``  ChatML chat template; ``enable_thinking=false`` pre-fills an empty
                             ``<think>\\n\\n</think>\\n\\n`` like Qwen3's own template

Apart from the guard the weights are noise: the model produces gibberish, but it loads and serves like a real Qwen3
(same architecture, tensor names, tokenizer type and chat format). Every run writes the same bytes.

CLI: ``scripts/make-tiny-model --out DIR`` (idempotent: unchanged files are not rewritten).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys
from pathlib import Path

# The BPE trainer of `tokenizers` counts in parallel; keep it single-threaded so ties break the same way.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("RAYON_RS_NUM_CPUS", "1")

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from support import tiny_model_guard as guard

SEED = 20251121
BPE_VOCAB_SIZE = 1400  # trained tokens incl. the 256 byte symbols; special tokens come on top
HIDDEN = 128
LAYERS = 2
HEADS = 4
KV_HEADS = 2
HEAD_DIM = 32
INTERMEDIATE = 256
MAX_POSITIONS = 4096
INIT_STD = 0.02

# Qwen2/Qwen3 pre-tokenizer split (from the official tokenizer.json).
QWEN_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# (content, special). Special ones are skipped by skip_special_tokens; <think> tags are not (as in Qwen3).
ADDED_TOKENS = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<think>", False),
    ("</think>", False),
]

CHAT_TEMPLATE = (
    "{%- for message in messages %}\n"
    "{%- set content = message['content'] if message['content'] is string else '' %}\n"
    "{%- if message['role'] == 'assistant' and '</think>' in content %}\n"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}\n"
    "{%- endif %}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "{{- '<|im_start|>assistant\\n' }}\n"
    "{%- if enable_thinking is defined and enable_thinking is false %}\n"
    "{{- '<think>\\n\\n</think>\\n\\n' }}\n"
    "{%- endif %}\n"
    "{%- endif %}\n"
)

_SUBJECTS = [
    "the server",
    "the model",
    "a user",
    "the operator",
    "this request",
    "the cache",
    "the GPU",
    "the engine",
    "the playbook",
    "our team",
    "the endpoint",
    "the scheduler",
    "the tokenizer",
]
_VERBS = [
    "answers",
    "loads",
    "streams",
    "checks",
    "measures",
    "starts",
    "stops",
    "downloads",
    "verifies",
    "writes",
    "reads",
    "returns",
    "retries",
    "serves",
    "logs",
]
_OBJECTS = [
    "the first token",
    "a short reply",
    "the weights",
    "every request",
    "the latency report",
    "a new chat",
    "the health check",
    "the prompt",
    "all metrics",
    "the config file",
    "a long answer",
    "the thinking block",
    "the service unit",
]
_TAILS = [
    "quickly.",
    "on time.",
    "without errors.",
    "in 20 ms.",
    "after a restart.",
    "again and again.",
    "for each host.",
    "before noon.",
    "with a retry.",
    "at 128 tokens per second.",
    "in the morning.",
]
_COMMON_WORDS = (
    "about above across after again against all almost alone along already also although always among "
    "amount answer any anyone anything appear apply area argue around arrive article ask assume attack "
    "available avoid away back bad bank base because become before begin behind believe best better "
    "between beyond big bill black blue board body book both box break bring brother budget build "
    "business buy call camera campaign cancer capital car card care career carry case catch cause cell "
    "center central century certain chair challenge chance change character charge check child choice "
    "choose church city civil claim class clear close coach cold collection college color come common "
    "community company compare computer concern condition consider contain continue control cost could "
    "country couple course court cover create crime cultural culture cup current customer cut dark data "
    "daughter dead deal death debate decade decide decision deep defense degree describe design detail "
    "develop difference different difficult dinner direction director discover discuss disease doctor "
    "door down draw dream drive drop during early east easy economic economy edge education effect effort "
    "eight either election else employee energy enjoy enough enter entire environment especially "
    "establish evening event ever every evidence exactly example executive exist expect experience "
    "expert explain face fact factor fail fall family far fast father fear federal feel few field fight "
    "figure fill film final finally financial find fine finger finish fire firm fish floor fly focus "
    "follow food foot force foreign forget form former forward free friend front full fund future game "
    "garden general generation girl give glass goal good government great green ground group grow growth "
    "guess gun hair half hand hang happen happy hard have head health hear heart heat heavy help here "
    "herself high himself history hold home hope hospital hot hotel hour house however huge human hundred "
    "husband idea identify image imagine impact important improve include including increase indeed "
    "indicate individual industry information inside instead institution interest international "
    "interview into investment issue item itself join just keep kill kind kitchen know knowledge land "
    "language large last late later laugh lawyer lead leader learn least leave left legal less letter "
    "level life light like likely line list listen little live local long look lose loss lot love low "
    "machine magazine main maintain major majority make manage management manager many market marriage "
    "material matter maybe mean measure media medical meeting member memory mention message method middle "
    "might military million mind minute miss mission modern moment money month more morning most mother "
    "mouth move movement movie much music must myself name nation national natural nature near nearly "
    "necessary need network never news newspaper next nice night none north note nothing notice number "
    "occur offer office officer official often oil old once only open operation opportunity option order "
    "organization other others outside over own owner page pain painting paper parent part participant "
    "particular partner party pass past patient pattern pay peace people perform perhaps period person "
    "personal phone physical pick picture piece place plan plant player point police policy political "
    "poor popular population position positive possible power practice prepare present president "
    "pressure pretty prevent price private probably problem process produce product production "
    "professional professor program project property protect prove provide public pull purpose push "
    "quality question quite race radio raise range rate rather reach ready real reality realize really "
    "reason receive recent recently recognize record reduce reflect region relate relationship remain "
    "remember remove report represent require research resource respond response rest result return "
    "reveal rich right rise risk road rock role room rule safe same save scene school science score "
    "season seat second section security seek seem sell send senior sense series serious serve service "
    "seven several shake share shoot short shot should shoulder show side sign significant similar simple "
    "simply since sing single sister site situation size skill skin small smile social society soldier "
    "some somebody someone something sometimes song soon sort sound source south southern space speak "
    "special specific speech spend sport spring staff stage stand standard star state statement station "
    "stay step still stock stop store story strategy street strong structure student study stuff style "
    "subject success successful such suddenly suffer suggest summer support sure surface system table "
    "take talk task teach teacher team technology television tell tend term test than thank their them "
    "themselves then theory there these they thing think third those though thought thousand threat "
    "three through throughout throw thus today together tonight total tough toward town trade "
    "traditional training travel treat treatment tree trial trip trouble true truth turn type under "
    "understand unit until upon usually value various very victim view violence visit voice vote wait "
    "walk wall want watch water weapon wear week weight well west western what whatever when where "
    "whether which while white whole whom whose wide wife will win wind window wish with within without "
    "woman wonder word work worker world worry would write writer wrong yard yeah year young yourself"
).split()
_PARAGRAPHS = [
    "Hello! How can I help you today? I can answer questions, write code and explain ideas.",
    "User: What is the capital of France? Assistant: The capital of France is Paris.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # prints 5\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i, 'is even')\n",
    '{"model": "qwen3", "messages": [{"role": "user", "content": "hi"}], "stream": true}',
    "Time to first token (TTFT) is the delay between sending a request and receiving the first token.",
    "Large language models generate text one token at a time. Each token depends on the ones before.",
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 4096 3.14 2.718 1e-6 99%.",
    "Let me think step by step. First, read the question. Then, plan the answer. Finally, reply.",
    "GPU memory holds the weights and the KV cache; more cache means more parallel requests.",
    "Ansible runs tasks on hosts over SSH; roles group tasks, handlers restart services.",
    "Thank you! You're welcome. Goodbye, and have a nice day. See you later.",
    "Punctuation test: (a) [b] {c} <d> 'e' \"f\" a-b a_b a/b a\\b a|b a~b a^b a&b a*b a+b a=b a@b #tag $5.",
    "Emoji and accents: café, naïve, façade, über, señor, 東京, 你好, Привет.",
]


def corpus() -> list[str]:
    """The fixed training corpus: hand-written paragraphs plus generated sentences (no randomness)."""
    lines = list(_PARAGRAPHS)
    for i, subject in enumerate(_SUBJECTS):
        for j, verb in enumerate(_VERBS):
            obj = _OBJECTS[(i + 2 * j) % len(_OBJECTS)]
            tail = _TAILS[(3 * i + j) % len(_TAILS)]
            sentence = f"{subject} {verb} {obj} {tail}"
            lines.append(sentence[0].upper() + sentence[1:])
    lines.extend(p.lower() for p in _PARAGRAPHS)
    words = _COMMON_WORDS
    for k in range(0, len(words), 8):
        chunk = words[k : k + 8]
        lines.append(" ".join(chunk).capitalize() + ".")
        lines.append(", ".join(reversed(chunk)) + "?")
    return lines


def build_tokenizer():
    """Train the byte-level BPE tokenizer; returns a `tokenizers.Tokenizer`."""
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB_SIZE,
        min_frequency=2,
        show_progress=False,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.add_special_tokens([AddedToken(c, special=True, normalized=False) for c, s in ADDED_TOKENS if s])
    tok.add_tokens([AddedToken(c, special=False, normalized=False) for c, s in ADDED_TOKENS if not s])
    return tok


def _bf16_bytes(values: np.ndarray) -> bytes:
    """float32 -> bfloat16 (round to nearest even), little-endian raw bytes."""
    bits = np.ascontiguousarray(values, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
    return rounded.tobytes()


def _bf16_round(values: np.ndarray) -> np.ndarray:
    """The float32 values bf16 storage keeps (what vLLM loads): the bounds are computed on these."""
    raw = np.frombuffer(_bf16_bytes(values), dtype="<u2").astype(np.uint32) << 16
    return raw.view("<f4").reshape(values.shape).astype(np.float32)


def tensor_shapes(vocab_size: int, tie_word_embeddings: bool = False) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of a Qwen3ForCausalLM checkpoint (HF naming)."""
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab_size, HIDDEN)}
    for n in range(LAYERS):
        p = f"model.layers.{n}."
        shapes.update(
            {
                p + "input_layernorm.weight": (HIDDEN,),
                p + "post_attention_layernorm.weight": (HIDDEN,),
                p + "self_attn.q_proj.weight": (HEADS * HEAD_DIM, HIDDEN),
                p + "self_attn.k_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
                p + "self_attn.v_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
                p + "self_attn.o_proj.weight": (HIDDEN, HEADS * HEAD_DIM),
                p + "self_attn.q_norm.weight": (HEAD_DIM,),
                p + "self_attn.k_norm.weight": (HEAD_DIM,),
                p + "mlp.gate_proj.weight": (INTERMEDIATE, HIDDEN),
                p + "mlp.up_proj.weight": (INTERMEDIATE, HIDDEN),
                p + "mlp.down_proj.weight": (HIDDEN, INTERMEDIATE),
            }
        )
    shapes["model.norm.weight"] = (HIDDEN,)
    if not tie_word_embeddings:
        shapes["lm_head.weight"] = (vocab_size, HIDDEN)
    return shapes


def weights(vocab_size: int, banned: list[int], eos_ids: list[int], seed: int = SEED) -> dict[str, np.ndarray]:
    """Guarded weights (tiny_model_guard), bf16-rounded float32. Norm weights start at 1, the rest N(0, 0.02)."""
    rng = np.random.default_rng(seed)
    shapes = tensor_shapes(vocab_size)
    tensors = {}
    for name in sorted(shapes):
        if name.endswith("norm.weight"):
            tensors[name] = np.ones(shapes[name], dtype=np.float32)
        else:
            tensors[name] = (rng.standard_normal(shapes[name], dtype=np.float32) * INIT_STD).astype(np.float32)
    guard.apply(tensors, HIDDEN, banned, eos_ids)
    return {name: _bf16_round(values) for name, values in tensors.items()}


def guarded_tokens(tok) -> tuple[list[int], list[int]]:
    """(banned ids, end-of-turn ids) of the tokenizer (see tiny_model_guard)."""
    eos = [tok.token_to_id("<|im_end|>"), tok.token_to_id("<|endoftext|>")]
    added = {c: tok.token_to_id(c) for c, _ in ADDED_TOKENS}
    tok_bytes = guard.token_bytes(tok.get_vocab(with_added_tokens=True), added)
    return guard.banned_ids(tok_bytes, set(eos)), eos


def safetensors_bytes(tensors: dict[str, np.ndarray]) -> bytes:
    """A complete model.safetensors (bf16) as bytes."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        blob = _bf16_bytes(tensors[name])
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def _json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def model_files() -> dict[str, bytes]:
    """All files of the tiny model, name -> bytes."""
    tok = build_tokenizer()
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    ids = {c: tok.token_to_id(c) for c, _ in ADDED_TOKENS}
    endoftext, im_end = ids["<|endoftext|>"], ids["<|im_end|>"]

    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": endoftext,
        "eos_token_id": im_end,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": INIT_STD,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MAX_POSITIONS,
        "max_window_layers": LAYERS,
        "model_type": "qwen3",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }
    generation_config = {
        "bos_token_id": endoftext,
        "do_sample": True,
        "eos_token_id": [im_end, endoftext],
        "pad_token_id": endoftext,
        "temperature": 0.6,
        "top_k": 20,
        "top_p": 0.95,
        "transformers_version": "4.51.0",
    }
    tokenizer_config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(ids[c]): {
                "content": c,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": s,
            }
            for c, s in ADDED_TOKENS
        },
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": MAX_POSITIONS,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    tokenizer_json = json.loads(tok.to_str())
    return {
        "config.json": _json(config),
        "generation_config.json": _json(generation_config),
        "model.safetensors": safetensors_bytes(weights(vocab_size, *guarded_tokens(tok))),
        "tokenizer.json": (json.dumps(tokenizer_json, indent=2, ensure_ascii=False) + "\n").encode(),
        "tokenizer_config.json": _json(tokenizer_config),
    }


def write_model(out: Path) -> dict[str, object]:
    """Write the model into `out`; files whose bytes are already right are left alone."""
    out.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    summary: dict[str, object] = {"dir": str(out), "files": {}}
    for name, data in model_files().items():
        path = out / name
        if not (path.is_file() and path.read_bytes() == data):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            changed.append(name)
        summary["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}  # type: ignore[index]
    summary["changed"] = changed
    summary["total_bytes"] = sum(f["bytes"] for f in summary["files"].values())  # type: ignore[union-attr]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="directory to write the model into")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = parser.parse_args(argv)
    summary = write_model(args.out)
    if not args.quiet:
        print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
