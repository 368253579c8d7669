"""The live registry on Windows, read with Python's winreg in the view the CE program
uses: KEY_WOW64_32KEY for a 32-bit program (Windows redirects it to WOW6432Node),
KEY_WOW64_64KEY for a 64-bit one. winreg is imported on first use: this module is only
used on Windows.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import EnvironmentProblem, InputError
from ..model import Origin
from . import DEFAULT_NAME, HKLM, Lookup, RegValue, type_name


def _winreg() -> ModuleType:
    try:
        import winreg
    except ImportError:
        raise EnvironmentProblem(
            "the live registry can only be read on Windows",
            "give a registry export (--registry FILE.reg) or a SOFTWARE hive (--hive FILE)",
        ) from None
    return winreg


class LiveRegistry:
    """registry.Source over HKEY_LOCAL_MACHINE of the running system."""

    description = "live registry"

    def lookup(self, key: str, value: str, view: int) -> Lookup:
        found = self._read(key, value, view)
        other = None
        if found is None and view == 64:
            # A 64-bit program does not see the 32-bit view: report a value that is only
            # there, so the administrator learns why it was not used.
            other = self._read(key, value, 32)
        return Lookup(found, other)

    def values(self, key: str, view: int = 64) -> dict[str, RegValue]:
        """Every value of `key` in a view (64-bit unless told), by name (for keys whose
        value names are data: the firewall rules Group Policy delivers; and for bundles,
        which record whole keys)."""
        winreg = _winreg()
        flag = winreg.KEY_WOW64_32KEY if view == 32 else winreg.KEY_WOW64_64KEY
        found: dict[str, RegValue] = {}
        try:
            with winreg.OpenKeyEx(winreg.HKEY_LOCAL_MACHINE, key, 0,
                                  winreg.KEY_READ | flag) as handle:
                index = 0
                while True:
                    try:
                        name, data, code = winreg.EnumValue(handle, index)
                    except OSError:  # ERROR_NO_MORE_ITEMS
                        break
                    index += 1
                    path = "\\".join((HKLM, key, name or DEFAULT_NAME))
                    origin = Origin("registry", path,
                                    f"live registry, {view}-bit view ({type_name(code)})")
                    found[name] = RegValue(type_name(code), _data(code, data), origin)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise InputError(f"{HKLM}\\{key}", "live registry",
                             f"cannot read the key: {exc.strerror or exc}",
                             "run cefw from an elevated prompt") from None
        return found

    def _read(self, key: str, value: str, view: int) -> RegValue | None:
        winreg = _winreg()
        flag = winreg.KEY_WOW64_32KEY if view == 32 else winreg.KEY_WOW64_64KEY
        path = "\\".join((HKLM, key, value or DEFAULT_NAME))
        try:
            with winreg.OpenKeyEx(winreg.HKEY_LOCAL_MACHINE, key, 0,
                                  winreg.KEY_READ | flag) as handle:
                data, code = winreg.QueryValueEx(handle, value)
        except FileNotFoundError:
            return None
        except OSError as exc:  # PermissionError and the rest: say which value and why
            raise InputError(path, f"live registry, {view}-bit view",
                             f"cannot read the value: {exc.strerror or exc}",
                             "run cefw from an elevated prompt, or give an export of the "
                             "key (--registry FILE.reg)") from None
        origin = Origin("registry", path, f"live registry, {view}-bit view ({type_name(code)})")
        return RegValue(type_name(code), _data(code, data), origin)


def _data(code: int, data: object) -> object:
    """winreg's data -> RegValue.data: str for *_SZ (winreg leaves %VAR% unexpanded),
    int, list[str], bytes (winreg gives None for empty binary data)."""
    if data is None:
        return "" if code in (1, 2) else ([] if code == 7 else b"")
    if isinstance(data, str):
        return data.split("\x00", 1)[0]
    return data
