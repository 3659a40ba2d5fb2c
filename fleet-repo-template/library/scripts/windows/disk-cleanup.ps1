# Remediation: remove files older than PARAM_days days from the Windows and user temp folders.
$ErrorActionPreference = 'Stop'
$days = 7
if ($env:PARAM_days) { $days = [int]$env:PARAM_days }
$cutoff = (Get-Date).AddDays(-$days)
$folders = @("$env:SystemRoot\Temp") + (Get-ChildItem -Path 'C:\Users' -Directory -ErrorAction SilentlyContinue |
    ForEach-Object { Join-Path $_.FullName 'AppData\Local\Temp' })
$removed = 0
foreach ($folder in $folders) {
    if (-not (Test-Path -LiteralPath $folder)) { continue }
    Get-ChildItem -LiteralPath $folder -File -Recurse -Force -ErrorAction SilentlyContinue |
        Where-Object { $_.LastWriteTime -lt $cutoff } |
        ForEach-Object { try { Remove-Item -LiteralPath $_.FullName -Force; $removed++ } catch { } }
}
Write-Output "removed $removed file(s) older than $days day(s)"
exit 0
