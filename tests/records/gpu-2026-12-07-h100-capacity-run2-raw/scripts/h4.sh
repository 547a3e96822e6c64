#!/bin/bash
cp .gw/*.py .gw/*.sh /tmp/gw/ 2>/dev/null; bash /tmp/gw/hpoll.sh $(( $(date +%s) + ${H4_SECONDS:-540} ))
