#!/usr/bin/env bash
# Check: members of the sudo, wheel and admin groups (PARAM_root/etc/group) are all in
# PARAM_allowed (comma separated).
set -euo pipefail
root="${PARAM_root:-/}"
allowed=",${PARAM_allowed:-root},"
group="${root%/}/etc/group"
[[ -f "$group" ]] || { echo "no $group"; exit 2; }
extra=()
while IFS=: read -r name _ _ members; do
  case "$name" in sudo|wheel|admin) ;; *) continue ;; esac
  IFS=, read -r -a people <<<"$members"
  for person in "${people[@]}"; do
    [[ -z "$person" || "$allowed" == *",$person,"* ]] || extra+=("$person ($name)")
  done
done < "$group"
if (( ${#extra[@]} == 0 )); then
  echo "administrators are all allowed"
  exit 0
fi
echo "not allowed as administrators: ${extra[*]}"
exit 1
