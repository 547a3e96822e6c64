"""Entry point of the zipapp: ``python3 qwen3-hosttools.pyz <tool> [args...]``."""

from __future__ import annotations

import sys

TOOLS = ("latency", "hf-fetch", "ollama-pull", "gpu-metrics", "canary", "capacity")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in TOOLS:
        print(f"usage: qwen3-hosttools {{{','.join(TOOLS)}}} [args...]", file=sys.stderr)
        return 2
    tool, rest = argv[0], argv[1:]
    # Each tool imports its own third-party packages, so a venv without huggingface_hub still measures latency.
    if tool == "latency":
        from qwen3_hosttools.latency.cli import main as tool_main  # noqa: PLC0415
    elif tool == "hf-fetch":
        from qwen3_hosttools.hf_fetch import main as tool_main  # noqa: PLC0415
    elif tool == "gpu-metrics":
        from qwen3_hosttools.gpu_metrics import main as tool_main  # noqa: PLC0415
    elif tool == "canary":
        from qwen3_hosttools.canary import main as tool_main  # noqa: PLC0415
    elif tool == "capacity":
        from qwen3_hosttools.capacity import main as tool_main  # noqa: PLC0415
    else:
        from qwen3_hosttools.ollama_pull import main as tool_main  # noqa: PLC0415
    return tool_main(rest)


if __name__ == "__main__":
    sys.exit(main())
