#!/usr/bin/env bash
# Check: Samba (if configured under PARAM_root) refuses SMB1: 'server min protocol' is SMB2 or later.
set -euo pipefail
root="${PARAM_root:-/}"
conf="${root%/}/etc/samba/smb.conf"
[[ -f "$conf" ]] || { echo "Samba is not configured"; exit 0; }
value="$(awk -F= 'tolower($1) ~ /^[[:space:]]*(server )?min protocol[[:space:]]*$/ { gsub(/[[:space:]]/, "", $2); v = toupper($2) } END { print v }' "$conf")"
case "$value" in
  SMB2*|SMB3*) echo "Samba min protocol $value"; exit 0 ;;
  "") echo "Samba min protocol not set (defaults differ by version; set 'server min protocol = SMB2')"; exit 1 ;;
  *) echo "Samba allows $value"; exit 1 ;;
esac
