#!/usr/bin/env bash
# Check: no reboot is pending (Debian/Ubuntu /var/run/reboot-required under PARAM_root).
set -euo pipefail
root="${PARAM_root:-/}"
flag="${root%/}/var/run/reboot-required"
if [[ -e "$flag" ]]; then
  packages="${root%/}/var/run/reboot-required.pkgs"
  why=""
  [[ -f "$packages" ]] && why=" for: $(sort -u -- "$packages" | head -n 5 | paste -sd, -)"
  echo "a reboot is pending$why"
  exit 1
fi
echo "no reboot pending"
exit 0
