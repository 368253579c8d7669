#Requires -Version 5.1
# Add-CEFirewallRules and Remove-CEFirewallRules: the names the Contact Expert
# documentation gives its cmdlets, carried out by cefw. -WhatIf becomes cefw's --dry-run
# (the change set is printed, nothing is written); a failing cefw becomes a terminating
# error that carries its exit status (2: nothing was changed; 3: a write failed and so
# did the rollback, see the snapshot cefw names).

Set-StrictMode -Version 2.0
# Functions of this module run in the module's scope: they stop at the first failed
# cmdlet whatever the caller's preference is.
$ErrorActionPreference = 'Stop'

# Parameter name -> cefw option. Values are passed as one `--option=value` argument, so
# a value that starts with '-' is never taken for an option.
$script:CefwOptions = [ordered]@{
    InstallDir = '--install-dir'
    ProgramDir = '--program-dir'
    Hive       = '--hive'
    Channels   = '--channels'
    Site       = '--site'
    Example    = '--example'
    Backend    = '--backend'
    StateDir   = '--state-dir'
}

function Get-CefwCommand {
    # cefw on PATH (pip puts cefw.exe into Python's Scripts folder), else python -m cefw.
    param([string] $CefwPath)
    if ($CefwPath) {
        return , @($CefwPath)
    }
    $found = Get-Command -Name 'cefw' -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($found) {
        return , @($found.Path)
    }
    $launcher = Get-Command -Name 'py' -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($launcher) {
        return , @($launcher.Path, '-3', '-m', 'cefw')
    }
    $python = Get-Command -Name 'python' -CommandType Application -ErrorAction SilentlyContinue |
        Select-Object -First 1
    if ($python) {
        return , @($python.Path, '-m', 'cefw')
    }
    throw 'cefw was not found: install it (pip install cefw) or pass -CefwPath.'
}

function ConvertTo-NativeArgument {
    # Windows PowerShell 5.1 puts an argument holding a blank between double quotes as it
    # is: "--install-dir=C:\Program Files\Contact Expert\" (PowerShell issue #4358, fixed
    # in PowerShell 6 by pull request #4965). A program reads its command line by the
    # rules of CommandLineToArgvW ("Parsing C++ command-line arguments", Microsoft Learn):
    # backslashes before a double quote escape it, so the closing quote becomes part of
    # the value and the path arrives as ...\Contact Expert". Doubling the trailing
    # backslashes makes them literal again and the path arrives intact. PowerShell 6 and
    # later escape them themselves: there the argument goes as it is.
    param([string] $Value, [int] $Major = $PSVersionTable.PSVersion.Major)
    if ($Major -lt 6 -and $Value -match '[ \t]' -and $Value -match '(\\+)$') {
        return $Value + $Matches[1]
    }
    return $Value
}

function ConvertTo-CefwArgument {
    param([System.Collections.IDictionary] $Bound)
    $list = New-Object System.Collections.Generic.List[string]
    foreach ($key in $script:CefwOptions.Keys) {
        if ($Bound.Contains($key)) {
            $list.Add((ConvertTo-NativeArgument ($script:CefwOptions[$key] + '=' +
                        [string] $Bound[$key])))
        }
    }
    if ($Bound.Contains('Registry')) {
        foreach ($file in $Bound['Registry']) {
            $list.Add((ConvertTo-NativeArgument ('--registry=' + [string] $file)))
        }
    }
    return , $list.ToArray()
}

function Invoke-Cefw {
    param([string] $Verb, [string[]] $Arguments, [string] $CefwPath)
    $command = Get-CefwCommand -CefwPath $CefwPath
    $program = $command[0]
    $prefix = @($command | Select-Object -Skip 1)
    # Windows PowerShell 5.1 turns the stderr lines of a native program into error records
    # where its output is redirected (ISE, remoting); under 'Stop' cefw's first warning
    # (the host report, the restart note) would end the call. cefw's exit status decides,
    # just below.
    $ErrorActionPreference = 'Continue'
    & $program @prefix $Verb @Arguments
    $status = $LASTEXITCODE
    if ($status -ne 0) {
        $meaning = switch ($status) {
            2 { 'nothing was changed' }
            3 { 'a write failed and so did the rollback: restore from the snapshot cefw names above' }
            default { 'see the message above' }
        }
        $message = 'cefw {0} failed with exit status {1}: {2}.' -f $Verb, $status, $meaning
        $record = New-Object System.Management.Automation.ErrorRecord (
            (New-Object System.Exception $message), ('CefwExitStatus' + $status),
            [System.Management.Automation.ErrorCategory]::NotSpecified, $status)
        throw $record
    }
}

function Add-CEFirewallRules {
    <#
    .SYNOPSIS
        Writes Contact Expert's firewall rules, read from CE's own configuration.
    .DESCRIPTION
        Runs `cefw add`: the group "Contact Expert" is made to hold exactly the rules CE's
        configuration calls for. Missing rules are created and changed ones updated in
        place before stale ones are removed, so CE traffic is never blocked on the way:
        running Remove-CEFirewallRules first, as the vendor's page says, is not needed
        any more. Nothing outside the group is changed. A second run with nothing changed
        writes nothing. On a CE application server, restart the server afterwards (vendor
        note).
    .EXAMPLE
        Add-CEFirewallRules -Site C:\cefw\site.toml -WhatIf
    .EXAMPLE
        Add-CEFirewallRules -Site C:\cefw\site.toml -Channels C:\cefw\channels.csv
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [string] $InstallDir,
        [string] $ProgramDir,
        [string[]] $Registry,
        [string] $Hive,
        [string] $Channels,
        [string] $Site,
        [string] $Example,
        [ValidateSet('windows', 'nftables')] [string] $Backend,
        [string] $StateDir,
        [string] $CefwPath
    )
    $arguments = ConvertTo-CefwArgument $PSBoundParameters
    if ($WhatIfPreference) {
        Invoke-Cefw -Verb 'add' -Arguments ($arguments + '--dry-run') -CefwPath $CefwPath
    } elseif ($PSCmdlet.ShouldProcess('Windows Firewall group "Contact Expert"',
            'Create, update and remove rules to match CE''s configuration')) {
        Invoke-Cefw -Verb 'add' -Arguments $arguments -CefwPath $CefwPath
    }
}

function Remove-CEFirewallRules {
    <#
    .SYNOPSIS
        Removes every rule of the group "Contact Expert", and nothing else.
    .DESCRIPTION
        Runs `cefw remove`. Until Add-CEFirewallRules runs again, the CE ports are no
        longer allowed, so this asks for confirmation; use -Confirm:$false in scripts.
        Add-CEFirewallRules alone keeps the rules up to date: there is no need to remove
        them first.
    .EXAMPLE
        Remove-CEFirewallRules -WhatIf
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param(
        [string] $InstallDir,
        [string] $ProgramDir,
        [string[]] $Registry,
        [string] $Hive,
        [string] $Channels,
        [string] $Site,
        [string] $Example,
        [ValidateSet('windows', 'nftables')] [string] $Backend,
        [string] $StateDir,
        [string] $CefwPath
    )
    $arguments = ConvertTo-CefwArgument $PSBoundParameters
    if ($WhatIfPreference) {
        Invoke-Cefw -Verb 'remove' -Arguments ($arguments + '--dry-run') -CefwPath $CefwPath
    } elseif ($PSCmdlet.ShouldProcess('Windows Firewall group "Contact Expert"',
            'Remove every rule of the group (CE traffic is blocked until the rules are added again)')) {
        Invoke-Cefw -Verb 'remove' -Arguments $arguments -CefwPath $CefwPath
    }
}

Export-ModuleMember -Function 'Add-CEFirewallRules', 'Remove-CEFirewallRules'
