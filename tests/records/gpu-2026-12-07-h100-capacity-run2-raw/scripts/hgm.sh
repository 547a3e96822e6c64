#!/bin/bash
# (H200 copy of gm.sh, zipapp built at the current commit) GPU metrics for real: the raw query our tool parses, then the tool itself (default kernel-log command, then dmesg)
TAG=$1; D=/tmp/results/gm; mkdir -p $D; Q=$(python3 -c "import sys; sys.path.insert(0,'/tmp/gw/qwen3-hosttools-h.pyz'); from qwen3_hosttools import gpu_metrics as g; print(' '.join(g.QUERY_ARGS))")
{ echo "# $(date -u +%FT%TZ) nvidia-smi $Q"; nvidia-smi $Q; echo "# rc=$?"; } > $D/smi-$TAG.csv 2>&1
python3 /tmp/gw/qwen3-hosttools-h.pyz gpu-metrics --print > $D/gm-$TAG-journalctl.prom 2> $D/gm-$TAG-journalctl.err; echo "gpu-metrics (journalctl) rc=$?" >> $D/gm-$TAG-journalctl.err
python3 /tmp/gw/qwen3-hosttools-h.pyz gpu-metrics --print --kernel-log-command dmesg > $D/gm-$TAG-dmesg.prom 2> $D/gm-$TAG-dmesg.err; echo "gpu-metrics (dmesg) rc=$?" >> $D/gm-$TAG-dmesg.err
{ for c in journalctl dmesg; do echo "== $c: $(command -v $c)"; done; echo "== dmesg | tail -5"; dmesg 2>&1 | tail -5; echo "rc=$?"; echo "== dmesg | grep -ci nvrm"; dmesg 2>&1 | grep -ci nvrm; ls -la /dev/kmsg /var/log/kern.log 2>&1; } > $D/kernel-log-$TAG.txt 2>&1
cat $D/smi-$TAG.csv $D/gm-$TAG-*.err $D/kernel-log-$TAG.txt; head -30 $D/gm-$TAG-dmesg.prom
