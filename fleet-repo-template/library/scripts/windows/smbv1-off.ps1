# Remediation: turn SMB1 off for the server and remove the SMB1 client feature when present.
$ErrorActionPreference = 'Stop'
Set-SmbServerConfiguration -EnableSMB1Protocol $false -Force
$feature = Get-WindowsOptionalFeature -Online -FeatureName SMB1Protocol -ErrorAction SilentlyContinue
if ($feature -and $feature.State -eq 'Enabled' -and $env:PARAM_remove_feature -ne 'false') {
    Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol -NoRestart | Out-Null
}
Write-Output 'SMB1 off'
exit 0
