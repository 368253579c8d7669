"""Applying a plan to a firewall, the same for every platform: the store contract
(store.py), reconciliation of planned against stored rules (reconcile.py), the commands'
order of work (operations.py) and the state folder with its lock and snapshots (state.py).
"""
