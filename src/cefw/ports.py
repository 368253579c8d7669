"""Ports and port ranges: parse, validate, merge, print."""

from __future__ import annotations

from collections.abc import Iterable

from .model import PortRange, Ports

MIN_PORT = 1
MAX_PORT = 65535


class PortSyntaxError(ValueError):
    """Carries the text and why it is not a port; readers turn it into an InputError."""


def parse_port(text: str) -> int:
    """One port number, 1-65535. Surrounding white space is tolerated."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise PortSyntaxError(f"{text!r} is not a port number (expected 1-{MAX_PORT})")
    number = int(value)
    if not MIN_PORT <= number <= MAX_PORT:
        raise PortSyntaxError(f"{number} is not a port in {MIN_PORT}-{MAX_PORT}")
    return number


def parse_range(text: str) -> PortRange:
    """`9905` or `40000-40099` (inclusive)."""
    first, sep, last = text.strip().partition("-")
    if not sep:
        port = parse_port(first)
        return (port, port)
    if not first.strip() or not last.strip():  # `-5`, `9905-`: show what was written
        raise PortSyntaxError(f"{text.strip()!r} is not a port number (1-{MAX_PORT}) or a range "
                              "(first-last)")
    low, high = parse_port(first), parse_port(last)
    if low > high:
        raise PortSyntaxError(f"{text!r} is a range that ends before it starts")
    return (low, high)


def parse_list(text: str) -> Ports:
    """A comma-separated list of ports and ranges, as Windows writes LocalPorts."""
    return merge(parse_range(part) for part in text.split(",") if part.strip())


def merge(ranges: Iterable[PortRange]) -> Ports:
    """Sort and merge overlapping or adjacent inclusive ranges."""
    merged: list[list[int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return tuple((low, high) for low, high in merged)


def span(first: int, count: int) -> PortRange:
    """`first` and the `count - 1` ports after it, capped at 65535 (TAO's portspan)."""
    return (first, min(MAX_PORT, first + max(count, 1) - 1))


def format_range(r: PortRange) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def format_ports(ports: Ports, empty: str = "any") -> str:
    """`9100,9971,40000-40099`: the form Windows and netsh take."""
    return ",".join(format_range(r) for r in ports) if ports else empty


def overlaps(a: Ports, b: Ports) -> Ports:
    """The ports two lists share."""
    shared = []
    for a_low, a_high in a:
        for b_low, b_high in b:
            low, high = max(a_low, b_low), min(a_high, b_high)
            if low <= high:
                shared.append((low, high))
    return merge(shared)
