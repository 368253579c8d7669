#Requires -Version 5.1
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
# The rules of the group "Contact Expert" through the Windows Firewall COM API
# (INetFwPolicy2 / INetFwRule), read and written as cefw's COM backend does
# (src/cefw/platforms/windows/backend.py): the same property names and values, so the
# controller compares them with cefw's own code. Used by win_gather (read) and win_apply
# (re-read before each write). Every COM call stops on error: $ErrorActionPreference is
# Stop in this module's scope, and a failed COM method or property write is a terminating
# error that the caller's try/catch turns into a rollback.

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

$script:CEGroup = 'Contact Expert'
$script:CETempPrefix = 'cefw-tmp-'
# Every INetFwRule property cefw reads (values.py ALL_PROPS; the test compares them),
# spelt as the type library spells them.
$script:CERuleProps = @(
    'Protocol', 'LocalPorts', 'ApplicationName', 'RemoteAddresses', 'Profiles', 'Direction',
    'Action', 'Enabled', 'Grouping', 'Description', 'Name',
    'LocalAddresses', 'RemotePorts', 'InterfaceTypes', 'Interfaces', 'EdgeTraversal',
    'EdgeTraversalOptions', 'serviceName', 'LocalAppPackageId', 'LocalUserOwner',
    'LocalUserAuthorizedList', 'RemoteUserAuthorizedList', 'RemoteMachineAuthorizedList',
    'SecureFlags', 'IcmpTypesAndCodes'
)
# BSTR properties: clearing one takes a null string, never $null (values.py STRING_PROPS).
$script:CEStringProps = @(
    'Name', 'Description', 'ApplicationName', 'serviceName', 'LocalPorts', 'RemotePorts',
    'LocalAddresses', 'RemoteAddresses', 'IcmpTypesAndCodes', 'InterfaceTypes', 'Grouping',
    'LocalAppPackageId', 'LocalUserOwner', 'LocalUserAuthorizedList',
    'RemoteUserAuthorizedList', 'RemoteMachineAuthorizedList'
)

function Get-CEFirewallPolicy {
    return (New-Object -ComObject 'HNetCfg.FwPolicy2' -ErrorAction Stop)
}

function ConvertTo-CEPlainValue($Value) {
    # A COM value as JSON holds it: a SAFEARRAY of names as a list of strings.
    if ($null -eq $Value) { return $null }
    if ($Value -is [bool] -or $Value -is [int] -or $Value -is [long] -or $Value -is [string]) {
        return $Value
    }
    if ($Value -is [array]) { return , @($Value | ForEach-Object { [string] $_ }) }
    return [string] $Value
}

function Get-CERuleValue($Rule) {
    # Every property of one rule; a property this Windows does not have reads as $null.
    $values = [ordered]@{}
    foreach ($prop in $script:CERuleProps) {
        $member = $Rule.PSObject.Properties[$prop]
        $values[$prop] = if ($null -eq $member) { $null } else { ConvertTo-CEPlainValue $member.Value }
    }
    return $values
}

function Get-CEGroupRule($Policy) {
    # The rule objects of the group, in one enumeration ("" would match every rule without
    # a group: the name is a constant here).
    $found = New-Object System.Collections.Generic.List[object]
    foreach ($rule in $Policy.Rules) {
        if ([string] $rule.Grouping -ceq $script:CEGroup) { $found.Add($rule) }
    }
    return , $found.ToArray()
}

function Get-CEGroupRuleValue($Policy) {
    $values = New-Object System.Collections.Generic.List[object]
    foreach ($rule in (Get-CEGroupRule $Policy)) { $values.Add((Get-CERuleValue $rule)) }
    return , $values.ToArray()
}

function Test-CESameValue($Left, $Right) {
    # Compared as JSON text: an Int64 from the controller equals an Int32 read from COM.
    return ((ConvertTo-Json -InputObject $Left -Compress -Depth 3) -ceq
            (ConvertTo-Json -InputObject $Right -Compress -Depth 3))
}

function Test-CERuleIs($Rule, $Expected) {
    # The rule still holds what was gathered: every property the controller saw.
    $now = Get-CERuleValue $Rule
    foreach ($prop in $Expected.Keys) {
        if (-not $now.Contains($prop)) { return $false }
        if (-not (Test-CESameValue $now[$prop] $Expected[$prop])) { return $false }
    }
    return $true
}

function Get-CEComValue([string] $Prop, $Value) {
    # What a property write passes to COM: a null BSTR for an empty string property.
    if ($null -eq $Value -and $script:CEStringProps -contains $Prop) {
        return [System.Management.Automation.Language.NullString]::Value
    }
    return $Value
}

function New-CETempName {
    return ($script:CETempPrefix + [guid]::NewGuid().ToString('N').Substring(0, 16))
}

Export-ModuleMember -Function 'Get-CEFirewallPolicy', 'Get-CERuleValue', 'Get-CEGroupRule',
    'Get-CEGroupRuleValue', 'Test-CERuleIs', 'Get-CEComValue', 'New-CETempName' -Variable 'CEGroup', 'CERuleProps', 'CETempPrefix'
