#!/usr/bin/env bash
# Check: at least PARAM_min_volumes device-mapper volumes are LUKS (dm-crypt), read from sysfs
# under PARAM_root (/sys/block/*/dm/uuid starts with CRYPT-).
set -euo pipefail
root="${PARAM_root:-/}"
min="${PARAM_min_volumes:-1}"
[[ "$min" =~ ^[0-9]+$ ]] || { echo "min_volumes must be a whole number"; exit 2; }
count=0
names=()
for uuid in "${root%/}"/sys/block/*/dm/uuid; do
  [[ -f "$uuid" ]] || continue
  if [[ "$(head -c 6 -- "$uuid")" == "CRYPT-" ]]; then
    count=$((count + 1))
    names+=("$(basename "$(dirname "$(dirname "$uuid")")")")
  fi
done
if (( count >= min )); then
  echo "$count encrypted volume(s): ${names[*]}"
  exit 0
fi
echo "$count encrypted volume(s); at least $min required"
exit 1
