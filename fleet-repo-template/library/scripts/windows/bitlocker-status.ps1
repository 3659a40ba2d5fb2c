# Check: BitLocker protection is on for the system drive (PARAM_drive, default the system drive).
$ErrorActionPreference = 'Stop'
$drive = $env:SystemDrive
if ($env:PARAM_drive) { $drive = $env:PARAM_drive }
try {
    $volume = Get-BitLockerVolume -MountPoint $drive
} catch {
    Write-Output "cannot read BitLocker state of ${drive}: $($_.Exception.Message)"
    exit 2
}
if ($volume.ProtectionStatus -eq 'On') {
    Write-Output "$drive is encrypted ($($volume.EncryptionMethod)), protection on"
    exit 0
}
Write-Output "$drive BitLocker protection is $($volume.ProtectionStatus) ($($volume.VolumeStatus))"
exit 1
