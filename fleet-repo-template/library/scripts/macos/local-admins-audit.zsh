#!/bin/zsh
# Check: every member of the admin group is in PARAM_allowed (comma separated).
set -euo pipefail
allowed=",${PARAM_allowed:-root},"
members=(${(s: :)"$(dscl . -read /Groups/admin GroupMembership 2>/dev/null | sed 's/^GroupMembership://')"})
extra=()
for member in $members; do
  [[ "$allowed" == *",$member,"* ]] || extra+=("$member")
done
if (( ${#extra} == 0 )); then
  print -r -- "administrators are all allowed"
  exit 0
fi
print -r -- "not allowed as administrators: ${extra[*]}"
exit 1
