#!/usr/bin/env bash
# Check: the process whose id is in PARAM_pidfile is alive (for daemons without a service unit).
set -euo pipefail
pidfile="${PARAM_pidfile:?PARAM_pidfile is required}"
if [[ ! -f "$pidfile" ]]; then
  echo "no pid file at $pidfile"
  exit 1
fi
pid="$(head -n 1 -- "$pidfile" | tr -d '[:space:]')"
[[ "$pid" =~ ^[0-9]+$ ]] || { echo "$pidfile does not hold a process id"; exit 2; }
if kill -0 "$pid" 2>/dev/null || [[ -d "/proc/$pid" ]]; then
  echo "process $pid from $pidfile is running"
  exit 0
fi
echo "process $pid from $pidfile is not running"
exit 1
