# Check: Chrome and Edge updates are not turned off by policy (Google Update / EdgeUpdate UpdateDefault).
$ErrorActionPreference = 'Stop'
$blocked = @()
foreach ($key in 'HKLM:\SOFTWARE\Policies\Google\Update', 'HKLM:\SOFTWARE\Policies\Microsoft\EdgeUpdate') {
    $policy = Get-ItemProperty -Path $key -ErrorAction SilentlyContinue
    if ($policy -and $null -ne $policy.UpdateDefault -and $policy.UpdateDefault -eq 0) { $blocked += $key }
}
if ($blocked.Count -eq 0) {
    Write-Output 'browser updates are allowed'
    exit 0
}
Write-Output ('browser updates are off by policy: ' + ($blocked -join ', '))
exit 1
