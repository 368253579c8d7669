@{
    RootModule           = 'CEFirewall.psm1'
    ModuleVersion        = '0.2.0'
    GUID                 = 'c602f744-35c4-4216-bfe3-91912f52ab2e'
    Author               = 'cefw contributors'
    Copyright            = 'MIT License'
    Description          = 'Add-CEFirewallRules and Remove-CEFirewallRules, the cmdlet names of the Contact Expert documentation, done by cefw: least-privilege Windows Firewall rules read from CE''s own configuration, applied in one safe step.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport    = @('Add-CEFirewallRules', 'Remove-CEFirewallRules', 'Export-CEHostBundle')
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('Firewall', 'WindowsFirewall', 'ContactExpert', 'Geomant')
        }
    }
}
