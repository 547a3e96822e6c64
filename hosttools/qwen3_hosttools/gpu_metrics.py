"""GPU metrics for node exporter's textfile collector: nvidia-smi's numbers plus Xid errors from the kernel log.

Runs on the managed host (standard library only, Python >= 3.9), from a systemd timer:

    qwen3-hosttools gpu-metrics --out /var/lib/prometheus/node-exporter/qwen3_gpu.prom \
        [--nvidia-smi PATH] [--kernel-log-command "journalctl -k -b -o short-unix --no-pager"] [--print]

1. ``nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader,nounits``. A value nvidia-smi cannot give
   ("[N/A]", "N/A", "[Not Supported]", any other "[...]") omits that one sample; nothing unknown is written as 0.
   A failing nvidia-smi (no driver, driver not loaded, no devices, a timeout, output that is not our query)
   gives ``qwen3_gpu_up 0``, only the rows that did parse, and still exit code 0: the timer keeps running.
2. Xid errors, which nvidia-smi does not report: the kernel log of the current boot (the command's output),
   counted per (GPU, Xid code). A log that cannot be read gives ``qwen3_gpu_xid_scrape_error 1`` and no Xid series.
3. Prometheus text exposition, written atomically (a temporary file in the same directory, then os.replace) with
   mode 0644 to a file ending in ``.prom``; ``--print`` writes to stdout instead.

``pci_bus_id`` is written the way nvidia-smi writes it ("00000000:3B:00.0") on every series, so Xid counters join
the per-GPU series. The kernel's Xid line names domain:bus:device only; the GPU is that device's PCI function 0
(a card's other functions, such as HDMI audio, are not GPUs), so the Xid line's address is written with ".0".
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

from qwen3_hosttools.textfile import family, sample, write_atomically

# Field names checked against `nvidia-smi --help-query-gpu` (driver 535.129.03) as published verbatim in
# github.com/XueSongTap/XueSongTap.github.io, _posts/2024-01-04-nvidia-smi-more.md: "index", "uuid",
# "name", "pci.bus_id" ("domain:bus:device.function, in hex"), "utilization.gpu" and "utilization.memory" (percent of
# the last sample period), "memory.used", "memory.total", "temperature.gpu" (degrees C), "power.draw",
# "power.limit" (watts), '"clocks.current.sm" or "clocks.sm"', '"clocks.current.memory" or "clocks.mem"', and
# "ecc.errors.corrected.volatile.total" / "ecc.errors.uncorrected.volatile.total" ("Volatile error counters track
# the number of errors detected since the last driver load"). With `nounits`, memory is MiB and clocks are MHz.
QUERY_FIELDS = (
    "index",
    "uuid",
    "name",
    "pci.bus_id",
    "utilization.gpu",
    "utilization.memory",
    "memory.used",
    "memory.total",
    "temperature.gpu",
    "power.draw",
    "power.limit",
    "clocks.sm",
    "clocks.mem",
    "ecc.errors.corrected.volatile.total",
    "ecc.errors.uncorrected.volatile.total",
)
QUERY_ARGS = [f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv,noheader,nounits"]
DEFAULT_KERNEL_LOG_COMMAND = "journalctl -k -b -o short-unix --no-pager"
TIMEOUT_S = 30
MIB = 1048576

# (metric, nvidia-smi field, multiply, divide, help); every one a gauge with the labels gpu, uuid, name, pci_bus_id.
PER_GPU = (
    ("qwen3_gpu_utilization_ratio", "utilization.gpu", 1, 100,
     "Fraction of the last sample period (1/6 s to 1 s) in which a kernel ran on the GPU (utilization.gpu)."),
    ("qwen3_gpu_memory_utilization_ratio", "utilization.memory", 1, 100,
     "Fraction of the last sample period in which device memory was read or written (utilization.memory)."),
    ("qwen3_gpu_memory_used_bytes", "memory.used", MIB, 1, "GPU memory allocated by active contexts (memory.used)."),
    ("qwen3_gpu_memory_total_bytes", "memory.total", MIB, 1, "Total GPU memory (memory.total)."),
    ("qwen3_gpu_temperature_celsius", "temperature.gpu", 1, 1, "Core GPU temperature (temperature.gpu)."),
    ("qwen3_gpu_power_draw_watts", "power.draw", 1, 1, "Last measured board power draw (power.draw)."),
    ("qwen3_gpu_power_limit_watts", "power.limit", 1, 1, "Software power limit (power.limit)."),
    ("qwen3_gpu_sm_clock_hertz", "clocks.sm", 1000000, 1, "Current SM clock (clocks.sm)."),
    ("qwen3_gpu_memory_clock_hertz", "clocks.mem", 1000000, 1, "Current memory clock (clocks.mem)."),
    ("qwen3_gpu_ecc_corrected_errors", "ecc.errors.corrected.volatile.total", 1, 1,
     "Corrected ECC errors since the driver was loaded (ecc.errors.corrected.volatile.total)."),
    ("qwen3_gpu_ecc_uncorrected_errors", "ecc.errors.uncorrected.volatile.total", 1, 1,
     "Uncorrected ECC errors since the driver was loaded (ecc.errors.uncorrected.volatile.total)."),
)
HELP = {
    "qwen3_gpu_up": "1 when nvidia-smi answered the query for every GPU, else 0 (no driver, no devices, an error).",
    "qwen3_gpu_xid_errors_total": "NVRM Xid lines in the kernel log of the current boot, per GPU and Xid code.",
    "qwen3_gpu_xid_last_seen_timestamp_seconds": "Time of the last such Xid line (when the log line has one).",
    "qwen3_gpu_xid_scrape_error": "1 when the kernel log could not be read (Xid counts unknown), else 0.",
    "qwen3_gpu_metrics_last_run_timestamp_seconds": "When this collector last ran (Unix time).",
}

# The driver's format strings (NVIDIA/open-gpu-kernel-modules, src/nvidia/src/kernel/gpu/rc/kernel_rc.c,
# krcReportXid): "NVRM: Xid (PCI:%04x:%02x:%02x): %d, pid=%s, name=%s, %s%s" and, without a process,
# "NVRM: Xid (PCI:%04x:%02x:%02x): %d, %s%s"; on MIG the parenthesis adds " GPU-I:%02u" and " GPU-CI:%02u". Older
# drivers print the address without "PCI:" ("NVRM: Xid (0000:01:00): 13, ..."); tests/fixtures/kernel-xid has
# published lines of each. The code is the first number after the parenthesis: a trailing "caused by previous
# Xid 149" names an earlier Xid that has its own line.
XID_LINE = re.compile(r"NVRM: Xid \((?:PCI:)?(?P<addr>[^)\s]+)[^)]*\): (?P<code>\d+),")
PCI_ADDR = re.compile(
    r"(?P<domain>[0-9a-fA-F]{1,8}):(?P<bus>[0-9a-fA-F]{1,2}):(?P<device>[0-9a-fA-F]{1,2})(?:\.(?P<fn>[0-7]))?")
# `journalctl -o short-unix` starts each line with seconds since the epoch; `-o cat` and dmesg's seconds since boot
# carry no usable wall time, and then no last-seen series is written.
UNIX_TIME = re.compile(r"^(?P<ts>\d{9,11}(?:\.\d+)?)\s")
# systemd src/shared/journal-util.c: journalctl says these (on stderr) and may still exit 0 with no entries.
JOURNAL_UNREADABLE = (
    "No journal files were found",
    "No journal files were opened due to insufficient permissions",
    "You are currently not seeing messages from",
)


class Gpu(NamedTuple):
    labels: dict[str, str]
    values: dict[str, str | None]


class SmiResult(NamedTuple):
    up: bool
    gpus: list[Gpu]
    message: str


class XidResult(NamedTuple):
    ok: bool
    counts: dict[tuple[str, str], int]
    last_seen: dict[tuple[str, str], float]
    message: str


def missing(text: str) -> bool:
    """nvidia-smi's words for a value it cannot give: "[N/A]", "[Not Supported]", "[Unknown Error]", "N/A", ""."""
    text = text.strip()
    return text in ("", "N/A") or (text.startswith("[") and text.endswith("]"))


def canonical_bus_id(text: str) -> str:
    """nvidia-smi's form "00000000:3B:00.0" for "0000:3b:00", "00000000:3B:00.0", ...; other text unchanged."""
    match = PCI_ADDR.fullmatch(text.strip())
    if not match:
        return text.strip()
    return "{:08X}:{:02X}:{:02X}.{}".format(
        int(match["domain"], 16), int(match["bus"], 16), int(match["device"], 16), match["fn"] or "0"
    )


def parse_smi(rc: int, stdout: str, stderr: str = "") -> SmiResult:
    """The rows of our --query-gpu CSV; up only when nvidia-smi exited 0 and every line was one of our rows."""
    gpus: list[Gpu] = []
    bad: list[str] = []
    for row in csv.reader(io.StringIO(stdout), skipinitialspace=True):
        line = ", ".join(row).strip()
        if not line:
            continue
        cells = [cell.strip() for cell in row]
        if len(cells) != len(QUERY_FIELDS) or not cells[0].isdigit():
            bad.append(line)
            continue
        raw = {field: cells[i] for i, field in enumerate(QUERY_FIELDS)}  # (no zip strict= on 3.9)
        labels = {
            "gpu": raw["index"],
            "uuid": "" if missing(raw["uuid"]) else raw["uuid"],
            "name": "" if missing(raw["name"]) else raw["name"],
            "pci_bus_id": "" if missing(raw["pci.bus_id"]) else canonical_bus_id(raw["pci.bus_id"]),
        }
        gpus.append(Gpu(labels, {field: None if missing(raw[field]) else raw[field] for field in QUERY_FIELDS[4:]}))
    up = rc == 0 and bool(gpus) and not bad
    if up:
        message = f"nvidia-smi: {len(gpus)} GPU(s)"
    else:
        first = next((text.strip() for text in (*bad, *stderr.splitlines()) if text.strip()), "")
        message = f"nvidia-smi exited {rc}: {first or 'no GPUs listed'}"
    return SmiResult(up, gpus, message)


def parse_kernel_log(text: str) -> XidResult:
    """Xid lines per (pci_bus_id, code), and the newest Unix time seen for each where the line carries one."""
    counts: dict[tuple[str, str], int] = {}
    last_seen: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        match = XID_LINE.search(line)
        if not match:
            continue
        key = (canonical_bus_id(match["addr"]), str(int(match["code"])))
        counts[key] = counts.get(key, 0) + 1
        stamp = UNIX_TIME.match(line)
        if stamp:
            last_seen[key] = max(last_seen.get(key, 0.0), float(stamp["ts"]))
    return XidResult(True, counts, last_seen, f"kernel log: {sum(counts.values())} Xid line(s)")


def read_kernel_log(command: Sequence[str]) -> XidResult:
    try:
        proc = subprocess.run(list(command), capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return XidResult(False, {}, {}, f"kernel log: {' '.join(command)}: {exc}")
    unreadable = next((text for text in JOURNAL_UNREADABLE if text in proc.stderr), None)
    if proc.returncode != 0 or unreadable:
        reason = unreadable or (proc.stderr.strip().splitlines() or ["no output"])[0]
        return XidResult(False, {}, {}, f"kernel log: {' '.join(command)} exited {proc.returncode}: {reason}")
    return parse_kernel_log(proc.stdout)


def run_smi(nvidia_smi: str) -> SmiResult:
    try:
        proc = subprocess.run([nvidia_smi, *QUERY_ARGS], capture_output=True, text=True, errors="replace",
                              timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return SmiResult(False, [], f"nvidia-smi: {exc}")
    return parse_smi(proc.returncode, proc.stdout, proc.stderr)


def scaled(text: str | None, multiply: int, divide: int) -> float | None:
    """The field as a number in base units; None (sample omitted) when missing or not a number."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return value * multiply / divide


def render(smi: SmiResult, xid: XidResult, now: float) -> str:
    """The whole .prom file: HELP and TYPE for every family, per-GPU samples only for values nvidia-smi gave."""
    lines = family("qwen3_gpu_up", "gauge", HELP["qwen3_gpu_up"], [sample("qwen3_gpu_up", {}, 1 if smi.up else 0)])
    for name, field, multiply, divide, help_text in PER_GPU:
        samples = []
        for gpu in smi.gpus:
            value = scaled(gpu.values[field], multiply, divide)
            if value is not None:
                samples.append(sample(name, gpu.labels, value))
        lines += family(name, "gauge", help_text, samples)
    keys = sorted(xid.counts)
    lines += family("qwen3_gpu_xid_errors_total", "counter", HELP["qwen3_gpu_xid_errors_total"],
                    [sample("qwen3_gpu_xid_errors_total", {"pci_bus_id": bus, "xid": code}, xid.counts[(bus, code)])
                     for bus, code in keys])
    lines += family("qwen3_gpu_xid_last_seen_timestamp_seconds", "gauge",
                    HELP["qwen3_gpu_xid_last_seen_timestamp_seconds"],
                    [sample("qwen3_gpu_xid_last_seen_timestamp_seconds", {"pci_bus_id": bus, "xid": code},
                            xid.last_seen[(bus, code)]) for bus, code in keys if (bus, code) in xid.last_seen])
    lines += family("qwen3_gpu_xid_scrape_error", "gauge", HELP["qwen3_gpu_xid_scrape_error"],
                    [sample("qwen3_gpu_xid_scrape_error", {}, 0 if xid.ok else 1)])
    lines += family("qwen3_gpu_metrics_last_run_timestamp_seconds", "gauge",
                    HELP["qwen3_gpu_metrics_last_run_timestamp_seconds"],
                    [sample("qwen3_gpu_metrics_last_run_timestamp_seconds", {}, round(now, 3))])
    return "\n".join(lines) + "\n"


def collect(nvidia_smi: str, kernel_log_command: Sequence[str], now: float | None = None) -> tuple[str, list[str]]:
    """(the .prom text, what to log)."""
    smi = run_smi(nvidia_smi)
    xid = read_kernel_log(kernel_log_command)
    return render(smi, xid, time.time() if now is None else now), [smi.message, xid.message]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qwen3-hosttools gpu-metrics", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="the .prom file in node exporter's textfile directory")
    where.add_argument("--print", action="store_true", help="write the metrics to stdout instead")
    parser.add_argument("--nvidia-smi", default="nvidia-smi", help="nvidia-smi to run (default: from PATH)")
    parser.add_argument("--kernel-log-command", default=DEFAULT_KERNEL_LOG_COMMAND,
                        help=f"prints the kernel log of the current boot (default: {DEFAULT_KERNEL_LOG_COMMAND!r})")
    args = parser.parse_args(list(argv))
    if args.out is not None and not args.out.endswith(".prom"):
        parser.error("--out must end in .prom (node exporter's textfile collector reads only those)")
    args.kernel_log_command = shlex.split(args.kernel_log_command)
    if not args.kernel_log_command:
        parser.error("--kernel-log-command is empty")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    text, notes = collect(args.nvidia_smi, args.kernel_log_command)
    for note in notes:
        print(f"gpu-metrics: {note}", file=sys.stderr)
    if args.print:
        sys.stdout.write(text)
        return 0
    try:
        write_atomically(args.out, text)
    except OSError as exc:
        print(f"gpu-metrics: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
