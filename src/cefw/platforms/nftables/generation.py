"""The kernel's nftables ruleset generation: a counter the kernel moves on by one with
every committed nftables transaction in the network namespace (cefw's, a hand edit,
firewalld's, anyone's), and leaves as it is for a failed one.

nft 1.0.6 prints it nowhere (`nft list` does not, `nft -j` has only a `metainfo` object
with the nft version and `json_schema_version`; `nft monitor` shows "new generation"
events as they happen, not the current one), so it is asked of the kernel as nft itself
asks for it before every command: an NFT_MSG_GETGEN request on a NETLINK_NETFILTER
socket, answered by NFT_MSG_NEWGEN with the NFTA_GEN_ID attribute (linux/netfilter/
nf_tables.h, the kernel's documented interface). `python -m
cefw.platforms.nftables.generation` prints it.
"""

from __future__ import annotations

import os
import socket
import struct

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWGEN, NFT_MSG_GETGEN = 15, 16
NFTA_GEN_ID = 1
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
_HEADER = struct.Struct("=LHHLL")  # struct nlmsghdr: len, type, flags, seq, pid
_NFGEN = struct.Struct("=BBH")  # struct nfgenmsg: family, version, res_id
_ATTR = struct.Struct("=HH")  # struct nlattr: len, type


def ruleset_generation() -> int | None:
    """The generation now, or None when the kernel cannot be asked (no netlink, not
    permitted, no nf_tables): then cefw reads the whole table, as it always may."""
    kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN
    request = _HEADER.pack(_HEADER.size + _NFGEN.size, kind, NLM_F_REQUEST, 1, 0) + \
        _NFGEN.pack(socket.AF_UNSPEC, 0, 0)
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
            sock.settimeout(2.0)
            sock.sendto(request, (0, 0))
            reply = sock.recv(8192)
    except (OSError, AttributeError):  # AttributeError: no AF_NETLINK (not Linux)
        return None
    return _generation_in(reply)


def _generation_in(reply: bytes) -> int | None:
    if len(reply) < _HEADER.size + _NFGEN.size:
        return None
    length, kind, _, _, _ = _HEADER.unpack_from(reply)
    if kind != (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN:
        return None  # NLMSG_ERROR or anything unexpected: no answer to trust
    position = _HEADER.size + _NFGEN.size
    while position + _ATTR.size <= min(length, len(reply)):
        size, attribute = _ATTR.unpack_from(reply, position)
        if size < _ATTR.size:
            return None
        if attribute & 0x3FFF == NFTA_GEN_ID and size >= _ATTR.size + 4:
            return int.from_bytes(reply[position + 4:position + 8], "big")
        position += (size + 3) & ~3  # attributes are aligned to 4 bytes
    return None


def network_namespace() -> str:
    """Which network namespace this process is in (the kernel counts per namespace)."""
    try:
        return str(os.stat("/proc/self/ns/net").st_ino)
    except OSError:
        return "-"


if __name__ == "__main__":
    print(ruleset_generation())
