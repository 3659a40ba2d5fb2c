#!/usr/bin/env bash
# Remediation: block the usb-storage module (takes effect for new devices; unloads it when unused).
set -euo pipefail
root="${PARAM_root:-/}"
dir="${root%/}/etc/modprobe.d"
mkdir -p -- "$dir"
printf '# managed by fleetward: usb-storage\ninstall usb-storage /bin/false\nblacklist usb-storage\n' \
  > "$dir/fleetward-usb-storage.conf"
if [[ "$root" == "/" ]]; then
  modprobe -r usb-storage 2>/dev/null || true
fi
echo "usb-storage blocked"
