# Remediation: point the Windows Time service at PARAM_servers and resynchronise.
$ErrorActionPreference = 'Stop'
$servers = 'time.windows.com'
if ($env:PARAM_servers) { $servers = $env:PARAM_servers }
if ($servers -notmatch '^[A-Za-z0-9.: -]+$') { Write-Output 'servers may hold host names only'; exit 2 }
Set-Service -Name W32Time -StartupType Automatic
Start-Service -Name W32Time
& w32tm.exe /config /manualpeerlist:"$servers" /syncfromflags:manual /update | Out-Null
& w32tm.exe /resync /force | Out-Null
Write-Output "time service uses $servers"
exit 0
