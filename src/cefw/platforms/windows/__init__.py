"""Windows Firewall: the COM backend (backend.py over com.py), Rule <-> COM values
(values.py), the PowerShell and netsh exports, and finding the CE install folder on a live
host (locate.py)."""
