# Check: no local user profile is unused for more than PARAM_days days (special profiles ignored).
$ErrorActionPreference = 'Stop'
$days = 90
if ($env:PARAM_days) { $days = [int]$env:PARAM_days }
$cutoff = (Get-Date).AddDays(-$days)
$stale = Get-CimInstance -ClassName Win32_UserProfile |
    Where-Object { -not $_.Special -and -not $_.Loaded -and $_.LastUseTime -and $_.LastUseTime -lt $cutoff } |
    ForEach-Object { Split-Path -Leaf $_.LocalPath }
if (-not $stale) {
    Write-Output "no profile unused for more than $days days"
    exit 0
}
Write-Output ("unused for more than $days days: " + (@($stale) -join ', '))
exit 1
