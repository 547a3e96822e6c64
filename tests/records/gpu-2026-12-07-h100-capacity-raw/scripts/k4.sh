#!/bin/bash
cp .gw/*.py .gw/*.sh /tmp/gw/ 2>/dev/null; bash /tmp/gw/poll.sh $(( $(date +%s) + ${K4_SECONDS:-540} ))
