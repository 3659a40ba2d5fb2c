# Check: Windows Update installs automatically (policy AUOptions = PARAM_au_option, NoAutoUpdate unset).
$ErrorActionPreference = 'Stop'
$wanted = 4
if ($env:PARAM_au_option) { $wanted = [int]$env:PARAM_au_option }
$key = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU'
$policy = Get-ItemProperty -Path $key -ErrorAction SilentlyContinue
if ($policy -and $policy.NoAutoUpdate -eq 1) {
    Write-Output 'automatic updates are turned off by policy (NoAutoUpdate = 1)'
    exit 1
}
if (-not $policy -or $null -eq $policy.AUOptions) {
    Write-Output 'no AUOptions policy set'
    exit 1
}
if ($policy.AUOptions -eq $wanted) {
    Write-Output "AUOptions = $($policy.AUOptions)"
    exit 0
}
Write-Output "AUOptions = $($policy.AUOptions), expected $wanted"
exit 1
