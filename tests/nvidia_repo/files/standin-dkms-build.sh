#!/bin/sh
# STAND-IN build of NVIDIA's kernel modules, run by the real dkms (MAKE[0] in dkms.conf). It needs what the real
# build needs from the headers package (the kernel's build tree) and writes placeholder module files.
set -e
kernel=$1
test -e "/lib/modules/$kernel/build/Makefile" || { echo "no kernel build tree for $kernel" >&2; exit 1; }
for module in nvidia nvidia-uvm nvidia-modeset; do printf 'STAND-IN %s module for %s\n' "$module" "$kernel" > "$module.ko"; done
