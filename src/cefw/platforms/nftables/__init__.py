"""nftables: the table cefw owns (table.py: layout and transaction), reading it back
(readback.py), the backend that runs nft (backend.py) and the `nft -f` export (script.py)."""
