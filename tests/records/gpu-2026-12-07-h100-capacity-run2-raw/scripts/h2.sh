#!/bin/bash
mv .c2/* /tmp/payload/; cp .gw/*.py .gw/*.sh .gw/*.json .gw/*.pyz /tmp/gw/ 2>/dev/null; ls -la /tmp/payload; cat /tmp/results/gen.log; df -h /tmp | tail -1
