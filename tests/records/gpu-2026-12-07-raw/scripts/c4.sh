#!/bin/bash
# call 4: AWQ and GPTQ product argv (random int4 checkpoints), then the 1.7B FP8 product argv with the c=8 anomaly check
export CALL_DEADLINE=$(( $(date +%s) + 565 ))
cp .gw/*.py .gw/*.sh .gw/*.json .gw/*.pyz /tmp/gw/ 2>/dev/null
M=$(cat /tmp/gw/models_path); cat /tmp/results/gen.log | tail -6
MISS=""; for n in Qwen3-14B-AWQ Qwen3-14B-GPTQ-Int4 Qwen3-1.7B-FP8; do [ -f $M/DONE-$n ] || MISS="$MISS,$n"; done
if [ -n "$MISS" ]; then   # not written (no disk, or stopped in call 3): make room (14B FP8 is done with), write now
  echo "writing ${MISS#,}"; rm -rf $M/Qwen3-14B-FP8 $M/.dense-*
  for n in ${MISS//,/ }; do rm -rf $M/$n; done
  (cd /tmp/gw && MODELS=$M TOKDIR=/tmp/gw/tok GEN_ONLY=${MISS#,} python3 gen_models2.py 2>&1 | tail -5)
fi
save() { (cd /tmp/results && tar czf $OUT/results_call4.tgz --exclude='./A-*' --exclude='./CAP-*' .); }
cd /tmp/gw
DROP_CACHES=1 START_LIMIT=200 python3 run_profile.py AWQ-vllm-awq vllm-awq short; save
DROP_CACHES=1 START_LIMIT=200 python3 run_profile.py GPTQ-vllm-gptq-int4 vllm-gptq-int4 short; save
if [ $(( CALL_DEADLINE - $(date +%s) )) -gt 200 ]; then
  DROP_CACHES=1 START_LIMIT=180 python3 run_profile.py S-vllm-1.7b-fp8 vllm-1.7b-fp8 product; save
else echo "1.7B run left for call 5"; fi
for d in /tmp/results/*/; do case $d in */A-*|*/CAP-*) continue;; esac; [ -f $d/summary.json ] && cp $d/summary.json $OUT/summary_$(basename $d).json; done
echo "call4 left $(( CALL_DEADLINE - $(date +%s) ))s"
