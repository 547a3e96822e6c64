#!/bin/bash
# call 3: last piece in, unpack vLLM 0.24.0 to /tmp/site, smoke test, then A = vllm-fp8 product argv, CAP = max_num_seqs 64 curve
export CALL_DEADLINE=$(( $(date +%s) + 565 ))
mv .c3/* /tmp/payload/ 2>/dev/null; cp .gw/*.py .gw/*.sh .gw/*.json .gw/*.pyz /tmp/gw/ 2>/dev/null
cd /tmp/payload && sha256sum -c site.sha256 || echo "CHECKSUM MISMATCH"
mkdir -p /tmp/site; T=$(date +%s)
if command -v xz >/dev/null; then cat site.tar.xz.[0-9] | xz -dc -T0 | tar xf - -C /tmp/site
else cat site.tar.xz.[0-9] | python3 -c "import lzma,sys,tarfile; tarfile.open(fileobj=lzma.open(sys.stdin.buffer), mode='r|').extractall('/tmp/site')"; fi
echo "extracted in $(( $(date +%s)-T ))s: $(du -sh /tmp/site)"
python3 -m compileall -q -j 16 /tmp/site > /dev/null 2>&1; echo "compileall done $(( $(date +%s)-T ))s"
cd /tmp && PYTHONPATH=/tmp/site python3 /tmp/gw/smoke.py 2>&1 | grep -v Warning | tail -6
M=$(cat /tmp/gw/models_path)
PID=$(cat /tmp/gw/gen.pid); while kill -0 $PID 2>/dev/null && [ $(( CALL_DEADLINE - $(date +%s) )) -gt 440 ]; do sleep 2; done
if kill -0 $PID 2>/dev/null; then echo "gen still running: stopped (call 4 writes what is missing)"; kill -- -$PID 2>/dev/null || kill $PID; sleep 3; fi
cat /tmp/results/gen.log; ls $M; du -sh $M/* | cat
save() { (cd /tmp/results && tar czf $OUT/results_call3.tgz .); }
cd /tmp/gw
DROP_CACHES=1 START_LIMIT=240 python3 run_profile.py A-vllm-fp8 vllm-fp8 product; save
START_LIMIT=200 python3 run_profile.py CAP-vllm-fp8-mns64 vllm-fp8-cap64 capacity; save
for d in /tmp/results/*/; do [ -f $d/summary.json ] && cp $d/summary.json $OUT/summary_$(basename $d).json; done
echo "call3 left $(( CALL_DEADLINE - $(date +%s) ))s"
