"""firewalld: one policy of cefw's own (`contact-expert`, ingress ANY -> egress HOST,
ahead of the zones) and one ipset per site zone and address family; what they hold
(policy.py) and how they are loaded, read back and removed (backend.py)."""
