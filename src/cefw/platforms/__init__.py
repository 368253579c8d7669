"""Firewall platforms, one folder each: all a platform knows (how it applies rules, reads
them back and exports them as a script) lives in its folder. They are imported by name,
on demand, so `cefw plan` never pays for them.

    BACKENDS: --backend NAME -> the class that applies and reads back (apply.store.Backend)
    EXPORTS:  --format NAME  -> the module whose render(plan, **options) -> str writes a
              script for that platform (bytes for a binary file: encoding None)
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

from ..errors import CefwError
from ..record import Record


class Export(Record):
    module: str  # under cefw.platforms
    what: str  # for --help
    encoding: str | None  # of the file written with -o; None: render gives bytes
    newline: str
    folder: bool = False  # several files: -o names a folder (module.render_files)


BACKENDS: dict[str, tuple[str, str]] = {
    "windows": ("windows.backend", "WindowsBackend"),
    "nftables": ("nftables.backend", "NftablesBackend"),
    "firewalld": ("firewalld.backend", "FirewalldBackend"),
}

EXPORTS: dict[str, Export] = {
    # utf-8-sig: Windows PowerShell 5.1 reads a file without a BOM as ANSI
    "powershell": Export("windows.powershell", "a PowerShell script (NetSecurity cmdlets)",
                         "utf-8-sig", "\r\n"),
    "netsh": Export("windows.netsh", "a .cmd script of netsh commands", "utf-8", "\r\n"),
    "nft": Export("nftables.table", "an nft -f script", "utf-8", "\n"),
    "registry-pol": Export("windows.registry_pol", "a Registry.pol (Group Policy) file",
                           None, ""),
    "aerleon": Export("aerleon.export", "an aerleon policy and definitions (network "
                      "devices), and with --target their ACLs", "utf-8", "\n", folder=True),
}


def default_name() -> str:
    return "windows" if sys.platform == "win32" else "nftables"


def get_backend(name: str, **options: Any) -> Any:
    """The backend called `name`, ready to read (nothing is touched yet); `options` go
    to its class (nftables: hook, destinations)."""
    if name not in BACKENDS:
        raise CefwError(f"unknown backend {name!r}", f"use one of: {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name]
    return getattr(import_module(f"{__name__}.{module}"), cls)(**options)


def exporter(name: str) -> Any:
    """The module that writes the `name` export (its render(plan, **options) -> str)."""
    return import_module(f"{__name__}.{EXPORTS[name].module}")
