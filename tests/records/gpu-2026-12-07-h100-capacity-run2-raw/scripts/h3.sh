#!/bin/bash
# H200 call 3: last piece in, unpack vLLM 0.24.0 to /tmp/site, then cap_h.py in the background (start vLLM once, sweep); poll
T0=$(date +%s); END=$(( T0 + ${H3_SECONDS:-575} ))
mv .c3/* /tmp/payload/ 2>/dev/null; cp .gw/*.py .gw/*.sh .gw/*.json .gw/*.pyz /tmp/gw/ 2>/dev/null
cd /tmp/payload && sha256sum -c site.sha256 || echo "CHECKSUM MISMATCH"
mkdir -p /tmp/site; cat site.tar.xz.[0-9] | xz -dc -T0 | tar xf - -C /tmp/site; echo "extracted in $(( $(date +%s)-T0 ))s"
python3 -m compileall -q -j 16 /tmp/site > /dev/null 2>&1; echo "compileall done $(( $(date +%s)-T0 ))s"
PID=$(cat /tmp/gw/gen.pid); while kill -0 $PID 2>/dev/null; do sleep 1; done; tail -3 /tmp/results/gen.log
cd /tmp/gw && CAP_END=$(( T0 + ${CAP_TOTAL:-1000} )) setsid nohup python3 /tmp/gw/cap_h.py > /tmp/results/cap.out 2>&1 < /dev/null & echo $! > /tmp/gw/cap.pid
bash /tmp/gw/hpoll.sh $END
