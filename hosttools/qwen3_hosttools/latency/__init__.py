"""Streaming latency probe for the deployed endpoints (vLLM, Ollama, Open WebUI).

Runs on the served host itself (services bind 127.0.0.1), so it needs only the standard
library (Python >= 3.9) and ``requests``; the Open WebUI browser path (Socket.IO) also needs
``python-socketio[client]``, imported only when that path is measured.

Definitions used in every report (say which one you quote):

* ``ttfb_ms``  time to first byte of the HTTP response body (browser path: first Socket.IO
  event for the message).
* ``ttfc_ms``  time to first chunk: the first streamed event that carries ``choices`` (or an
  Ollama ``message``), empty role chunks and reasoning included. This is what
  ``vllm bench serve`` calls TTFT.
* ``ttft_ms``  time to first token: the first event with non-empty *content* (reasoning does
  not count, nor does text inside ``<think>...</think>``; whitespace does count). This is the
  llmperf / aiperf definition and the one thresholds use.
* ``itl_ms``   gaps between consecutive content-bearing events after the first.
* ``decode_tokens_per_s``  (tokens - 1) / (last content event - first content event); tokens
  from the server's usage numbers when it sends them, else one per content event.
* ``tokens_per_event`` / ``chars_per_event``  output tokens (chars) per content event.

The parsers take ``(timestamp, line)`` pairs, so recorded streams replay without sleeping
(tests feed fixtures through them with recorded timestamps).

Modules: ``kinds`` (names and definitions), ``records`` (one request's accumulation), ``streams``
(SSE / NDJSON / Socket.IO parsers and replay), ``transport`` (live HTTP requests), ``socketpath`` (Open
WebUI's browser path), ``stats`` (summaries), ``cli`` (``qwen3-hosttools latency measure``).
"""
