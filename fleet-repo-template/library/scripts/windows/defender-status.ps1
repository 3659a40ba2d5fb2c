# Check: Microsoft Defender real-time protection is on and signatures are at most PARAM_max_days old.
$ErrorActionPreference = 'Stop'
$maxDays = 3
if ($env:PARAM_max_days) { $maxDays = [int]$env:PARAM_max_days }
try {
    $status = Get-MpComputerStatus
} catch {
    Write-Output "cannot read Defender status: $($_.Exception.Message)"
    exit 2
}
if (-not $status.RealTimeProtectionEnabled) {
    Write-Output 'Defender real-time protection is off'
    exit 1
}
if ($status.AntivirusSignatureAge -gt $maxDays) {
    Write-Output "Defender signatures are $($status.AntivirusSignatureAge) days old"
    exit 1
}
Write-Output "Defender on, signatures $($status.AntivirusSignatureAge) day(s) old"
exit 0
