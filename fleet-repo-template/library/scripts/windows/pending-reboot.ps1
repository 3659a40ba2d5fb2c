# Check: no reboot is pending (Component Based Servicing, Windows Update, pending file renames).
$ErrorActionPreference = 'Stop'
$reasons = @()
if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
    $reasons += 'component servicing'
}
if (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') {
    $reasons += 'Windows Update'
}
$renames = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' `
    -Name PendingFileRenameOperations -ErrorAction SilentlyContinue
if ($renames -and $env:PARAM_include_file_renames -ne 'false') { $reasons += 'pending file renames' }
if ($reasons.Count -eq 0) {
    Write-Output 'no reboot pending'
    exit 0
}
Write-Output ('reboot pending: ' + ($reasons -join ', '))
exit 1
