#!/usr/bin/env bash
# The GPU run (device tool, lent GPU machine; see tests/records/). Runs the playbooks against the machine
# itself with connection local and records what they print under $OUT:
#   1. preflight for vllm-fp8 (must accept; prints the GPU facts read),
#   2. gpu_host's "driver already present" path (must change nothing: changed=0),
#   3. the same profile made too large (max_num_seqs 64), and with tensor_parallel_size beyond the GPU count
#      (must be refused, naming the numbers),
#   4. cpu-demo (GPU checks skipped, loudly),
#   5. preflight_kv_cache_policy=one_sequence with max_num_seqs 48 (accepted with a warning saying how many fit),
#   6. an Ollama profile (ollama-q8_0: the Ollama environment and Modelfile checks, then the GPU checks).
# Preflight also runs every role's tasks/validate.yml: tests/gpu/inventory.yml sets test-only placeholder secrets.
# Carried wheels in .whl/ provide ansible-core (ansible-core, resolvelib, cryptography, cffi, pycparser).
# Locally (no GPU) the same script runs against the nvidia-smi test double: NVIDIA_SMI=<path to double>; then
# step 2 runs with --check too, so a local run changes nothing on the machine it runs on.
set -u
OUT=${OUT:-/tmp/gpu-preflight-out}
mkdir -p "$OUT"
if [ -x .venv/bin/ansible-playbook ]; then
  PLAYBOOK=(.venv/bin/ansible-playbook)
else
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
  PLAYBOOK=(python3 -m ansible.cli.playbook)
fi
export ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_NOCOLOR=1 LC_ALL=C.UTF-8 LANG=C.UTF-8
export ANSIBLE_LOCAL_TEMP=/tmp/gp-ansible-local ANSIBLE_REMOTE_TEMP=/tmp/gp-ansible-remote
SMI=${NVIDIA_SMI:-nvidia-smi}
EXTRA=(-i tests/gpu/inventory.yml -e "preflight_nvidia_smi_command=$SMI" -e "gpu_host_nvidia_smi_command=$SMI")

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel: $(uname -r)"; grep PRETTY_NAME /etc/os-release
  echo "python: $(python3 --version 2>&1)"; echo "ansible: $("${PLAYBOOK[@]}" --version 2>&1 | head -1)"
  echo "pid1: $(cat /proc/1/comm)"
  echo "--- $SMI --query-gpu=index,name,uuid,driver_version,memory.total,memory.used,compute_cap,persistence_mode --format=csv,noheader,nounits"
  "$SMI" --query-gpu=index,name,uuid,driver_version,memory.total,memory.used,compute_cap,persistence_mode --format=csv,noheader,nounits
  echo "--- $SMI (header)"; "$SMI" | head -4
} >"$OUT/environment.txt" 2>&1

step() {  # step NAME EXPECT(pass|fail) ARGS...
  local name=$1 expect=$2; shift 2
  "${PLAYBOOK[@]}" "${EXTRA[@]}" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local verdict=OK
  if { [ "$expect" = pass ] && [ $rc -ne 0 ]; } || { [ "$expect" = fail ] && [ $rc -eq 0 ]; }; then verdict=UNEXPECTED; fi
  echo "== $name: rc=$rc (expected $expect) $verdict" | tee -a "$OUT/summary.txt"
  grep -E "nvidia-smi ok|driver [0-9]|WARNING:|refused|validated the inventory|driver already present|toolkit |repository |changed=|failed=" \
    "$OUT/$name.log" | grep -vE '^\s*$' | sed 's/^/    /' | tee -a "$OUT/summary.txt"
  # The VRAM breakdown spans several lines of the debug message: keep all of them.
  sed -n '/msg: .VRAM per GPU/,/sequences fit/p' "$OUT/$name.log" | sed 's/^/    /' | tee -a "$OUT/summary.txt"
}
: >"$OUT/summary.txt"
cat "$OUT/environment.txt"
step 1-preflight-vllm-fp8 pass playbooks/preflight.yml --check
marker=$(mktemp); sleep 1
STEP2_MODE=()
if [ -n "${NVIDIA_SMI:-}" ]; then STEP2_MODE=(--check); echo "== step 2 runs with --check (local run, test double)"; fi
step 2-gpu_host-driver-present pass playbooks/gpu_host.yml --diff "${STEP2_MODE[@]}"
echo "    files under /etc changed during step 2: $(find /etc -newer "$marker" -type f 2>/dev/null | wc -l)" | tee -a "$OUT/summary.txt"
find /etc -newer "$marker" -type f 2>/dev/null | head -5 | sed 's/^/      /' | tee -a "$OUT/summary.txt"
rm -f "$marker"
step 3a-preflight-too-large fail playbooks/preflight.yml --check \
  -e '{"llm_profile_overrides": {"max_num_seqs": 64}}'
step 3b-preflight-tp2 fail playbooks/preflight.yml --check -e '{"llm_profile_overrides": {"tensor_parallel_size": 2}}'
step 4-preflight-cpu-demo pass playbooks/preflight.yml --check -e llm_profile=cpu-demo
step 5-preflight-one-sequence pass playbooks/preflight.yml --check -e preflight_kv_cache_policy=one_sequence \
  -e '{"llm_profile_overrides": {"max_num_seqs": 48}}'
step 6-preflight-ollama-q8_0 pass playbooks/preflight.yml --check -e llm_profile=ollama-q8_0
! grep -q UNEXPECTED "$OUT/summary.txt"
