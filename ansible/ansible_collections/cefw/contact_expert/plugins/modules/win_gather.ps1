#!powershell
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
# Gathers a Windows CE host for cefw.contact_expert in one round trip: the bundle that
# Export-CEHostBundle writes (format cefw.bundle/1), base64, and the rules of the group
# "Contact Expert" as the COM API reads them. Changes nothing on the host.

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.cefw.contact_expert.plugins.module_utils.CEHostBundle
#AnsibleRequires -PowerShell ansible_collections.cefw.contact_expert.plugins.module_utils.CEFirewallCom

$ErrorActionPreference = 'Stop'

$spec = @{
    options = @{
        install_dir = @{ type = 'str' }
        channels = @{ type = 'str' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

# The bundle goes to a file of this task only, read back and deleted.
$path = Join-Path ([IO.Path]::GetTempPath()) ('cefw-' + [guid]::NewGuid().ToString('N') + '.cefw.zip')
try {
    $export = @{ Path = $path }
    if ($module.Params.install_dir) { $export.InstallDir = $module.Params.install_dir }
    if ($module.Params.channels) { $export.Channels = $module.Params.channels }
    $null = Export-CEHostBundle @export -Confirm:$false -WhatIf:$false
    $module.Result.bundle = [Convert]::ToBase64String([IO.File]::ReadAllBytes($path))
    $module.Result.rules = Get-CEGroupRuleValue (Get-CEFirewallPolicy)
} catch {
    $module.FailJson(('gathering the host failed: {0}' -f $_.Exception.Message), $_)
} finally {
    if (Test-Path -LiteralPath $path) { Remove-Item -LiteralPath $path -Force -ErrorAction Stop }
}
$module.Result.changed = $false
$module.ExitJson()
