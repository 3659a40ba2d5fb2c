#!/usr/bin/env bash
# Check: a time source is configured (systemd-timesyncd NTP= or chrony server/pool) under PARAM_root.
set -euo pipefail
root="${PARAM_root:-/}"
r="${root%/}"
found=""
for file in "$r/etc/systemd/timesyncd.conf" "$r"/etc/systemd/timesyncd.conf.d/*.conf; do
  [[ -f "$file" ]] || continue
  line="$(grep -E '^[[:space:]]*NTP=[^[:space:]]' -- "$file" | tail -n 1 || true)"
  [[ -n "$line" ]] && found="timesyncd ${line#*=}"
done
for file in "$r/etc/chrony/chrony.conf" "$r/etc/chrony.conf"; do
  [[ -f "$file" ]] || continue
  line="$(grep -E '^[[:space:]]*(server|pool)[[:space:]]+' -- "$file" | head -n 1 || true)"
  [[ -n "$line" ]] && found="chrony $(awk '{ print $2 }' <<<"$line")"
done
if [[ -n "$found" ]]; then
  echo "time source: $found"
  exit 0
fi
echo "no NTP server configured for timesyncd or chrony"
exit 1
