#!/bin/bash
# follow cap_h.py until it ends or the call's end; pack what exists into $OUT (generated texts stripped by cap_h.py)
END=$1; PID=$(cat /tmp/gw/cap.pid); N=0
while kill -0 $PID 2>/dev/null && [ $(date +%s) -lt $END ]; do
  sleep 3; L=$(wc -l < /tmp/results/cap.out); [ $L -gt $N ] && sed -n "$((N+1)),${L}p" /tmp/results/cap.out; N=$L
done
L=$(wc -l < /tmp/results/cap.out); [ $L -gt $N ] && sed -n "$((N+1)),${L}p" /tmp/results/cap.out
kill -0 $PID 2>/dev/null && echo "== cap_h.py still running" || echo "== cap_h.py finished"
(cd /tmp/results && tar czf $OUT/results.tgz --exclude='*.tgz' --exclude='*.raw.json' .); ls -la $OUT
