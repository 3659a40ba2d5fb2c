#!/usr/bin/env bash
# Check: the filesystem holding PARAM_path has at least PARAM_min_free_percent free.
set -euo pipefail
path="${PARAM_path:-/}"
min="${PARAM_min_free_percent:-10}"
[[ "$min" =~ ^[0-9]+$ ]] || { echo "min_free_percent must be a whole number, got '$min'"; exit 2; }
[[ -e "$path" ]] || { echo "$path does not exist"; exit 2; }
used="$(df -P -- "$path" | awk 'NR == 2 { sub("%", "", $5); print $5 }')"
[[ "$used" =~ ^[0-9]+$ ]] || { echo "cannot read the usage of $path"; exit 2; }
free=$((100 - used))
if (( free >= min )); then
  echo "$path: ${free}% free (at least ${min}% required)"
  exit 0
fi
echo "$path: only ${free}% free (at least ${min}% required)"
exit 1
