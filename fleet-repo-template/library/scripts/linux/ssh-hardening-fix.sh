#!/usr/bin/env bash
# Remediation: put 'PermitRootLogin no' and 'PasswordAuthentication no' at the top of sshd_config
# (sshd uses the first value it reads), once. Reload sshd yourself or with PARAM_reload=true.
set -euo pipefail
root="${PARAM_root:-/}"
reload="${PARAM_reload:-false}"
config="${root%/}/etc/ssh/sshd_config"
[[ -f "$config" ]] || { echo "no $config"; exit 2; }
marker="# managed by fleetward: ssh-hardening"
if ! grep -qxF "$marker" "$config"; then
  tmp="$(mktemp "$config.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  { printf '%s\nPermitRootLogin no\nPasswordAuthentication no\n\n' "$marker"; cat "$config"; } > "$tmp"
  chmod --reference="$config" "$tmp" 2>/dev/null || chmod 600 "$tmp"
  mv -f "$tmp" "$config"
  trap - EXIT
fi
if [[ "$reload" == "true" ]]; then
  systemctl reload ssh 2>/dev/null || systemctl reload sshd
fi
echo "sshd_config hardened"
