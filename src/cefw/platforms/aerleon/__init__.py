"""aerleon: the plan as an aerleon policy and definitions, from which the network team
generates ACLs for Cisco ASA, Juniper SRX, Palo Alto, iptables, nftables and aerleon's
other targets (policy.py); rendered directly with the `cefw[aerleon]` extra
(targets.py); both as one export (export.py)."""
