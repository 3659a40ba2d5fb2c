# Remediation: set the service PARAM_service to start automatically and start it.
$ErrorActionPreference = 'Stop'
$name = $env:PARAM_service
if (-not $name) { Write-Output 'PARAM_service is required'; exit 2 }
$service = Get-Service -Name $name -ErrorAction SilentlyContinue
if (-not $service) { Write-Output "no service '$name'"; exit 2 }
Set-Service -Name $name -StartupType Automatic
if ($service.Status -ne 'Running') { Start-Service -Name $name }
(Get-Service -Name $name).WaitForStatus('Running', [timespan]::FromSeconds(30))
Write-Output "$name is running"
exit 0
