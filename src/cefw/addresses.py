"""Remote addresses in one canonical form, so a plan and a firewall's read-back compare.

Windows reads `10.1.0.0/16` back as `10.1.0.0/255.255.0.0` and a host as `10.0.1.10` or
`10.0.1.10/255.255.255.255`; nftables prints prefixes and ranges. Everything is
turned into collapsed networks, sorted, a single host written without its prefix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .model import ANY

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_ANY_WORDS = {"any", "*"}


class AddressSyntaxError(ValueError):
    pass


def parse_token(token: str, *, strict: bool = True) -> list[Network]:
    """One address, prefix, `address/mask` or `first-last` range -> networks.

    `strict` refuses host bits under a prefix (`10.0.1.10/24`), which in a site file is
    almost always a typo; read-back from a firewall is lenient.
    """
    text = token.strip()
    if not text:
        raise AddressSyntaxError("empty address")
    if "-" in text:
        first_text, _, last_text = text.partition("-")
        try:
            first = ipaddress.ip_address(first_text.strip())
            last = ipaddress.ip_address(last_text.strip())
        except ValueError as exc:
            if not _is_address(first_text):  # `ce-core-01`: a host name, not a range
                raise AddressSyntaxError(_NOT_AN_ADDRESS.format(token=token)) from None
            raise AddressSyntaxError(f"{token!r} is not an address range: {exc}") from None
        if first.version != last.version or first > last:
            raise AddressSyntaxError(f"{token!r} is not an address range (first > last)")
        return list(ipaddress.summarize_address_range(first, last))  # type: ignore[arg-type]
    try:
        return [ipaddress.ip_network(text, strict=strict)]
    except ValueError as exc:
        if strict and "host bits set" in str(exc):
            net = ipaddress.ip_network(text, strict=False)
            host = text.partition("/")[0]
            raise AddressSyntaxError(
                f"{token!r} has host bits set: write {net} for the network or {host} "
                "for the single host"
            ) from None
        raise AddressSyntaxError(_NOT_AN_ADDRESS.format(token=token)) from None


_NOT_AN_ADDRESS = "{token!r} is not an IP address, prefix (10.20.0.0/16) or range (a-b)"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def is_any(tokens: Iterable[str]) -> bool:
    return any(t.strip().lower() in _ANY_WORDS for t in tokens)


def canonical(tokens: Iterable[str], *, strict: bool = True) -> tuple[str, ...]:
    """Canonical, sorted, collapsed. `any`/`*` anywhere means (ANY,)."""
    tokens = [t for t in tokens if t.strip()]
    if is_any(tokens):
        return (ANY,)
    if len(tokens) == 1 and not set(tokens[0]) & {"/", "-", "%"}:
        try:  # one plain address (a site inventory holds thousands): no network object
            return (str(ipaddress.ip_address(tokens[0].strip())),)
        except ValueError:
            pass  # parse_token says what is wrong with it
    nets: list[Network] = []
    for token in tokens:
        nets.extend(parse_token(token, strict=strict))
    return canonical_networks(nets)


def canonical_networks(nets: Iterable[Network]) -> tuple[str, ...]:
    """Sorted, duplicates and networks inside another one dropped. Neighbours are not
    merged: two servers stay two hosts (10.0.1.10, 10.0.1.11), not 10.0.1.10/31, which
    is what an administrator wrote and what Windows shows."""
    out: list[str] = []
    for version in (4, 6):
        kept: list[Network] = []
        # Widest first within the same start, so a covering network is kept before the
        # networks it contains.
        # Kept networks never nest, so they are disjoint and in address order: the only
        # one that can hold the next network is the last kept (linear, not quadratic).
        for net in sorted({n for n in nets if n.version == version},
                          key=lambda n: (n.network_address, n.prefixlen)):
            if not kept or not net.subnet_of(kept[-1]):  # type: ignore[arg-type]
                kept.append(net)
        out += [_shown(net) for net in kept]
    return tuple(out)


def collapsed(nets: Iterable[Network]) -> tuple[str, ...]:
    """The fewest prefixes that hold exactly these networks, neighbours merged, IPv4
    first, a single host without its prefix. Firewalls that merge neighbours themselves
    (nftables interval sets) read back in this form whatever was written; it is unique
    to the addresses meant, so it is the form such read-backs compare in."""
    nets = list(nets)
    out: list[str] = []
    for version in (4, 6):
        chosen = [n for n in nets if n.version == version]
        out += [_shown(n) for n in ipaddress.collapse_addresses(chosen)]  # type: ignore[type-var]
    return tuple(out)


def _shown(net: Network) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def networks(addresses: Iterable[str]) -> list[Network]:
    """Canonical strings back to networks (for backends that need the objects)."""
    return [ipaddress.ip_network(a) for a in addresses if a != ANY]


def from_windows(text: str) -> tuple[str, ...]:
    """Windows' RemoteAddresses read-back (`*`, or comma-separated entries in mask
    notation, ranges, or the keywords LocalSubnet/DNS/...) -> canonical form.

    Keywords cannot be compared to addresses: they are kept verbatim, so a rule holding
    one never equals a planned rule and gets updated.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or is_any(parts):
        return (ANY,)
    nets: list[Network] = []
    keywords: list[str] = []
    for part in parts:
        try:
            nets.extend(parse_token(part, strict=False))
        except AddressSyntaxError:
            keywords.append(part)
    return canonical_networks(nets) + tuple(sorted(keywords))


_ALL_INTERFACES = {"", "0.0.0.0", "::", "0:0:0:0:0:0:0:0", "[::]"}


def is_all_interfaces(host: str) -> bool:
    """A bind address meaning every local address (or none written)."""
    return host.strip().lower() in _ALL_INTERFACES


def is_loopback(host: str) -> bool:
    """A bind address reachable from this host only: 127.0.0.0/8, ::1 in any spelling
    (an IPv4-mapped loopback too) and localhost. A host name is not: it resolves to
    something on the network."""
    text = host.strip().lower().strip("[]")
    if text == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def widened(before: tuple[str, ...], after: tuple[str, ...]) -> str:
    """How `after` lets in addresses `before` did not ("" when it does not): to any, or
    what it adds. Canonical forms in, as held by a rule; a keyword Windows keeps verbatim
    (LocalSubnet) covers nothing cefw can prove, so replacing it counts as widening."""
    if after == before or before == (ANY,):
        return ""
    if after == (ANY,):
        return "to any address"
    held = [n for n in _lenient(before) if n is not None]
    added = [a for a, net in zip(after, _lenient(after), strict=True)
             if net is None or not any(net.version == h.version and net.subnet_of(h)  # type: ignore[arg-type]
                                       for h in held)]
    return f"adds {', '.join(added)}" if added else ""


def _lenient(addresses: tuple[str, ...]) -> list[Network | None]:
    out: list[Network | None] = []
    for a in addresses:
        try:
            out.append(ipaddress.ip_network(a, strict=False))
        except ValueError:
            out.append(None)
    return out


def to_windows(addresses: tuple[str, ...]) -> str:
    return "*" if addresses == (ANY,) else ",".join(addresses)
