#!/bin/zsh
# Check: FileVault is on (fdesetup status).
set -euo pipefail
state="$(fdesetup status 2>&1)" || { print -r -- "fdesetup failed: $state"; exit 2; }
if [[ "$state" == *"FileVault is On"* ]]; then
  print -r -- "FileVault is on"
  exit 0
fi
print -r -- "${state%%$'\n'*}"
exit 1
