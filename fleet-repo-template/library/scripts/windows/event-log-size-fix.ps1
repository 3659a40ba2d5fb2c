# Remediation: set the event log PARAM_log's maximum size to PARAM_min_mb MiB.
$ErrorActionPreference = 'Stop'
$log = 'Security'
if ($env:PARAM_log) { $log = $env:PARAM_log }
$minMb = 196
if ($env:PARAM_min_mb) { $minMb = [int]$env:PARAM_min_mb }
& wevtutil.exe set-log "$log" /maxsize:$([int64]$minMb * 1MB)
if ($LASTEXITCODE -ne 0) { Write-Output "wevtutil failed with $LASTEXITCODE"; exit 2 }
Write-Output "$log log set to $minMb MiB"
exit 0
