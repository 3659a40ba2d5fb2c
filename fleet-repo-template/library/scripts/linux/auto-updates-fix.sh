#!/usr/bin/env bash
# Remediation: turn on apt's daily unattended upgrades (Debian/Ubuntu) under PARAM_root.
set -euo pipefail
root="${PARAM_root:-/}"
dir="${root%/}/etc/apt/apt.conf.d"
[[ -d "$dir" ]] || { echo "no $dir: not an apt system"; exit 2; }
printf '// managed by fleetward: auto-updates\nAPT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n' \
  > "$dir/20auto-upgrades"
echo "unattended upgrades on"
