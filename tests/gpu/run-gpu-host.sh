#!/usr/bin/env bash
# gpu_host and preflight's GPU checks for real on the lent GPU machine (device tool; see tests/records/gpu-*-h200.md).
# Runs against the machine itself (connection local, tests/gpu/inventory.yml) and writes what it prints to $OUT:
#   0. environment; the nvidia_smi_facts module (ad hoc);
#   1. preflight's OS check (Ubuntu 24.04 passes; EL would be refused);
#   2. preflight's GPU checks for vllm-fp8 (default route: vllm 0.32.0, a CUDA 13 build -> driver >= 580.65.06)
#      against the real 580 driver: accepted;
#   3. the same with the CUDA 12 route: accepted, install rendered for CUDA 12 builds (not installed: no network);
#   4. gpu_host "driver present" path, check mode then for real: the CUDA-major rule keeps 580, changed=0;
#   5. gpu_host with a branch too old for the build (570): refused by the input rules before any change.
# Carried: the repository at this branch in .gpucarry/repo and the ansible-core wheels in .gpucarry/whl.
set -u
OUT=${OUT:-/tmp/gpu-host-out}
mkdir -p "$OUT"
if ! python3 -c 'import ansible' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site ${WHEELS:-.whl}/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_NOCOLOR=1 LC_ALL=C.UTF-8 LANG=C.UTF-8
export ANSIBLE_LOCAL_TEMP=/tmp/gh-ansible-local ANSIBLE_REMOTE_TEMP=/tmp/gh-ansible-remote
SMI=${NVIDIA_SMI:-nvidia-smi}
PB=(python3 -m ansible.cli.playbook -i tests/gpu/inventory.yml -e "gpu_host_nvidia_smi_command=$SMI" -e "preflight_nvidia_smi_command=$SMI")
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "kernel: $(uname -r)"; grep PRETTY_NAME /etc/os-release
  echo "python: $(python3 --version 2>&1)"; echo "ansible: $(python3 -m ansible.cli.playbook --version 2>&1 | head -1)"
  echo "pid1: $(cat /proc/1/comm)"; echo "boot identity: $(cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat)"
  echo "--- $SMI --query-gpu=... (the module's query)"
  "$SMI" --query-gpu=index,name,uuid,driver_version,memory.total,memory.used,compute_cap,persistence_mode --format=csv,noheader,nounits
  echo "--- $SMI (header)"; "$SMI" | head -4
  echo "--- module qwen3.deploy.nvidia_smi_facts (check mode)"
  python3 -m ansible.cli.adhoc localhost -i localhost, -c local --check -e ansible_python_interpreter=python3 \
    -m qwen3.deploy.nvidia_smi_facts -a "command=$SMI"
} >"$OUT/0-environment.txt" 2>&1
cat "$OUT/0-environment.txt"
: >"$OUT/summary.txt"
step() {  # step NAME EXPECT(pass|fail) ARGS...
  local name=$1 expect=$2; shift 2
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$? verdict=OK
  if { [ "$expect" = pass ] && [ $rc -ne 0 ]; } || { [ "$expect" = fail ] && [ $rc -eq 0 ]; }; then verdict=UNEXPECTED; fi
  echo "== $name: rc=$rc (expected $expect) $verdict" | tee -a "$OUT/summary.txt"
  tr -s ' \n' ' ' <"$OUT/$name.log" | grep -oE "(preflight refused|gpu_host refused|the profile needs NVIDIA driver|driver: [^;]*;|VLLM_INSTALL \{.{0,300}|gpu_host_driver_branch: |host [a-z-]+: nvidia-smi|localhost +: ok|gpu-under-test +: ok)[^\"]{0,300}" \
    | sed 's/^/    /' | tee -a "$OUT/summary.txt"
}
step 1-preflight-os pass "${PB[@]}" tests/gpu/preflight_os.yml -e gather=true
step 2-preflight-gpu-default-route pass "${PB[@]}" tests/gpu/preflight_gpu.yml --check -e llm_profile=vllm-fp8
step 3-preflight-gpu-cuda12-route pass "${PB[@]}" tests/gpu/preflight_gpu.yml --check -e llm_profile=vllm-fp8 \
  -e '{"llm_profile_overrides": {"vllm": {"cuda_route": "cuda12"}}}'
marker=$(mktemp); sleep 1
step 4a-gpu_host-check-mode pass "${PB[@]}" playbooks/gpu_host.yml --check
step 4b-gpu_host-driver-present pass "${PB[@]}" playbooks/gpu_host.yml
echo "    files under /etc changed during step 4: $(find /etc -newer "$marker" -type f 2>/dev/null | wc -l)" | tee -a "$OUT/summary.txt"
rm -f "$marker"
step 5-gpu_host-branch-too-old fail "${PB[@]}" playbooks/gpu_host.yml --check -e gpu_host_driver_branch=570
# The device tool returns at most 8 files: the step logs travel as one archive.
tar -czf "$OUT/logs.tgz" -C "$OUT" $(cd "$OUT" && ls ./*.log) && rm -f "$OUT"/*.log
! grep -q UNEXPECTED "$OUT/summary.txt"
