#!/bin/bash
# H200 call 1: piece 0 in, probe, GPU metrics (idle card, our host tool), start writing the random 14B block-FP8 checkpoint
T0=$(date +%s); mkdir -p /tmp/payload /tmp/results/gm
mv .c1/* /tmp/payload/
rm -rf /tmp/gw && cp -r .gw /tmp/gw && mkdir -p /tmp/gw/tok && python3 -c "import tarfile; tarfile.open('/tmp/gw/tok.tar.xz').extractall('/tmp/gw/tok')"
echo "== probe $(date -u +%FT%TZ)"; nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,compute_cap,persistence_mode --format=csv; uname -r; nproc; free -g | head -2; df -h /tmp /dev/shm | cat
python3 -c "import torch,sys; print('python', sys.version.split()[0], 'torch', torch.__version__, torch.version.cuda)"
M=/tmp/models; AV=$(df --output=avail -B1G /tmp | tail -1 | tr -d ' '); [ "$AV" -lt 20 ] && M=/dev/shm/models
echo $M > /tmp/gw/models_path; echo "models -> $M (tmp avail ${AV}G)"
cd /tmp/gw && MODELS=$M TOKDIR=/tmp/gw/tok GEN_ONLY=Qwen3-14B-FP8 setsid nohup python3 /tmp/gw/gen_models2.py > /tmp/results/gen.log 2>&1 < /dev/null &
echo $! > /tmp/gw/gen.pid
bash /tmp/gw/hgm.sh idle
cp /tmp/results/gm/* $OUT/ 2>/dev/null
sleep 8; cat /tmp/results/gen.log; echo "h1 took $(( $(date +%s)-T0 ))s"
