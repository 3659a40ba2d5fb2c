#!/bin/bash
# Remediation: turn the macOS application firewall on (and stealth mode when PARAM_stealth=true).
set -euo pipefail
fw=/usr/libexec/ApplicationFirewall/socketfilterfw
"$fw" --setglobalstate on >/dev/null
if [[ "${PARAM_stealth:-false}" == "true" ]]; then
  "$fw" --setstealthmode on >/dev/null
fi
echo "application firewall on"
