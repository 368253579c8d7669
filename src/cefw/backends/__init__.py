"""Firewall backends: Windows Firewall (COM) and nftables. Imported on demand, so
`cefw plan` never pays for them."""

from __future__ import annotations

import sys

from ..errors import CefwError

NAMES = ("windows", "nftables")


def default_name() -> str:
    return "windows" if sys.platform == "win32" else "nftables"


def get_backend(name: str):  # type: ignore[no-untyped-def]
    """The backend called `name`, ready to read (nothing is touched yet)."""
    if name == "windows":
        from .windows import WindowsBackend

        return WindowsBackend()
    if name == "nftables":
        from .nftables import NftablesBackend

        return NftablesBackend()
    raise CefwError(f"unknown backend {name!r}", f"use one of: {', '.join(NAMES)}")
