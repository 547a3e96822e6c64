#!/bin/bash
# call 1: piece 0 in, probe the box, start writing all random checkpoints (gen_models2.py) in the background
T0=$(date +%s); mkdir -p /tmp/payload /tmp/results
mv .c1/* /tmp/payload/
rm -rf /tmp/gw && cp -r .gw /tmp/gw && mkdir -p /tmp/gw/tok && python3 -c "import tarfile; tarfile.open('/tmp/gw/tok.tar.xz').extractall('/tmp/gw/tok')"
echo "== probe $(date -u +%FT%TZ)"; nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,compute_cap,persistence_mode,clocks.max.sm,clocks.max.mem --format=csv
nvidia-smi | head -4; nproc; free -g | head -2; df -h / /tmp /dev/shm | cat; python3 -V; uname -r
for c in xz nvcc; do printf "%s=%s " $c "$(command -v $c)"; done; echo
python3 -m pip list 2>/dev/null | grep -i -E "^(torch|triton|requests|urllib3|safetensors|transformers|tokenizers) " | tr -s ' ' | paste -sd';'
AV=$(df --output=avail -B1G /tmp | tail -1 | tr -d ' '); SH=$(df --output=avail -B1G /dev/shm | tail -1 | tr -d ' ')
M=/tmp/models; ONLY=""
if [ "$AV" -lt 38 ]; then
  if [ "$SH" -ge 38 ]; then M=/dev/shm/models; else ONLY="Qwen3-14B-FP8,Qwen3-1.7B-FP8,Qwen3-14B-AWQ"; fi
fi
echo $M > /tmp/gw/models_path; echo "models -> $M (tmp avail ${AV}G, shm ${SH}G) only=[$ONLY]"
cd /tmp/gw && MODELS=$M TOKDIR=/tmp/gw/tok GEN_ONLY=$ONLY setsid nohup python3 /tmp/gw/gen_models2.py > /tmp/results/gen.log 2>&1 < /dev/null &
echo $! > /tmp/gw/gen.pid
sleep 20; cat /tmp/results/gen.log; ls -la /tmp/payload; echo "call1 took $(( $(date +%s)-T0 ))s"
