"""An offline SOFTWARE hive file (C:\\Windows\\System32\\config\\SOFTWARE copied from a
stopped system, or written by `reg save HKLM\\SOFTWARE file`), read through regipy.

The hive's root is HKLM\\SOFTWARE: `raw("SOFTWARE\\ACE\\TAO", v)` looks up `ACE\\TAO`.
regipy is imported inside load_hive only: it costs ~130 ms, more than `cefw plan`'s whole
start-up budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import Origin
from . import DEFAULT_NAME, HKLM, TYPE_NAMES, RegValue, type_name

FIX_HIVE = (
    r"copy C:\Windows\System32\config\SOFTWARE from a stopped system (or a backup), "
    r"or run `reg save HKLM\SOFTWARE software.hiv` on the CE host"
)

# Hive file names (the last part of the name in the hive header) of hives that are
# not SOFTWARE: passing one of them is a mistake worth stopping for.
OTHER_HIVES = {
    "system", "sam", "security", "default", "ntuser.dat", "usrclass.dat", "bcd",
    "amcache.hve", "components", "drivers", "elam", "bbi",
}

_CODES = {name: code for code, name in TYPE_NAMES.items()}
_CODES.update(REG_EXPAND=2, REG_FILETIME=16)  # regipy's other names


class HiveSource:
    """HKLM\\SOFTWARE values from one hive file."""

    def __init__(self, path: Path, hive: Any) -> None:
        self.path = path
        self._hive = hive
        header = hive.header
        # Sequence numbers differ when the hive was copied while Windows was writing it:
        # the latest changes are still in SOFTWARE.LOG1/LOG2, which regipy does not apply.
        self.dirty = header.primary_sequence_num != header.secondary_sequence_num
        note = " (dirty: recent changes may be missing)" if self.dirty else ""
        self.description = f"SOFTWARE hive {path.name}{note}"
        self._keys: dict[str, dict[str, RegValue] | None] = {}

    def raw(self, key: str, value: str) -> RegValue | None:
        parts = [part for part in key.split("\\") if part]
        if not parts or parts[0].lower() != "software":
            return None  # the hive holds HKLM\SOFTWARE only
        norm = "\\".join(parts[1:]).lower()
        if norm not in self._keys:
            self._keys[norm] = self._read_key(parts[1:], key)
        values = self._keys[norm]
        return None if values is None else values.get(value.lower())

    def values(self, key: str) -> dict[str, RegValue | None]:
        """Every value of `key` by its name as stored (for keys whose value names are
        data: firewall rule ids)."""
        parts = [part for part in key.split("\\") if part]
        if not parts or parts[0].lower() != "software":
            return {}
        self.raw(key, "")  # reads and caches the key
        found = self._keys.get("\\".join(parts[1:]).lower()) or {}
        return {v.origin.path.rsplit("\\", 1)[1]: v for v in found.values()}

    def _read_key(self, parts: list[str], key: str) -> dict[str, RegValue] | None:
        import logging

        # regipy stops reading a key's values at a damaged one and only logs it (to
        # stderr, through logging's last resort): catch what it says instead.
        complaints = _Complaints()
        logger = logging.getLogger("regipy")
        logger.addHandler(complaints)
        try:
            values = self._values(parts)
        # regipy parses untrusted bytes with construct: a damaged hive fails with many
        # kinds of exception (construct, regipy, IndexError, UnicodeDecodeError...).
        except Exception as exc:
            raise self._damaged(key, f"{type(exc).__name__}: {exc}") from None
        finally:
            logger.removeHandler(complaints)
        if complaints.errors:
            raise self._damaged(key, complaints.errors[0])
        return values

    def _damaged(self, key: str, detail: str) -> InputError:
        detail = (detail.strip().splitlines() or [""])[0][:120]
        return InputError(str(self.path), f"key HKLM\\{key}",
                          f"the hive is damaged here ({detail})", FIX_HIVE)

    def _values(self, parts: list[str]) -> dict[str, RegValue] | None:
        node = self._hive.root
        spelled = ["SOFTWARE"]
        for part in parts:
            node = node.get_subkey(part, raise_on_missing=False)
            if node is None:
                return None
            spelled.append(node.name)
        found: dict[str, RegValue] = {}
        for item in node.iter_values(trim_values=False):
            # regipy names the unnamed (default) value "(default)"; ours is "".
            name = "" if item.name == "(default)" else item.name
            code = _type_code(item.value_type)
            path = "\\".join([HKLM, *spelled, name or DEFAULT_NAME])
            origin = Origin("registry", path, f"hive {self.path.name} ({type_name(code)})")
            found[name.lower()] = RegValue(type_name(code), _data(code, item.value), origin)
        return found


class _Complaints:
    """A logging handler (duck-typed: logging is imported only with regipy) that keeps
    regipy's error messages and silences the rest."""

    level = 0

    def __init__(self) -> None:
        self.errors: list[str] = []

    def handle(self, record: Any) -> None:
        if record.levelno >= 40:  # logging.ERROR
            self.errors.append(record.getMessage())


def _type_code(value_type: object) -> int:
    """regipy's type (a name such as "REG_SZ", or digits for types it does not name)."""
    text = str(value_type)
    if text.isdigit():
        return int(text)
    return _CODES.get(text, 0)


def _data(code: int, data: object) -> object:
    """regipy's decoded data -> RegValue.data (see registry.RegValue)."""
    if code in (1, 2):
        text = data if isinstance(data, str) else bytes(data).decode("utf-16-le", "replace")
        return text.split("\x00", 1)[0]  # unexpanded; ends at the first NUL
    if code in (4, 5, 11) and isinstance(data, int):
        return data
    if code == 7 and isinstance(data, list):
        return [str(item) for item in data]
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    # Types regipy decodes as text (or dates) it does not give back raw: best effort.
    return str(data).encode("utf-16-le")


def load_hive(path: Path) -> HiveSource:
    """Open an offline SOFTWARE hive; InputError when it is unreadable or not a hive."""
    from regipy.registry import RegistryHive  # ~130 ms: only when a hive is given

    try:
        hive = RegistryHive(str(path))
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read the hive file: {exc.strerror}",
                         "check the path and that cefw may read the file") from None
    except Exception as exc:  # construct/regipy errors on bytes that are not a hive
        raise InputError(str(path), "", _why_not_a_hive(path, exc), FIX_HIVE) from None
    _check_software(path, hive.header.file_name)
    return HiveSource(path, hive)


def _why_not_a_hive(path: Path, exc: Exception) -> str:
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"regf":
        return "not a registry hive file: it does not start with 'regf'"
    return f"not a registry hive file: its structure is damaged ({type(exc).__name__})"


def _check_software(path: Path, header_name: str) -> None:
    last = header_name.replace("/", "\\").rstrip("\x00").rsplit("\\", 1)[-1].lower()
    if last in OTHER_HIVES:
        raise InputError(str(path), "hive header",
                         f"this is the {last.upper()} hive, not SOFTWARE", FIX_HIVE)
