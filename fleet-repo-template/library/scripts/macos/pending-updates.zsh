#!/bin/zsh
# Check: softwareupdate lists no pending update that requires a restart (PARAM_restart_only=false: none at all).
set -euo pipefail
restart_only="${PARAM_restart_only:-true}"
list="$(softwareupdate --list 2>&1)" || { print -r -- "softwareupdate failed"; exit 2; }
if [[ "$restart_only" == "true" ]]; then
  pending="$(print -r -- "$list" | grep -c 'Action: restart' || true)"
else
  pending="$(print -r -- "$list" | grep -c '^\* Label:' || true)"
fi
if (( pending == 0 )); then
  print -r -- "no pending updates"
  exit 0
fi
print -r -- "$pending pending update(s)"
exit 1
