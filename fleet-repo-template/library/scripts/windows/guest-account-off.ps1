# Check: the built-in Guest account (well-known SID ending in -501) is disabled.
$ErrorActionPreference = 'Stop'
$guest = Get-LocalUser | Where-Object { $_.SID.Value -like 'S-1-5-21-*-501' } | Select-Object -First 1
if (-not $guest) {
    Write-Output 'no Guest account'
    exit 0
}
if ($guest.Enabled) {
    if ($env:PARAM_fix -eq 'true') {
        Disable-LocalUser -SID $guest.SID
        Write-Output "Guest account '$($guest.Name)' disabled"
        exit 0
    }
    Write-Output "Guest account '$($guest.Name)' is enabled"
    exit 1
}
Write-Output "Guest account '$($guest.Name)' is disabled"
exit 0
