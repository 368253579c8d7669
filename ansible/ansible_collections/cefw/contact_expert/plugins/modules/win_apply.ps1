#!powershell
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
# Applies the change set cefw planned on the controller to the group "Contact Expert",
# through the Windows Firewall COM API, as cefw's COM backend does:
# - creates and updates before deletes (make before break: no wanted port is ever closed);
# - a new rule is added under a unique temporary name, then named (names are not unique:
#   the rule just added is the one of that temporary name);
# - a rule is renamed to a unique temporary name before it is removed, so Remove(name)
#   takes exactly that rule, and it is checked to be gone;
# - a protocol change adds the new rule, then removes the old one;
# - each rule is re-read just before it is touched: if it no longer holds what was
#   gathered, the task stops;
# - any failure undoes every earlier write of this task, newest first.

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.cefw.contact_expert.plugins.module_utils.CEFirewallCom

$ErrorActionPreference = 'Stop'

$spec = @{
    options = @{
        steps = @{
            type = 'list'; elements = 'dict'; required = $true
            options = @{
                action = @{ type = 'str'; required = $true; choices = @('create', 'update', 'delete') }
                name = @{ type = 'str'; required = $true }
                values = @{ type = 'dict' }
                expected = @{ type = 'dict' }
                props = @{ type = 'list'; elements = 'str'; default = @() }
                replace = @{ type = 'bool'; default = $false }
            }
        }
    }
    supports_check_mode = $false
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$script:Journal = New-Object System.Collections.Generic.List[hashtable]
$script:Writes = New-Object System.Collections.Generic.List[string]

function Find-CEGatheredRule($Step) {
    # The exact rule the controller planned against, re-read now.
    foreach ($rule in (Get-CEGroupRule $script:Policy)) {
        if ([string] $rule.Name -ceq $Step.name -and (Test-CERuleIs $rule $Step.expected)) {
            return $rule
        }
    }
    throw ("the rule '{0}' no longer holds what was gathered (changed or removed since): " +
        'run the play again') -f $Step.name
}

function Test-CENamePresent([string] $Name) {
    foreach ($rule in $script:Policy.Rules) {
        if ([string] $rule.Name -ceq $Name) { return $true }
    }
    return $false
}

function Set-CEProp($Rule, [string] $Prop, $Value) {
    $Rule.$Prop = Get-CEComValue $Prop $Value
}

function Add-CERule($Values) {
    # Rules.Add of a detached rule under a temporary name, then its real name.
    $protocol = [int] $Values['Protocol']
    $new = New-Object -ComObject 'HNetCfg.FWRule' -ErrorAction Stop
    foreach ($prop in $CERuleProps) {
        $value = $Values[$prop]
        if ($null -eq $value -or $prop -eq 'Name') { continue }
        if (($prop -eq 'LocalPorts' -or $prop -eq 'RemotePorts') -and
            (($protocol -ne 6 -and $protocol -ne 17) -or ([string] $value).Trim() -in @('', '*'))) { continue }
        if ($prop -eq 'IcmpTypesAndCodes' -and $protocol -ne 1 -and $protocol -ne 58) { continue }
        Set-CEProp $new $prop $value
    }
    $temp = New-CETempName
    $new.Name = $temp
    $script:Rules.Add($new)
    $script:Journal.Add(@{ kind = 'remove'; name = $temp })
    $bound = $script:Rules.Item($temp)
    $bound.Name = [string] $Values['Name']
    $script:Journal.Add(@{ kind = 'rename'; rule = $bound; name = $temp })
    $script:Writes.Add(('created {0}' -f $Values['Name']))
}

function Remove-CERule($Rule) {
    # Renamed to a unique temporary name first: Remove(name) removes every rule of a name.
    $saved = Get-CERuleValue $Rule
    $temp = New-CETempName
    $Rule.Name = $temp
    $script:Journal.Add(@{ kind = 'rename'; rule = $Rule; name = [string] $saved['Name'] })
    $script:Rules.Remove($temp)
    # Remove of a missing name "has no effect" and reports no error: check it is gone.
    if (Test-CENamePresent $temp) {
        throw ('Rules.Remove reported success but the rule {0} is still there (as {1})' -f $saved['Name'], $temp)
    }
    $script:Journal[$script:Journal.Count - 1] = @{ kind = 'readd'; values = $saved }
    $script:Writes.Add(('removed {0}' -f $saved['Name']))
}

function Update-CERule($Rule, $Step) {
    foreach ($prop in @($Step.props)) {
        $old = (Get-CERuleValue $Rule)[$prop]
        Set-CEProp $Rule $prop $Step.values[$prop]
        $script:Journal.Add(@{ kind = 'set'; rule = $Rule; prop = $prop; value = $old })
    }
    $script:Writes.Add(('updated {0} ({1})' -f $Step.name, (@($Step.props) -join ', ')))
}

function Undo-CEJournal {
    # Newest first; the first undo that fails stops the rollback and is reported.
    for ($i = $script:Journal.Count - 1; $i -ge 0; $i--) {
        $entry = $script:Journal[$i]
        switch ($entry.kind) {
            'remove' { $script:Rules.Remove($entry.name) }
            'rename' { $entry.rule.Name = $entry.name }
            'set' { Set-CEProp $entry.rule $entry.prop $entry.value }
            'readd' { Add-CERule $entry.values }
        }
        $script:Journal.RemoveAt($i)
    }
}

# Creates, then updates, then deletes, each in the controller's order.
$steps = New-Object System.Collections.Generic.List[object]
foreach ($action in @('create', 'update', 'delete')) {
    foreach ($step in @($module.Params.steps)) {
        if ([string] $step.action -ceq $action) { $steps.Add($step) }
    }
}
try {
    $script:Policy = Get-CEFirewallPolicy
    $script:Rules = $script:Policy.Rules
    foreach ($step in $steps) {
        switch ([string] $step.action) {
            'create' {
                foreach ($rule in (Get-CEGroupRule $script:Policy)) {
                    if ([string] $rule.Name -ceq $step.name) {
                        throw ("a rule '{0}' appeared in the group since it was gathered: " +
                            'run the play again') -f $step.name
                    }
                }
                Add-CERule $step.values
            }
            'update' {
                $rule = Find-CEGatheredRule $step
                if ($step.replace) {
                    Add-CERule $step.values
                    Remove-CERule $rule
                } else {
                    Update-CERule $rule $step
                }
            }
            'delete' { Remove-CERule (Find-CEGatheredRule $step) }
            default { throw ('unknown step {0}' -f $step.action) }
        }
    }
} catch {
    $failure = $_.Exception.Message
    $done = $script:Writes.Count
    try {
        Undo-CEJournal
    } catch {
        $module.Result.writes = $script:Writes.ToArray()
        $module.FailJson(('{0}; undoing the {1} earlier write(s) failed too: {2}. Restore the ' +
            'group "Contact Expert" by hand (wf.msc) or from a backup (netsh advfirewall ' +
            'import)') -f $failure, $done, $_.Exception.Message, $_)
    }
    $module.FailJson(('{0}. The {1} earlier write(s) of this task were undone: the group ' +
        'holds exactly the rules it held before') -f $failure, $done, $_)
}
$module.Result.writes = $script:Writes.ToArray()
$module.Result.changed = ($script:Writes.Count -gt 0)
$module.ExitJson()
