#!/bin/bash
# call 5 (only if needed): the 1.7B FP8 product argv with the c=8 anomaly check
export CALL_DEADLINE=$(( $(date +%s) + 565 ))
cp .gw/*.py .gw/*.sh .gw/*.json .gw/*.pyz /tmp/gw/ 2>/dev/null
cd /tmp/gw && DROP_CACHES=1 START_LIMIT=200 python3 run_profile.py ${1:-S-vllm-1.7b-fp8} vllm-1.7b-fp8 product
cd /tmp/results && tar czf $OUT/results_call5.tgz ./S-*; for d in /tmp/results/S-*/; do cp $d/summary.json $OUT/summary_$(basename $d).json; done
