"""The gpu-metrics host tool's run on the lent H100 (tests/records/gpu-2026-12-07-h100-gpu-metrics.md), replayed:
the raw nvidia-smi query it parsed there gives here the very .prom it wrote there (but the run's timestamp), that
file passes `promtool check metrics`, and the machine without journalctl gave a scrape error, not an Xid count."""

from __future__ import annotations

import re

from qwen3_hosttools import gpu_metrics as gm
from support import prometheus_tools
from support.paths import REPO

RAW = REPO / "tests" / "records" / "gpu-2026-12-07-h100-gpu-metrics-raw"
FIXTURE = REPO / "tests" / "fixtures" / "nvidia-smi" / "gpu-metrics-query" / "h100-recorded-2026-12-07.csv"
STAMP = re.compile(r"^qwen3_gpu_metrics_last_run_timestamp_seconds (\S+)$", re.MULTILINE)


def body(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


def test_the_fixture_is_the_raw_query_of_the_run():
    assert body(FIXTURE.read_text()) == body((RAW / "smi-idle.csv").read_text())


def test_replaying_the_recorded_query_gives_the_recorded_prom():
    """gm.sh's query and the tool's own were two nvidia-smi calls in the same second: only the temperature and the
    power draw moved (34 vs 33 C, 70.96 vs 70.98 W); every other line, labels included, is the same."""
    smi = gm.parse_smi(0, body(FIXTURE.read_text()))
    assert smi.up and [gpu.labels["name"] for gpu in smi.gpus] == ["NVIDIA H100 80GB HBM3"]
    for name in ("gm-idle-dmesg.prom", "gm-idle-journalctl.prom"):
        recorded = (RAW / name).read_text()
        scrape_ok = "\nqwen3_gpu_xid_scrape_error 0\n" in recorded
        xid = gm.parse_kernel_log("") if scrape_ok else gm.XidResult(False, {}, {}, "no journalctl")
        replay = gm.render(smi, xid, float(STAMP.search(recorded).group(1)))
        moved = {}
        for ours, theirs in zip(replay.splitlines(), recorded.splitlines(), strict=True):
            if ours != theirs:
                key, value = ours.rsplit(" ", 1)
                assert key == theirs.rsplit(" ", 1)[0], (ours, theirs)
                moved[key.split("{")[0]] = abs(float(value) - float(theirs.rsplit(" ", 1)[1]))
        assert set(moved) <= {"qwen3_gpu_temperature_celsius", "qwen3_gpu_power_draw_watts"}, moved
        assert all(delta <= 1 for delta in moved.values()), moved


def test_the_recorded_files_pass_promtool():
    for name in ("gm-idle-dmesg.prom", "gm-idle-journalctl.prom"):
        result = prometheus_tools.run("promtool", "check", "metrics", stdin=(RAW / name).read_text())
        assert (result.returncode, result.stdout + result.stderr) == (0, ""), name


def test_no_journalctl_on_the_box_was_a_scrape_error_and_dmesg_read_the_log():
    assert "\nqwen3_gpu_xid_scrape_error 1\n" in (RAW / "gm-idle-journalctl.prom").read_text()
    assert "No such file or directory: 'journalctl'" in (RAW / "gm-idle-journalctl.err").read_text()
    assert "\nqwen3_gpu_xid_scrape_error 0\n" in (RAW / "gm-idle-dmesg.prom").read_text()
    assert "kernel log: 0 Xid line(s)" in (RAW / "gm-idle-dmesg.err").read_text()


BUSY = FIXTURE.with_name("h100-recorded-2026-12-07-busy.csv")
MACHINE2 = RAW / "machine2"


def test_the_busy_sample_lands_in_base_units_and_passes_promtool():
    """The second machine under the c=64 capacity point: 100 % busy, power at the 700 W limit, SM clock pulled down."""
    assert body(BUSY.read_text()) == body((MACHINE2 / "smi-load7.csv").read_text())
    text = gm.render(gm.parse_smi(0, body(BUSY.read_text())), gm.parse_kernel_log(""), 1796643197.0)
    values = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("qwen3_gpu_") and "{" in line}
    assert values["qwen3_gpu_utilization_ratio"] == 1.0 and values["qwen3_gpu_memory_utilization_ratio"] == 0.63
    assert values["qwen3_gpu_memory_used_bytes"] == 74249 * 1048576
    assert values["qwen3_gpu_power_draw_watts"] == 694.66 and values["qwen3_gpu_sm_clock_hertz"] == 1.47e9
    result = prometheus_tools.run("promtool", "check", "metrics", stdin=text)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_every_file_the_tool_wrote_on_the_second_machine_passes_promtool():
    files = sorted(MACHINE2.glob("gm-*.prom"))
    assert len(files) == 20  # idle, engine idle, 8 samples under load; each with journalctl (absent) and dmesg
    for path in files:
        result = prometheus_tools.run("promtool", "check", "metrics", stdin=path.read_text())
        assert (result.returncode, result.stdout + result.stderr) == (0, ""), path.name
        assert ("\nqwen3_gpu_xid_scrape_error 1\n" in path.read_text()) == ("journalctl" in path.name)
