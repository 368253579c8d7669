"""Find the CE install directory on a live Windows host (no --install-dir given).

1. The Windows service whose program is ...\\Services\\ServerAgent\\ServerAgent.exe (a CE
   application server): its ImagePath under HKLM\\SYSTEM\\CurrentControlSet\\Services.
   The service's name does not matter, only its program.
2. The vendor's default folders under Program Files (x86) and Program Files (agent PCs,
   where no CE service runs). A 32-bit Python on 64-bit Windows sees %ProgramFiles% as
   the x86 folder; the 64-bit one is then only in %ProgramW6432% ("WOW64 Implementation
   Details", Microsoft Learn: environment variables), so that is looked in too.
The plan says which way it was found.
"""

from __future__ import annotations

import ntpath
import os
from pathlib import Path

from ...errors import InputError

SERVICE_TAIL = r"\services\serveragent\serveragent.exe"
DEFAULT_SUBDIR = ("Geomant", "Contact Expert")
DEFAULT_SHOWN = r"Geomant\Contact Expert"
DEFAULT_ROOTS = ("ProgramFiles(x86)", "ProgramFiles", "ProgramW6432")


def find_install_dir(winreg=None) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    if winreg is None:
        import winreg
    found = _from_services(winreg)
    if found:
        return found
    for env in DEFAULT_ROOTS:
        base = os.environ.get(env)
        if base:
            candidate = Path(base, *DEFAULT_SUBDIR)
            if candidate.is_dir():
                return candidate, f"default folder %{env}%\\{DEFAULT_SHOWN}"
    raise InputError("", "", "cannot find the CE install directory: no service runs "
                     "ServerAgent.exe and no default folder exists (looked under "
                     + ", ".join(f"%{env}%" for env in DEFAULT_ROOTS) + ")",
                     "pass --install-dir with the folder that holds Servers and Services")


def _from_services(winreg) -> tuple[Path, str] | None:  # type: ignore[no-untyped-def]
    root = r"SYSTEM\CurrentControlSet\Services"
    try:
        services = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, root)
    except OSError:
        return None
    index = 0
    while True:
        try:
            name = winreg.EnumKey(services, index)
        except OSError:
            return None
        index += 1
        try:
            with winreg.OpenKey(services, name) as key:
                image, _ = winreg.QueryValueEx(key, "ImagePath")
        except OSError:
            continue
        program = _program_of(str(image))
        if program.lower().endswith(SERVICE_TAIL):
            install = program[: -len(SERVICE_TAIL)]
            return Path(install), f"service {name!r} runs {program}"


def _program_of(image_path: str) -> str:
    """ImagePath may be quoted and carry arguments."""
    text = os.path.expandvars(image_path.strip())
    if text.startswith('"'):
        return ntpath.normpath(text[1:].split('"', 1)[0])
    lowered = text.lower()
    cut = lowered.find(".exe")
    return ntpath.normpath(text[: cut + 4] if cut >= 0 else text)
