#!/usr/bin/env bash
# Remediation: delete regular files under PARAM_dir not modified for PARAM_days days.
# Stays on one filesystem, never follows links, never removes PARAM_dir itself.
set -euo pipefail
dir="${PARAM_dir:-/tmp}"
days="${PARAM_days:-7}"
[[ "$days" =~ ^[0-9]+$ ]] || { echo "days must be a whole number, got '$days'"; exit 2; }
[[ -d "$dir" && ! -L "$dir" ]] || { echo "$dir is not a folder"; exit 2; }
count="$(find "$dir" -xdev -mindepth 1 -type f -mtime "+$days" -print -delete | wc -l)"
find "$dir" -xdev -mindepth 1 -type d -empty -mtime "+$days" -delete 2>/dev/null || true
echo "removed $count file(s) older than $days day(s) from $dir"
