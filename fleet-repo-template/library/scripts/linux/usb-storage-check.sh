#!/usr/bin/env bash
# Check: the usb-storage kernel module is blocked by modprobe configuration under PARAM_root.
set -euo pipefail
root="${PARAM_root:-/}"
for file in "${root%/}"/etc/modprobe.d/*.conf; do
  [[ -f "$file" ]] || continue
  if grep -Eq '^[[:space:]]*(install[[:space:]]+usb[-_]storage[[:space:]]+/bin/(true|false)|blacklist[[:space:]]+usb[-_]storage)' -- "$file"; then
    echo "usb-storage blocked in $(basename "$file")"
    exit 0
  fi
done
echo "usb-storage is not blocked"
exit 1
