#!/usr/bin/env bash
# Check: the account PARAM_user cannot log in (missing, or locked shell) under PARAM_root,
# and LightDM's guest session is off.
set -euo pipefail
root="${PARAM_root:-/}"
user="${PARAM_user:-guest}"
r="${root%/}"
shell="$(awk -F: -v u="$user" '$1 == u { print $7 }' "$r/etc/passwd" 2>/dev/null || true)"
case "$shell" in
  ""|*/nologin|*/false) ;;
  *) echo "$user can log in (shell $shell)"; exit 1 ;;
esac
for file in "$r/etc/lightdm/lightdm.conf" "$r"/etc/lightdm/lightdm.conf.d/*.conf; do
  [[ -f "$file" ]] || continue
  if grep -Eq '^[[:space:]]*allow-guest[[:space:]]*=[[:space:]]*true' -- "$file"; then
    echo "LightDM allows guest sessions ($(basename "$file"))"
    exit 1
  fi
done
echo "no guest login"
exit 0
