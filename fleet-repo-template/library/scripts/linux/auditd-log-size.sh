#!/usr/bin/env bash
# Check: auditd keeps at least PARAM_min_mb MiB per log file (max_log_file in auditd.conf, PARAM_root).
set -euo pipefail
root="${PARAM_root:-/}"
min_mb="${PARAM_min_mb:-8}"
conf="${root%/}/etc/audit/auditd.conf"
[[ -f "$conf" ]] || { echo "auditd is not configured ($conf is missing)"; exit 1; }
size="$(awk -F= '$1 ~ /^[[:space:]]*max_log_file[[:space:]]*$/ { gsub(/[[:space:]]/, "", $2); v = $2 } END { print v }' "$conf")"
[[ "$size" =~ ^[0-9]+$ ]] || { echo "max_log_file is not set"; exit 1; }
if (( size >= min_mb )); then
  echo "auditd max_log_file = $size MiB"
  exit 0
fi
echo "auditd max_log_file = $size MiB, below $min_mb"
exit 1
