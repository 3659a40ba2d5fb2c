#!/usr/bin/env bash
# Check: ClamAV signatures under PARAM_root/var/lib/clamav are at most PARAM_max_days days old.
set -euo pipefail
root="${PARAM_root:-/}"
max_days="${PARAM_max_days:-3}"
[[ "$max_days" =~ ^[0-9]+$ ]] || { echo "max_days must be a whole number"; exit 2; }
dir="${root%/}/var/lib/clamav"
newest=""
for db in "$dir"/daily.cvd "$dir"/daily.cld; do
  [[ -f "$db" ]] && newest="$db"
done
[[ -n "$newest" ]] || { echo "no ClamAV signatures in $dir"; exit 1; }
if [[ -n "$(find "$newest" -mtime "+$max_days")" ]]; then
  echo "ClamAV signatures older than $max_days days ($(basename "$newest"))"
  exit 1
fi
echo "ClamAV signatures are current ($(basename "$newest"))"
exit 0
