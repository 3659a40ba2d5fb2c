#!/usr/bin/env bash
# Check: login.defs under PARAM_root expires passwords within PARAM_max_days and asks for
# at least PARAM_min_length characters.
set -euo pipefail
root="${PARAM_root:-/}"
max_days="${PARAM_max_days:-90}"
min_length="${PARAM_min_length:-12}"
defs="${root%/}/etc/login.defs"
[[ -f "$defs" ]] || { echo "no $defs"; exit 2; }
value() { awk -v key="$1" '$1 == key { v = $2 } END { print v }' "$defs"; }
problems=()
days="$(value PASS_MAX_DAYS)"
[[ "$days" =~ ^[0-9]+$ ]] && (( days <= max_days )) || problems+=("PASS_MAX_DAYS is '${days:-unset}' (at most $max_days)")
length="$(value PASS_MIN_LEN)"
[[ "$length" =~ ^[0-9]+$ ]] && (( length >= min_length )) || problems+=("PASS_MIN_LEN is '${length:-unset}' (at least $min_length)")
if (( ${#problems[@]} == 0 )); then
  echo "password policy: expire after $days days, at least $length characters"
  exit 0
fi
echo "password policy: ${problems[*]}"
exit 1
