#!/usr/bin/env bash
# Remediation: start (or restart) the systemd unit PARAM_service and confirm it is active.
set -euo pipefail
service="${PARAM_service:?PARAM_service is required}"
[[ "$service" =~ ^[A-Za-z0-9@._-]+$ ]] || { echo "not a unit name: '$service'"; exit 2; }
systemctl restart -- "$service"
if systemctl is-active --quiet -- "$service"; then
  echo "$service restarted and active"
  exit 0
fi
echo "$service did not come up after a restart"
exit 1
