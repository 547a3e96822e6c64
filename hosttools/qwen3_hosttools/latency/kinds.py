"""What the latency tool measures: target kinds, metric names and their definitions (shared by every module)."""

from __future__ import annotations

KINDS = ("vllm", "ollama", "openai", "webui", "webui-socket")
KIND_TITLES = {
    "vllm": "vLLM /v1/chat/completions (SSE)",
    "ollama": "Ollama /api/chat (NDJSON)",
    "openai": "OpenAI-compatible /v1/chat/completions (SSE), e.g. through a router",
    "webui": "Open WebUI /api/chat/completions (SSE)",
    "webui-socket": "Open WebUI browser path (Socket.IO /ws/socket.io)",
}
ENGINE_KINDS = ("vllm", "ollama")
WEBUI_KINDS = ("webui", "webui-socket")
OPENAI_SSE_KINDS = ("vllm", "openai")
DEFAULT_PROMPT = "Count from one to forty in English words, separated by spaces."
PERCENTILES = (50, 95)
# Metrics summarised per target: name -> unit.
METRICS = {
    "ttft_ms": "ms",
    "ttfc_ms": "ms",
    "ttfb_ms": "ms",
    "itl_ms": "ms",
    "total_ms": "ms",
    "decode_tokens_per_s": "tok/s",
    "tokens_per_event": "tok",
    "chars_per_event": "chars",
    "events": "events",
    "output_tokens": "tok",
}
DEFINITIONS = {
    "ttft_ms": "first event with non-empty content (llmperf/aiperf); reasoning and <think> text excluded",
    "ttfc_ms": "first streamed chunk with choices/message, empty role chunks included (vllm bench serve's TTFT)",
    "ttfb_ms": "first byte of the response body (browser path: first Socket.IO event)",
    "itl_ms": "gap between consecutive content events",
    "decode_tokens_per_s": "(tokens-1)/(last content - first content)",
}
