# Check: the Windows Time service synchronised within PARAM_max_hours hours.
$ErrorActionPreference = 'Stop'
$maxHours = 24
if ($env:PARAM_max_hours) { $maxHours = [int]$env:PARAM_max_hours }
$status = & w32tm.exe /query /status 2>&1
if ($LASTEXITCODE -ne 0) {
    Write-Output "w32tm cannot query the time service: $status"
    exit 2
}
$line = $status | Where-Object { $_ -match '^Last Successful Sync Time:\s*(.+)$' } | Select-Object -First 1
if (-not $line) {
    Write-Output 'the time service has never synchronised'
    exit 1
}
$last = [datetime]::Parse(($line -replace '^Last Successful Sync Time:\s*', ''))
$age = (Get-Date) - $last
if ($age.TotalHours -le $maxHours) {
    Write-Output "last time sync $([int]$age.TotalMinutes) minute(s) ago"
    exit 0
}
Write-Output "last time sync $([int]$age.TotalHours) hour(s) ago"
exit 1
