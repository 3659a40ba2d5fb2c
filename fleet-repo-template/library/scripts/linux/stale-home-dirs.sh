#!/usr/bin/env bash
# Check: no home folder under PARAM_root/home is untouched for more than PARAM_days days.
set -euo pipefail
root="${PARAM_root:-/}"
days="${PARAM_days:-90}"
[[ "$days" =~ ^[0-9]+$ ]] || { echo "days must be a whole number"; exit 2; }
home="${root%/}/home"
[[ -d "$home" ]] || { echo "no $home"; exit 0; }
mapfile -t stale < <(find "$home" -mindepth 1 -maxdepth 1 -type d -mtime "+$days" -printf '%f\n' | sort)
if (( ${#stale[@]} == 0 )); then
  echo "no home folder unused for more than $days days"
  exit 0
fi
echo "unused for more than $days days: ${stale[*]}"
exit 1
