#!/usr/bin/env bash
# Check: journald keeps logs on disk with SystemMaxUse of at least PARAM_min_mb MiB (PARAM_root).
set -euo pipefail
root="${PARAM_root:-/}"
min_mb="${PARAM_min_mb:-512}"
[[ "$min_mb" =~ ^[0-9]+$ ]] || { echo "min_mb must be a whole number"; exit 2; }
r="${root%/}"
value=""
for file in "$r/etc/systemd/journald.conf" "$r"/etc/systemd/journald.conf.d/*.conf; do
  [[ -f "$file" ]] || continue
  line="$(grep -E '^[[:space:]]*SystemMaxUse=' -- "$file" | tail -n 1 || true)"
  [[ -n "$line" ]] && value="${line#*=}"
done
[[ -n "$value" ]] || { echo "SystemMaxUse is not set (journald's default is 10% of the disk)"; exit 1; }
number="${value%[KMGTkmgt]}"
unit="${value:${#number}}"
[[ "$number" =~ ^[0-9]+$ ]] || { echo "cannot read SystemMaxUse=$value"; exit 2; }
case "${unit^^}" in
  K) mb=$((number / 1024)) ;; M|"") mb=$number ;; G) mb=$((number * 1024)) ;; T) mb=$((number * 1024 * 1024)) ;;
esac
if (( mb >= min_mb )); then
  echo "journald SystemMaxUse=$value"
  exit 0
fi
echo "journald SystemMaxUse=$value is below ${min_mb}M"
exit 1
