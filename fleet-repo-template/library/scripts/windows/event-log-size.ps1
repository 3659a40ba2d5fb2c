# Check: the event log PARAM_log keeps at least PARAM_min_mb MiB.
$ErrorActionPreference = 'Stop'
$log = 'Security'
if ($env:PARAM_log) { $log = $env:PARAM_log }
$minMb = 196
if ($env:PARAM_min_mb) { $minMb = [int]$env:PARAM_min_mb }
try {
    $found = Get-WinEvent -ListLog $log
} catch {
    Write-Output "no event log '$log'"
    exit 2
}
$mb = [math]::Floor($found.MaximumSizeInBytes / 1MB)
if ($mb -ge $minMb) {
    Write-Output "$log log keeps $mb MiB"
    exit 0
}
Write-Output "$log log keeps $mb MiB, below $minMb"
exit 1
