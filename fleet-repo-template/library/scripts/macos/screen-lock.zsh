#!/bin/zsh
# Check: the screen saver starts within PARAM_max_seconds seconds for the console user.
set -euo pipefail
max="${PARAM_max_seconds:-900}"
user="$(stat -f %Su /dev/console)"
[[ -n "$user" && "$user" != "root" ]] || { print -r -- "no console user"; exit 2; }
idle="$(sudo -u "$user" defaults -currentHost read com.apple.screensaver idleTime 2>/dev/null || print 0)"
if (( idle > 0 && idle <= max )); then
  print -r -- "screen saver after ${idle}s"
  exit 0
fi
print -r -- "screen saver idle time is ${idle}s (at most ${max}s, not 0)"
exit 1
