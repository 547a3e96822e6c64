"""Host tool `gpu-metrics` (hosttools/qwen3_hosttools/gpu_metrics.py): nvidia-smi's numbers and kernel Xid lines as
a node exporter textfile, checked against recorded nvidia-smi output (tests/fixtures/nvidia-smi), published kernel
lines (tests/fixtures/kernel-xid) and Prometheus' own `promtool check metrics` (missing promtool fails the test)."""

from __future__ import annotations

import csv
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from qwen3_hosttools import __main__ as hosttools_main
from qwen3_hosttools import gpu_metrics as gm
from qwen3_hosttools import textfile
from support import prometheus_tools
from support.paths import REPO

SMI = REPO / "tests" / "fixtures" / "nvidia-smi"
OURS = SMI / "gpu-metrics-query"
XID = REPO / "tests" / "fixtures" / "kernel-xid"
CASES = sorted(path.name[: -len(".query.txt")] for path in SMI.glob("*.query.txt"))
NOW = 1796600000.5
OK_LOG = gm.XidResult(True, {}, {}, "kernel log: 0 Xid line(s)")
FAMILIES = (
    "qwen3_gpu_up", "qwen3_gpu_utilization_ratio", "qwen3_gpu_memory_utilization_ratio", "qwen3_gpu_memory_used_bytes",
    "qwen3_gpu_memory_total_bytes", "qwen3_gpu_temperature_celsius", "qwen3_gpu_power_draw_watts",
    "qwen3_gpu_power_limit_watts", "qwen3_gpu_sm_clock_hertz", "qwen3_gpu_memory_clock_hertz",
    "qwen3_gpu_ecc_corrected_errors", "qwen3_gpu_ecc_uncorrected_errors", "qwen3_gpu_xid_errors_total",
    "qwen3_gpu_xid_last_seen_timestamp_seconds", "qwen3_gpu_xid_scrape_error",
    "qwen3_gpu_metrics_last_run_timestamp_seconds",
)


def body(path: Path) -> str:
    """A fixture without its '# ' header lines (nvidia-smi and the kernel print none)."""
    return "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("#"))


def promtool_clean(text: str) -> None:
    """`promtool check metrics` on stdin: exit 0 and not a word (lint findings are printed and exit 3)."""
    result = prometheus_tools.run("promtool", "check", "metrics", stdin=text)
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), text


def samples(text: str) -> dict[str, float]:
    """'name{labels}' -> value for every sample line."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


def values_of(text: str, name: str) -> list[float]:
    return [value for key, value in samples(text).items() if re.fullmatch(rf"{name}(\{{.*\}})?", key)]


def fake_program(tmp_path: Path, name: str, stdout: str, rc: int = 0, stderr: str = "") -> str:
    (tmp_path / f"{name}.out").write_text(stdout)
    (tmp_path / f"{name}.err").write_text(stderr)
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\ncat '{tmp_path}/{name}.out'\ncat '{tmp_path}/{name}.err' >&2\nexit {rc}\n")
    script.chmod(0o755)
    return str(script)


# --- nvidia-smi -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_each_recorded_case_has_our_query_built_from_its_values(case):
    """Preflight's query (index,name,uuid,driver_version,memory.total,memory.used,...) is not ours: every recorded
    case has a fixture of our query whose shared columns are the recorded values."""
    recorded = list(csv.reader(body(SMI / f"{case}.query.txt").splitlines(), skipinitialspace=True))
    ours = list(csv.reader(body(OURS / f"{case}.csv").splitlines(), skipinitialspace=True))
    assert len(ours) == len(recorded) and all(len(row) == len(gm.QUERY_FIELDS) for row in ours)
    for old, new in zip(recorded, ours, strict=True):
        index, name, uuid, _driver, total, used = old[:6]
        assert (new[0], new[1], new[2], new[6], new[7]) == (index, uuid, name, used, total)


@pytest.mark.parametrize("case", CASES)
def test_recorded_cases_become_clean_metrics(case):
    rows = list(csv.reader(body(OURS / f"{case}.csv").splitlines(), skipinitialspace=True))
    smi = gm.parse_smi(0, body(OURS / f"{case}.csv"))
    assert smi.up and len(smi.gpus) == len(rows), smi.message
    text = gm.render(smi, OK_LOG, NOW)
    promtool_clean(text)
    assert samples(text)["qwen3_gpu_up"] == 1
    assert values_of(text, "qwen3_gpu_memory_total_bytes") == [int(row[7]) * 1048576 for row in rows]
    assert values_of(text, "qwen3_gpu_sm_clock_hertz") == [int(row[11]) * 1_000_000 for row in rows]
    assert values_of(text, "qwen3_gpu_power_limit_watts") == [float(row[10]) for row in rows]
    for row, gpu in zip(rows, smi.gpus, strict=True):
        assert gpu.labels == {"gpu": row[0], "uuid": row[1], "name": row[2], "pci_bus_id": row[3]}
    for line in text.splitlines():
        if line.startswith(("qwen3_gpu_utilization_ratio", "qwen3_gpu_memory_", "qwen3_gpu_power", "qwen3_gpu_ecc")):
            assert re.search(r'\{gpu="\d+",uuid="GPU-[^"]+",name="[^"]+",pci_bus_id="[0-9A-F]{8}:[0-9A-F]{2}:', line)
    assert set(re.findall(r"^# TYPE (\S+) ", text, re.M)) == set(FAMILIES)


def test_recorded_table_values_land_in_base_units():
    """l40sx2-550: bus ids, temperature and power from the published table; MiB -> bytes, MHz -> Hz."""
    text = gm.render(gm.parse_smi(0, body(OURS / "l40sx2-550.csv")), OK_LOG, NOW)
    labels = 'gpu="1",uuid="GPU-0c55a1e2-7d3b-4b8e-9f10-550163010001",name="NVIDIA L40S",pci_bus_id="00000000:04:02.0"'
    got = samples(text)
    assert got[f"qwen3_gpu_temperature_celsius{{{labels}}}"] == 33
    assert got[f"qwen3_gpu_power_draw_watts{{{labels}}}"] == 23
    assert got[f"qwen3_gpu_memory_used_bytes{{{labels}}}"] == 1048576
    assert got[f"qwen3_gpu_memory_total_bytes{{{labels}}}"] == 46068 * 1048576
    assert got[f"qwen3_gpu_memory_clock_hertz{{{labels}}}"] == 405_000_000
    assert f"qwen3_gpu_memory_total_bytes{{{labels}}} 48305799168\n" in text  # an integer, no exponent


def test_percent_becomes_a_ratio_and_fractions_stay_exact():
    row = "0, GPU-x, NVIDIA H100 80GB HBM3, 00000000:16:00.0, 37, 5, 70000, 81559, 61, 412.83, 700.00, 1980, 2619, 12, 0\n"
    text = gm.render(gm.parse_smi(0, row), OK_LOG, NOW)
    promtool_clean(text)
    assert values_of(text, "qwen3_gpu_utilization_ratio") == [0.37]
    assert 'qwen3_gpu_utilization_ratio{gpu="0",uuid="GPU-x",name="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:16:00.0"} 0.37\n' in text
    assert values_of(text, "qwen3_gpu_memory_utilization_ratio") == [0.05]
    assert values_of(text, "qwen3_gpu_power_draw_watts") == [412.83]
    assert values_of(text, "qwen3_gpu_ecc_corrected_errors") == [12]
    assert "qwen3_gpu_metrics_last_run_timestamp_seconds 1796600000.5\n" in text


def test_values_nvidia_smi_cannot_give_are_left_out_never_zero():
    """GeForce ECC "[N/A]", "[Not Supported]" power, a bare "N/A", "[Unknown Error]": those samples are omitted."""
    rows = (
        "0, GPU-a, NVIDIA GeForce RTX 4090, 00000000:01:00.0, 3, 12, 301, 24564, 41, [Not Supported], 450.00, 210, "
        "405, [N/A], [N/A]\n"
        "1, GPU-b, NVIDIA A100-SXM4-80GB, 00000000:07:00.0, N/A, [Unknown Error], 4, 81920, [N/A], 61.47, 400.00, "
        "210, 1593, [Unknown Error], 0\n"
    )
    smi = gm.parse_smi(0, rows)
    assert smi.up
    text = gm.render(smi, OK_LOG, NOW)
    promtool_clean(text)
    assert re.findall(r'^qwen3_gpu_ecc_\w+\{gpu="(\d)".* (\S+)$', text, re.M) == [("1", "0")]  # b's uncorrected only
    assert re.findall(r'^qwen3_gpu_power_draw_watts\{gpu="(\d)"', text, re.M) == ["1"]
    assert re.findall(r'^qwen3_gpu_temperature_celsius\{gpu="(\d)"', text, re.M) == ["0"]
    assert re.findall(r'^qwen3_gpu_utilization_ratio\{gpu="(\d)"', text, re.M) == ["0"]
    assert re.findall(r'^qwen3_gpu_memory_utilization_ratio\{gpu="(\d)"', text, re.M) == ["0"]
    assert "# TYPE qwen3_gpu_ecc_corrected_errors gauge" in text  # the family stays declared, empty for GeForce


@pytest.mark.parametrize(("fixture", "rc"), [("driver-not-loaded.stdout.txt", 9), ("no-devices.stdout.txt", 6)])
def test_a_failing_nvidia_smi_is_up_0_with_no_gpu_samples(fixture, rc):
    smi = gm.parse_smi(rc, (SMI / fixture).read_text())
    assert not smi.up and smi.gpus == []
    assert (SMI / fixture).read_text().splitlines()[0] in smi.message
    text = gm.render(smi, OK_LOG, NOW)
    promtool_clean(text)
    assert samples(text) == {"qwen3_gpu_up": 0, "qwen3_gpu_xid_scrape_error": 0,
                             "qwen3_gpu_metrics_last_run_timestamp_seconds": NOW}


def test_output_that_is_not_our_query_is_not_up():
    """Preflight's query (8 columns), an empty answer, a missing nvidia-smi: up 0."""
    assert not gm.parse_smi(0, body(SMI / "h200.query.txt")).up
    assert not gm.parse_smi(0, "").up
    missing = gm.run_smi("/nonexistent/nvidia-smi")
    assert (missing.up, missing.gpus) == (False, [])
    assert "No such file" in missing.message


def test_a_gpu_row_beside_an_error_line_is_kept_but_not_up():
    """nvidia-smi exiting non-zero while still listing some GPUs: their samples stay, up says something is wrong."""
    out = body(OURS / "l40sx2-550.csv").splitlines()[0] + "\nUnable to determine the device handle for GPU1: Unknown Error\n"
    smi = gm.parse_smi(15, out)
    assert (smi.up, len(smi.gpus)) == (False, 1)
    assert "Unable to determine" in smi.message
    promtool_clean(gm.render(smi, OK_LOG, NOW))


# --- Xid from the kernel log -------------------------------------------------------------------------------------

EXPECTED_XID = {
    "gpud-pr46.dmesg-ctime.log": {("00000000:CB:00.0", "13"): 3, ("00000000:CB:00.0", "109"): 1},
    "ogkm-1150.journal.log": {("00000000:DC:00.0", "45"): 2, ("00000000:ED:00.0", "45"): 2,
                              ("00000000:BA:00.0", "45"): 2, ("00000000:97:00.0", "45"): 1},
    "ogkm-1151.short-unix.log": {("00000000:2B:00.0", "79"): 1},
    "formats.cat.log": {("00000000:01:00.0", "94"): 2, ("00000000:01:00.0", "95"): 1,
                        ("00000019:01:00.0", "149"): 1},
    "legacy.syslog.log": {("00000000:01:00.0", "13"): 3, ("00000000:01:00.0", "32"): 1,
                          ("00000000:01:00.0", "69"): 2, ("00000000:01:00.0", "62"): 1},
    "not-xid.log": {},
}


def test_every_xid_fixture_has_an_expectation():
    assert sorted(path.name for path in XID.glob("*.log")) == sorted(EXPECTED_XID)


@pytest.mark.parametrize("name", sorted(EXPECTED_XID))
def test_xid_lines_are_counted_per_gpu_and_code(name):
    xid = gm.parse_kernel_log(body(XID / name))
    assert xid.ok and xid.counts == EXPECTED_XID[name]
    text = gm.render(gm.parse_smi(0, body(OURS / "h100.csv")), xid, NOW)
    promtool_clean(text)
    for (bus, code), count in EXPECTED_XID[name].items():
        assert f'qwen3_gpu_xid_errors_total{{pci_bus_id="{bus}",xid="{code}"}} {count}\n' in text
    assert len(values_of(text, "qwen3_gpu_xid_errors_total")) == len(EXPECTED_XID[name])


def test_only_short_unix_lines_give_a_last_seen_time():
    assert gm.parse_kernel_log(body(XID / "ogkm-1151.short-unix.log")).last_seen == {
        ("00000000:2B:00.0", "79"): 1779130959.0}
    for name in sorted(set(EXPECTED_XID) - {"ogkm-1151.short-unix.log"}):
        assert gm.parse_kernel_log(body(XID / name)).last_seen == {}, name
    text = gm.render(gm.parse_smi(0, body(OURS / "h100.csv")),
                     gm.parse_kernel_log(body(XID / "ogkm-1151.short-unix.log")), NOW)
    assert 'qwen3_gpu_xid_last_seen_timestamp_seconds{pci_bus_id="00000000:2B:00.0",xid="79"} 1779130959\n' in text


def test_xid_bus_ids_join_the_per_gpu_series():
    """The Xid line's domain:bus:device is written as nvidia-smi writes the GPU's bus id (function 0)."""
    line = "1779130959.5 gpu-host kernel: NVRM: Xid (PCI:0000:16:00): 79, pid=1234, name=python3, GPU has fallen off the bus.\n"
    text = gm.render(gm.parse_smi(0, body(OURS / "h100x8-570.csv")), gm.parse_kernel_log(line), NOW)
    promtool_clean(text)
    assert 'qwen3_gpu_xid_errors_total{pci_bus_id="00000000:16:00.0",xid="79"} 1\n' in text
    assert 'qwen3_gpu_up 1\n' in text and 'gpu="0",uuid="GPU-57019503-0000-4000-8000-000000000000",name="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:16:00.0"' in text


def test_an_unreadable_kernel_log_is_a_scrape_error(tmp_path):
    """A failing command, a missing one, and journalctl's notices that come with exit 0 and no entries
    (systemd src/shared/journal-util.c)."""
    notices = (
        "No journal files were found.\n",
        "No journal files were opened due to insufficient permissions.\n",
        "Hint: You are currently not seeing messages from the system.\n"
        "      Users in groups 'adm', 'systemd-journal' can see all messages.\n      Pass -q to turn off this notice.\n",
    )
    commands = [["false"], ["/nonexistent/journalctl"]]
    for number, notice in enumerate(notices):
        commands.append([fake_program(tmp_path, f"journalctl{number}", "-- No entries --\n", 0, notice)])
    for command in commands:
        xid = gm.read_kernel_log(command)
        assert (xid.ok, xid.counts) == (False, {}), command
        text = gm.render(gm.parse_smi(0, body(OURS / "h100.csv")), xid, NOW)
        promtool_clean(text)
        assert "qwen3_gpu_xid_scrape_error 1\n" in text and values_of(text, "qwen3_gpu_xid_errors_total") == []
    readable = gm.read_kernel_log([fake_program(tmp_path, "journalctl-ok", body(XID / "formats.cat.log"))])
    assert readable.ok and readable.counts == EXPECTED_XID["formats.cat.log"]


# --- exposition format and writing -------------------------------------------------------------------------------


def test_label_values_are_escaped():
    """Backslash, double quote and line feed in a label value, as the text exposition format requires."""
    row = '0, GPU-x, "Weird \\ ""quoted""\nname", 00000000:16:00.0, 1, 1, 1, 81559, 30, 70.00, 700.00, 345, 2619, 0, 0\n'
    smi = gm.parse_smi(0, row)
    assert smi.gpus[0].labels["name"] == 'Weird \\ "quoted"\nname'
    text = gm.render(smi, OK_LOG, NOW)
    promtool_clean(text)
    assert 'name="Weird \\\\ \\"quoted\\"\\nname"' in text
    assert textfile.escape_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_the_write_is_atomic_and_world_readable(tmp_path, monkeypatch):
    target = tmp_path / "qwen3_gpu.prom"
    target.write_text("old\n")
    old_umask = os.umask(0o077)
    try:
        textfile.write_atomically(str(target), "new\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(path.name for path in tmp_path.iterdir()) == ["qwen3_gpu.prom"]

    def refuse(src, dst):
        assert Path(src).parent == tmp_path and not src.endswith(".prom")  # beside it, never read by the collector
        raise OSError("disk full")

    monkeypatch.setattr(textfile.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        textfile.write_atomically(str(target), "newer\n")
    assert target.read_text() == "new\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["qwen3_gpu.prom"]


def test_the_command_line_writes_the_textfile_and_survives_a_broken_driver(tmp_path, capsys):
    out = tmp_path / "textfile" / "qwen3_gpu.prom"
    out.parent.mkdir()
    smi = fake_program(tmp_path, "nvidia-smi", body(OURS / "l40sx2-550.csv"))
    log = f"cat {XID / 'ogkm-1151.short-unix.log'}"
    assert hosttools_main.main(["gpu-metrics", "--out", str(out), "--nvidia-smi", smi, "--kernel-log-command", log]) == 0
    text = out.read_text()
    promtool_clean(text)
    assert "qwen3_gpu_up 1\n" in text and len(values_of(text, "qwen3_gpu_temperature_celsius")) == 2
    assert 'qwen3_gpu_xid_errors_total{pci_bus_id="00000000:2B:00.0",xid="79"} 1\n' in text

    broken = fake_program(tmp_path, "nvidia-smi-broken", (SMI / "driver-not-loaded.stdout.txt").read_text(), 9)
    assert gm.main(["--out", str(out), "--nvidia-smi", broken, "--kernel-log-command", "false"]) == 0
    text = out.read_text()
    promtool_clean(text)
    assert "qwen3_gpu_up 0\n" in text and "qwen3_gpu_xid_scrape_error 1\n" in text
    assert "couldn't communicate with the NVIDIA driver" in capsys.readouterr().err

    assert gm.main(["--print", "--nvidia-smi", smi, "--kernel-log-command", log]) == 0
    promtool_clean(capsys.readouterr().out)


def test_the_command_line_refuses_what_the_collector_would_not_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:
        gm.main(["--out", str(tmp_path / "qwen3_gpu.txt")])
    assert refused.value.code == 2 and ".prom" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        gm.main(["--out", str(tmp_path / "a.prom"), "--print"])
    assert gm.main(["--out", str(tmp_path / "missing-dir" / "a.prom"), "--nvidia-smi", "/nonexistent",
                    "--kernel-log-command", "false"]) == 1


def test_the_zipapp_entry_point_lists_the_tool():
    assert "gpu-metrics" in hosttools_main.TOOLS
    result = subprocess.run([sys.executable, "-m", "qwen3_hosttools", "gpu-metrics", "--help"], capture_output=True,
                            text=True, cwd=REPO / "hosttools", check=False, timeout=60)
    assert result.returncode == 0 and "--kernel-log-command" in result.stdout
