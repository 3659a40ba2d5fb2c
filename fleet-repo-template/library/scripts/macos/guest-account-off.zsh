#!/bin/zsh
# Check: the macOS guest user is off (com.apple.loginwindow GuestEnabled).
set -euo pipefail
enabled="$(defaults read /Library/Preferences/com.apple.loginwindow GuestEnabled 2>/dev/null || print 0)"
if [[ "$enabled" == "1" ]]; then
  print -r -- "the guest user is enabled"
  exit 1
fi
print -r -- "the guest user is off"
exit 0
