#!/usr/bin/env bash
# Check: sshd_config under PARAM_root refuses root and password logins.
set -euo pipefail
root="${PARAM_root:-/}"
config="${root%/}/etc/ssh/sshd_config"
[[ -f "$config" ]] || { echo "no $config: sshd is not configured here"; exit 0; }
setting() {  # the first value of a keyword, as sshd reads it (first one wins, case-insensitive)
  awk -v key="$1" 'tolower($1) == tolower(key) { print tolower($2); exit }' "$config"
}
problems=()
[[ "$(setting PermitRootLogin)" == "no" ]] || problems+=("PermitRootLogin is not 'no'")
[[ "$(setting PasswordAuthentication)" == "no" ]] || problems+=("PasswordAuthentication is not 'no'")
if (( ${#problems[@]} == 0 )); then
  echo "sshd: root login and password authentication are off"
  exit 0
fi
echo "sshd: ${problems[*]}"
exit 1
