"""cefw: least-privilege firewall rules for Geomant Contact Expert hosts."""

__version__ = "0.1.0"
