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

# -- Export-CEHostBundle: everything cefw reads from this host, in one zip ----------------
# The format is cefw.bundle/1 (docs/bundle.md), the one `cefw collect` writes: the member
# names, manifest keys and registry keys below are those of src/cefw/bundle/layout.py
# (tests/test_bundle_powershell.py compares them). Windows PowerShell 5.1 alone: no cefw,
# no Python, nothing installed on the CE host.

$script:BundleFormat = 'cefw.bundle/1'
$script:BundleScriptVersion = '0.2.0'
$script:BundleGroup = 'Contact Expert'
$script:BundleManifest = 'manifest.json'
$script:BundlePrograms = 'programs.txt'
$script:BundleRegistry = 'registry.reg'
$script:BundleFirewall = 'firewall.json'
$script:BundleInstall = 'install/'
$script:BundleJar = 'jar/'
$script:BundleChannels = 'channels/'
$script:BundleConfigFiles = @(
    'Services\ServerAgent\ServerAgent.Config.xml',
    'Tools\ServerManager\ServerManager.Config.xml',
    'Servers\AgentClientApp.Net\AgentClientApp.config.xml',
    'Tomcat\conf\server.xml',
    'Tomcat\conf\catalina.properties',
    'Tomcat\RELEASE-NOTES'
)
$script:BundleHeadOnly = @{ 'Tomcat\RELEASE-NOTES' = 65536 }
$script:BundleJarFile = 'Tomcat\lib\catalina.jar'
$script:BundleJarEntry = 'org/apache/catalina/util/ServerInfo.properties'
$script:BundleMaxJarEntry = 65536
$script:BundleMaxMember = 33554432
$script:BundleWebApps = 'Tomcat\webapps'
$script:BundleProgramSuffix = '.exe'
$script:BundleViewKeys = @('SOFTWARE\ACE\TAO', 'SOFTWARE\Geomant Call Center Solutions\GeoCampaign')
$script:BundlePolicyKeys = @(
    'Software\Policies\Microsoft\WindowsFirewall',
    'Software\Policies\Microsoft\WindowsFirewall\DomainProfile',
    'Software\Policies\Microsoft\WindowsFirewall\PrivateProfile',
    'Software\Policies\Microsoft\WindowsFirewall\PublicProfile',
    'Software\Policies\Microsoft\WindowsFirewall\FirewallRules'
)
$script:BundleOriginComment = '; cefw-origin '
$script:BundleProfiles = @('domain', 'private', 'public')
$script:BundleNotPrintable = '[\p{C}\p{Z}-[ ]]'  # what Python's str.isprintable refuses

function ConvertTo-CEPrintable([string] $Text) {
    # Manifest strings and origins are shown in messages: one printable line.
    return ($Text -replace $script:BundleNotPrintable, '?')
}

function Find-CEInstallDir {
    # As cefw's locate.py: the service that runs ...\Services\ServerAgent\ServerAgent.exe,
    # else the vendor's default folder. Returns @(folder, how it was found).
    $tail = '\services\serveragent\serveragent.exe'
    foreach ($service in Get-ChildItem -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services' -ErrorAction Stop) {
        $image = (Get-ItemProperty -LiteralPath $service.PSPath -Name 'ImagePath' -ErrorAction SilentlyContinue)
        if ($null -eq $image) { continue }
        $text = [Environment]::ExpandEnvironmentVariables([string] $image.ImagePath).Trim()
        if ($text.StartsWith('"')) {
            $program = $text.Substring(1).Split('"')[0]
        } else {
            $cut = $text.ToLowerInvariant().IndexOf('.exe')
            $program = if ($cut -ge 0) { $text.Substring(0, $cut + 4) } else { $text }
        }
        if ($program.ToLowerInvariant().EndsWith($tail)) {
            $folder = $program.Substring(0, $program.Length - $tail.Length)
            return , @($folder, ("service '{0}' runs {1}" -f $service.PSChildName, $program))
        }
    }
    foreach ($variable in @('ProgramFiles(x86)', 'ProgramFiles')) {
        $base = [Environment]::GetEnvironmentVariable($variable)
        if ($base) {
            $candidate = Join-Path $base 'Geomant\Contact Expert'
            if (Test-Path -LiteralPath $candidate -PathType Container) {
                return , @($candidate, ('default folder %{0}%\Geomant\Contact Expert' -f $variable))
            }
        }
    }
    throw 'cannot find the CE install directory: no service runs ServerAgent.exe and no default folder exists; pass -InstallDir.'
}

function Resolve-CERealPath([string] $Root, [string] $Relative) {
    # The install-relative path with each part as the disk spells it; $null if absent.
    $current = $Root
    $parts = New-Object System.Collections.Generic.List[string]
    foreach ($part in $Relative.Split('\')) {
        if (-not [IO.Directory]::Exists($current)) { return $null }
        $match = @([IO.Directory]::GetFileSystemEntries($current, $part))
        if ($match.Count -eq 0) { return $null }
        $name = [IO.Path]::GetFileName($match[0])
        $parts.Add($name)
        $current = Join-Path $current $name
    }
    return ($parts -join '\')
}

function Get-CEProgramListing([string] $Root) {
    # programs.txt: every *.exe under the install folder (links to folders not followed)
    # and every entry directly in Tomcat\webapps, folders ending in '\'.
    $list = New-Object System.Collections.Generic.List[string]
    $stack = New-Object System.Collections.Generic.Stack[string]
    $stack.Push($Root)
    while ($stack.Count -gt 0) {
        $folder = New-Object System.IO.DirectoryInfo ($stack.Pop())
        foreach ($entry in $folder.GetFileSystemInfos()) {
            $isFolder = [bool] ($entry.Attributes -band [IO.FileAttributes]::Directory)
            if ($isFolder) {
                if (-not ($entry.Attributes -band [IO.FileAttributes]::ReparsePoint)) {
                    $stack.Push($entry.FullName)
                }
            } elseif ($entry.Name.ToLowerInvariant().EndsWith($script:BundleProgramSuffix)) {
                $list.Add($entry.FullName.Substring($Root.Length).TrimStart('\'))
            }
        }
    }
    $webapps = Resolve-CERealPath $Root $script:BundleWebApps
    if ($webapps -and [IO.Directory]::Exists((Join-Path $Root $webapps))) {
        $folder = New-Object System.IO.DirectoryInfo (Join-Path $Root $webapps)
        foreach ($entry in $folder.GetFileSystemInfos()) {
            if ($entry.Attributes -band [IO.FileAttributes]::Directory) {
                $list.Add($webapps + '\' + $entry.Name + '\')
            } elseif (-not $entry.Name.ToLowerInvariant().EndsWith($script:BundleProgramSuffix)) {
                $list.Add($webapps + '\' + $entry.Name)
            }
        }
    }
    $list.Sort([StringComparer]::OrdinalIgnoreCase)
    return , $list.ToArray()
}

function Read-CEFileBytes([string] $Path, [long] $Limit, [bool] $HeadOnly) {
    $info = New-Object System.IO.FileInfo ($Path)
    if (-not $HeadOnly -and $info.Length -gt $Limit) {
        throw ('{0} is {1} bytes; a bundle holds files of at most {2}.' -f $Path, $info.Length, $Limit)
    }
    $stream = [IO.File]::OpenRead($Path)
    try {
        $size = [int] [Math]::Min($info.Length, $Limit)
        $buffer = New-Object byte[] $size
        $read = 0
        while ($read -lt $size) {
            $got = $stream.Read($buffer, $read, $size - $read)
            if ($got -le 0) { break }
            $read += $got
        }
        if ($read -lt $size) { [Array]::Resize([ref] $buffer, $read) }
        return , $buffer
    } finally {
        $stream.Dispose()
    }
}

function Get-CEJarEntry([string] $Jar) {
    # ServerInfo.properties out of catalina.jar; $null when the jar cannot say.
    try {
        $archive = [System.IO.Compression.ZipFile]::OpenRead($Jar)
    } catch {
        return $null
    }
    try {
        $entry = $archive.GetEntry($script:BundleJarEntry)
        if ($null -eq $entry -or $entry.Length -gt $script:BundleMaxJarEntry) { return $null }
        $stream = $entry.Open()
        try {
            $memory = New-Object System.IO.MemoryStream
            $stream.CopyTo($memory)
            return , $memory.ToArray()
        } finally {
            $stream.Dispose()
        }
    } finally {
        $archive.Dispose()
    }
}

function ConvertTo-CERegText([string] $Text) {
    return $Text.Replace('\', '\\').Replace('"', '\"')
}

function ConvertTo-CEHex([byte[]] $Bytes) {
    if ($null -eq $Bytes -or $Bytes.Length -eq 0) { return '' }
    return ([BitConverter]::ToString($Bytes).Replace('-', ',').ToLowerInvariant())
}

function ConvertTo-CERegLine([string] $Name, [Microsoft.Win32.RegistryValueKind] $Kind, $Data) {
    # One value as a .reg line, as cefw's regwrite.py writes it.
    $head = if ($Name -eq '') { '@=' } else { '"' + (ConvertTo-CERegText $Name) + '"=' }
    $unicode = [Text.Encoding]::Unicode
    switch ($Kind) {
        'String' {
            $text = [string] $Data
            if ($text.Contains("`r") -or $text.Contains("`n")) {
                return $head + 'hex(1):' + (ConvertTo-CEHex ($unicode.GetBytes($text + [char] 0)))
            }
            return $head + '"' + (ConvertTo-CERegText $text) + '"'
        }
        'ExpandString' { return $head + 'hex(2):' + (ConvertTo-CEHex ($unicode.GetBytes([string] $Data + [char] 0))) }
        'DWord' { return $head + ('dword:{0:x8}' -f [int] $Data) }
        'QWord' { return $head + 'hex(b):' + (ConvertTo-CEHex ([BitConverter]::GetBytes([long] $Data))) }
        'MultiString' {
            $joined = (@($Data) | ForEach-Object { [string] $_ + [char] 0 }) -join ''
            return $head + 'hex(7):' + (ConvertTo-CEHex ($unicode.GetBytes($joined + [char] 0)))
        }
        'Binary' { return $head + 'hex:' + (ConvertTo-CEHex ([byte[]] $Data)) }
        default { return $head + 'hex(0):' + (ConvertTo-CEHex ([byte[]] @($Data | Where-Object { $_ -is [byte] }))) }
    }
}

function Get-CERegTypeName([Microsoft.Win32.RegistryValueKind] $Kind) {
    switch ($Kind) {
        'String' { 'REG_SZ' }
        'ExpandString' { 'REG_EXPAND_SZ' }
        'Binary' { 'REG_BINARY' }
        'DWord' { 'REG_DWORD' }
        'MultiString' { 'REG_MULTI_SZ' }
        'QWord' { 'REG_QWORD' }
        default { 'REG_NONE' }
    }
}

function Get-CERegSection([string] $Key, [string] $RawKey, [Microsoft.Win32.RegistryView] $View, [int] $Bits) {
    # The key's values in one view, each after a cefw-origin comment; then a blank line.
    $lines = New-Object System.Collections.Generic.List[string]
    $lines.Add('[HKEY_LOCAL_MACHINE\' + $RawKey + ']')
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, $View)
    try {
        $handle = $base.OpenSubKey($Key)
        if ($null -ne $handle) {
            try {
                foreach ($name in ($handle.GetValueNames() | Sort-Object)) {
                    # A name with a line break or control character cannot stand in a .reg.
                    if ($name -match $script:BundleNotPrintable) { continue }
                    $kind = $handle.GetValueKind($name)
                    $data = $handle.GetValue($name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
                    $shownName = if ($name -eq '') { '(Default)' } else { $name }
                    $origin = [ordered]@{
                        key   = $RawKey
                        value = $name
                        path  = ConvertTo-CEPrintable ('HKLM\' + $Key + '\' + $shownName)
                        where = ('live registry, {0}-bit view ({1})' -f $Bits, (Get-CERegTypeName $kind))
                    }
                    $lines.Add($script:BundleOriginComment + (ConvertTo-Json -InputObject $origin -Compress))
                    $lines.Add((ConvertTo-CERegLine $name $kind $data))
                }
            } finally {
                $handle.Dispose()
            }
        }
    } finally {
        $base.Dispose()
    }
    $lines.Add('')
    return , $lines.ToArray()
}

function Get-CERegistryText {
    $lines = New-Object System.Collections.Generic.List[string]
    $lines.Add('Windows Registry Editor Version 5.00')
    $lines.Add('')
    $lines.Add('; cefw bundle: the registry values cefw reads, each in the view its program reads:')
    $lines.Add('; the 32-bit view under WOW6432Node, the 64-bit view under the plain path.')
    $lines.Add('; read from: live registry')
    $lines.Add('')
    foreach ($key in $script:BundleViewKeys) {
        $head, $rest = $key.Split('\', 2)
        $wow = $head + '\WOW6432Node\' + $rest
        $lines.AddRange([string[]] (Get-CERegSection $key $wow ([Microsoft.Win32.RegistryView]::Registry32) 32))
        $lines.AddRange([string[]] (Get-CERegSection $key $key ([Microsoft.Win32.RegistryView]::Registry64) 64))
    }
    foreach ($key in $script:BundlePolicyKeys) {
        $lines.AddRange([string[]] (Get-CERegSection $key $key ([Microsoft.Win32.RegistryView]::Registry64) 64))
    }
    return (($lines -join "`r`n") + "`r`n")
}

function ConvertTo-CEProtocolNumber([string] $Protocol) {
    switch ($Protocol) {
        'TCP' { return 6 }
        'UDP' { return 17 }
        'Any' { return 256 }
        'ICMPv4' { return 1 }
        'ICMPv6' { return 58 }
        default { return [int] $Protocol }
    }
}

function Get-CEFirewallRecord {
    # firewall.json: the rules of the group as INetFwRule property values (what cefw's
    # COM backend reads), the state of each profile, the active profiles.
    try {
        $rules = @(Get-NetFirewallRule -Group $script:BundleGroup -ErrorAction Stop)
    } catch {
        if ($_.CategoryInfo.Category -ne [System.Management.Automation.ErrorCategory]::ObjectNotFound) { throw }
        $rules = @()  # no rule in the group yet
    }
    $recorded = New-Object System.Collections.Generic.List[object]
    foreach ($rule in $rules) {
        if ([string] $rule.Group -cne $script:BundleGroup) { continue }  # -Group takes wildcards
        $ports = Get-NetFirewallPortFilter -AssociatedNetFirewallRule $rule -ErrorAction Stop
        $addresses = Get-NetFirewallAddressFilter -AssociatedNetFirewallRule $rule -ErrorAction Stop
        $application = Get-NetFirewallApplicationFilter -AssociatedNetFirewallRule $rule -ErrorAction Stop
        $local = @($ports.LocalPort | ForEach-Object { [string] $_ })
        $remote = @($addresses.RemoteAddress | ForEach-Object { [string] $_ })
        $program = [string] $application.Program
        $profile = [int] $rule.Profile
        $recorded.Add([ordered]@{
            Protocol        = ConvertTo-CEProtocolNumber ([string] $ports.Protocol)
            LocalPorts      = if ($local -contains 'Any' -or $local.Count -eq 0) { '*' } else { $local -join ',' }
            ApplicationName = if ($program -eq '' -or $program -eq 'Any') { $null } else { $program }
            RemoteAddresses = if ($remote -contains 'Any' -or $remote.Count -eq 0) { '*' } else { $remote -join ',' }
            Profiles        = if ($profile -eq 0) { 2147483647 } else { $profile }
            Direction       = if ([string] $rule.Direction -eq 'Inbound') { 1 } else { 2 }
            Action          = if ([string] $rule.Action -eq 'Allow') { 1 } else { 0 }
            Enabled         = ([string] $rule.Enabled -eq 'True')
            Grouping        = [string] $rule.Group
            Description     = [string] $rule.Description
            Name            = [string] $rule.DisplayName
        })
    }
    $profiles = [ordered]@{}
    foreach ($item in @(Get-NetFirewallProfile -PolicyStore ActiveStore -ErrorAction Stop)) {
        $profiles[([string] $item.Name).ToLowerInvariant()] = [ordered]@{
            enabled            = ([string] $item.Enabled -eq 'True')
            inbound_blocked    = ([string] $item.AllowInboundRules -eq 'False')
            local_policy_merge = ([string] $item.AllowLocalFirewallRules -ne 'False')
        }
    }
    $setting = Get-NetFirewallSetting -PolicyStore ActiveStore -ErrorAction Stop
    $active = [string] $setting.ActiveProfile
    return [ordered]@{
        group           = $script:BundleGroup
        rules           = $recorded.ToArray()
        profiles        = $profiles
        active_profiles = @($script:BundleProfiles | Where-Object { $active -match ('\b' + $_ + '\b') })
    }
}

function Get-CEHostAddresses {
    # This host's unicast addresses, loopback and link-local left out.
    $found = New-Object System.Collections.Generic.List[string]
    foreach ($item in @(Get-NetIPAddress -AddressState Preferred -ErrorAction Stop)) {
        $address = [System.Net.IPAddress]::Parse(([string] $item.IPAddress).Split('%')[0])
        if ([System.Net.IPAddress]::IsLoopback($address) -or $address.IsIPv6LinkLocal) { continue }
        $bytes = $address.GetAddressBytes()
        if ($bytes.Length -eq 4 -and $bytes[0] -eq 169 -and $bytes[1] -eq 254) { continue }
        $text = $address.ToString()
        if (-not $found.Contains($text)) { $found.Add($text) }
    }
    return , $found.ToArray()
}

function Get-CESha256([byte[]] $Bytes) {
    $stream = New-Object System.IO.MemoryStream (, $Bytes)
    try {
        return (Get-FileHash -InputStream $stream -Algorithm SHA256 -ErrorAction Stop).Hash.ToLowerInvariant()
    } finally {
        $stream.Dispose()
    }
}

function Export-CEHostBundle {
    <#
    .SYNOPSIS
        Writes everything cefw reads from this Contact Expert host into one bundle file.
    .DESCRIPTION
        The same bundle as `cefw collect` (format cefw.bundle/1, docs/bundle.md), made
        with Windows PowerShell 5.1 alone: nothing needs to be installed on the CE host.
        It holds the CE configuration files cefw reads, a listing of the installed
        programs, the TAO and GeoCampaign registry values in the 32- and 64-bit views and
        the Group Policy firewall keys (as .reg text), the channel export if given, the
        rules of the group "Contact Expert" and the firewall state, this host's name and
        addresses, and a manifest with the SHA-256 of every member. Take the file to any
        machine with cefw: `cefw plan --bundle FILE --site site.toml`. Nothing on the host
        is changed.
    .EXAMPLE
        Export-CEHostBundle -Path C:\cefw\ce-core-01.cefw.zip
    .EXAMPLE
        Export-CEHostBundle -Path .\rec-01.cefw.zip -Channels C:\cefw\channels.csv
    #>
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'Low')]
    param(
        [Parameter(Mandatory = $true)] [string] $Path,
        [string] $InstallDir,
        [string] $Channels
    )
    $ErrorActionPreference = 'Stop'
    Add-Type -AssemblyName System.IO.Compression -ErrorAction Stop
    Add-Type -AssemblyName System.IO.Compression.FileSystem -ErrorAction Stop
    if ($InstallDir) {
        $root, $foundBy = (Resolve-Path -LiteralPath $InstallDir -ErrorAction Stop).ProviderPath, '-InstallDir'
    } else {
        $root, $foundBy = Find-CEInstallDir
    }
    $root = [IO.Path]::GetFullPath($root).TrimEnd('\')
    if (-not [IO.Directory]::Exists($root)) { throw ('the install directory {0} does not exist.' -f $root) }

    $members = [ordered]@{}
    foreach ($relative in $script:BundleConfigFiles) {
        $real = Resolve-CERealPath $root $relative
        if ($real -and [IO.File]::Exists((Join-Path $root $real))) {
            $headOnly = $script:BundleHeadOnly.ContainsKey($relative)
            $limit = if ($headOnly) { $script:BundleHeadOnly[$relative] } else { $script:BundleMaxMember }
            $members[$script:BundleInstall + $real.Replace('\', '/')] = Read-CEFileBytes (Join-Path $root $real) $limit $headOnly
        }
    }
    $jar = Resolve-CERealPath $root $script:BundleJarFile
    if ($jar -and [IO.File]::Exists((Join-Path $root $jar))) {
        $entry = Get-CEJarEntry (Join-Path $root $jar)
        if ($null -ne $entry) {
            $members[$script:BundleJar + $jar.Replace('\', '/') + '/' + $script:BundleJarEntry] = $entry
        }
    }
    $utf8 = New-Object System.Text.UTF8Encoding ($false)
    $listing = Get-CEProgramListing $root
    $members[$script:BundlePrograms] = $utf8.GetBytes((($listing | ForEach-Object { $_ + "`r`n" }) -join ''))
    $members[$script:BundleRegistry] = [byte[]] (@(0xFF, 0xFE) + [Text.Encoding]::Unicode.GetBytes((Get-CERegistryText)))
    $channelsName = $null
    if ($Channels) {
        $channelsPath = (Resolve-Path -LiteralPath $Channels -ErrorAction Stop).ProviderPath
        $channelsName = [IO.Path]::GetFileName($channelsPath)
        $members[$script:BundleChannels + $channelsName] = Read-CEFileBytes $channelsPath $script:BundleMaxMember $false
    }
    $firewall = Get-CEFirewallRecord
    $members[$script:BundleFirewall] = $utf8.GetBytes((ConvertTo-Json -InputObject $firewall -Depth 8))

    $when = [DateTime]::UtcNow
    $index = [ordered]@{}
    foreach ($name in @($members.Keys | Sort-Object)) {
        $index[$name] = [ordered]@{ sha256 = Get-CESha256 $members[$name]; size = $members[$name].Length }
    }
    $manifest = [ordered]@{
        format         = $script:BundleFormat
        created_by     = [ordered]@{ tool = 'CEFirewall'; version = $script:BundleScriptVersion }
        collected      = $when.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", [Globalization.CultureInfo]::InvariantCulture)
        host           = [ordered]@{
            name      = ConvertTo-CEPrintable ([System.Net.Dns]::GetHostName())
            addresses = Get-CEHostAddresses
        }
        program_dir    = ConvertTo-CEPrintable $root
        collected_from = [ordered]@{
            install_dir = ConvertTo-CEPrintable $root
            found_by    = ConvertTo-CEPrintable $foundBy
            registry    = 'live registry'
            channels    = $channelsName
        }
        firewall       = [ordered]@{
            member    = $script:BundleFirewall
            read_with = 'NetSecurity (Get-NetFirewallRule, Get-NetFirewallProfile, Get-NetFirewallSetting), by Export-CEHostBundle'
            absent    = $null
        }
        members        = $index
    }
    $manifestBytes = $utf8.GetBytes((ConvertTo-Json -InputObject $manifest -Depth 8))
    if (-not $PSCmdlet.ShouldProcess($Path, 'Write the host bundle')) { return }

    # The whole file or nothing: written beside the target, then moved over it.
    $target = [IO.Path]::GetFullPath($Path)
    $partial = $target + '.partial-' + [guid]::NewGuid().ToString('N')
    $archive = [System.IO.Compression.ZipFile]::Open($partial, [System.IO.Compression.ZipArchiveMode]::Create)
    try {
        $order = @(, @($script:BundleManifest, $manifestBytes)) + @($members.Keys | Sort-Object | ForEach-Object { , @($_, $members[$_]) })
        foreach ($pair in $order) {
            $item = $archive.CreateEntry($pair[0], [System.IO.Compression.CompressionLevel]::Optimal)
            $item.LastWriteTime = New-Object DateTimeOffset ($when)
            $stream = $item.Open()
            try {
                $stream.Write([byte[]] $pair[1], 0, $pair[1].Length)
            } finally {
                $stream.Dispose()
            }
        }
    } finally {
        $archive.Dispose()
    }
    Move-Item -LiteralPath $partial -Destination $target -Force -ErrorAction Stop
    Write-Verbose ('wrote {0} ({1} members; {2} rules of the group {3})' -f $target, ($members.Count + 1), @($firewall.rules).Count, $script:BundleGroup)
    Get-Item -LiteralPath $target
}

Export-ModuleMember -Function 'Add-CEFirewallRules', 'Remove-CEFirewallRules', 'Export-CEHostBundle'
