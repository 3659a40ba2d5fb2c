#!/usr/bin/env bash
# Check: no PEM certificate (*.pem, *.crt) in PARAM_dir expires within PARAM_days days.
set -euo pipefail
dir="${PARAM_dir:-/etc/ssl/certs}"
days="${PARAM_days:-30}"
[[ "$days" =~ ^[0-9]+$ ]] || { echo "days must be a whole number"; exit 2; }
[[ -d "$dir" ]] || { echo "no folder $dir"; exit 2; }
command -v openssl >/dev/null || { echo "openssl is not installed"; exit 2; }
expiring=()
checked=0
while IFS= read -r -d '' cert; do
  openssl x509 -noout -in "$cert" 2>/dev/null || continue
  checked=$((checked + 1))
  openssl x509 -noout -checkend $((days * 86400)) -in "$cert" >/dev/null || expiring+=("$(basename "$cert")")
done < <(find "$dir" -maxdepth 1 \( -name '*.pem' -o -name '*.crt' \) -type f -print0 | sort -z)
if (( ${#expiring[@]} == 0 )); then
  echo "$checked certificate(s) valid for at least $days more days"
  exit 0
fi
echo "expiring within $days days: ${expiring[*]}"
exit 1
