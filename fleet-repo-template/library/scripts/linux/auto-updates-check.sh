#!/usr/bin/env bash
# Check: automatic security updates are on: apt unattended-upgrades or dnf-automatic (PARAM_root).
set -euo pipefail
root="${PARAM_root:-/}"
r="${root%/}"
for file in "$r"/etc/apt/apt.conf.d/*; do
  [[ -f "$file" ]] || continue
  if grep -Eq '^[[:space:]]*APT::Periodic::Unattended-Upgrade[[:space:]]+"1"' -- "$file"; then
    echo "apt unattended-upgrades on ($(basename "$file"))"
    exit 0
  fi
done
file="$r/etc/dnf/automatic.conf"
if [[ -f "$file" ]] && grep -Eq '^[[:space:]]*apply_updates[[:space:]]*=[[:space:]]*(yes|true|1)' -- "$file"; then
  echo "dnf-automatic applies updates"
  exit 0
fi
echo "automatic updates are off (no unattended-upgrades or dnf-automatic apply_updates)"
exit 1
