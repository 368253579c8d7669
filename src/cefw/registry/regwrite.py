"""Registry values written as a `.reg` export ("Windows Registry Editor Version 5.00",
UTF-16LE with BOM, CRLF), as regedit writes them: strings quoted with \\ and " escaped,
DWORDs as dword:, everything else as hex(N): bytes. A value that regfile reads back from
this text is the value written (tests/test_bundle.py round-trips every type).

Unlike regedit, hex data stays on one line: regfile, regedit and reg import all read
long lines, and one line per value keeps the comment before it next to it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from . import RegValue

HEADER = "Windows Registry Editor Version 5.00"
CODES = {"REG_NONE": 0, "REG_SZ": 1, "REG_EXPAND_SZ": 2, "REG_BINARY": 3, "REG_DWORD": 4,
         "REG_DWORD_BIG_ENDIAN": 5, "REG_LINK": 6, "REG_MULTI_SZ": 7, "REG_QWORD": 11}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _hex(data: bytes) -> str:
    return ",".join(f"{b:02x}" for b in data)


def _utf16(text: str) -> bytes:
    return (text + "\x00").encode("utf-16-le", errors="surrogatepass")


def _code(type_name: str) -> int:
    if type_name in CODES:
        return CODES[type_name]
    if type_name.startswith("REG_TYPE_0x"):
        return int(type_name[len("REG_TYPE_0x"):], 16)
    from . import TYPE_NAMES

    return next(code for code, name in TYPE_NAMES.items() if name == type_name)


def value_line(name: str, value: RegValue) -> str:
    """`"name"=data` for one value."""
    head = "@=" if name == "" else f'"{_escape(name)}"='
    data, code = value.data, _code(value.type)
    if code == 1 and isinstance(data, str) and "\r" not in data and "\n" not in data:
        return f'{head}"{_escape(data)}"'
    if code == 4 and isinstance(data, int):
        return f"{head}dword:{data & 0xFFFFFFFF:08x}"
    if isinstance(data, str):
        raw = _utf16(data)
    elif isinstance(data, list):
        raw = b"".join(_utf16(s) for s in data) + b"\x00\x00"
    elif isinstance(data, int):
        raw = struct.pack("<Q" if code == 11 else "<I" if code != 5 else ">I",
                          data & (0xFFFFFFFFFFFFFFFF if code == 11 else 0xFFFFFFFF))
    else:
        raw = bytes(data)  # type: ignore[arg-type]
    return f"{head}hex({code:x}):{_hex(raw)}" if code != 3 else f"{head}hex:{_hex(raw)}"


def reg_text(keys: Iterable[tuple[str, list[tuple[str, RegValue, list[str]]]]],
             comments: Iterable[str] = ()) -> str:
    """Export text for HKLM keys: (key path under HKLM, [(value name, value, comment lines
    written before it)]). Every key is written, also one without values."""
    lines = [HEADER, ""]
    lines += [f"; {c}" for c in comments]
    if comments:
        lines.append("")
    for key, values in keys:
        lines.append(f"[HKEY_LOCAL_MACHINE\\{key}]")
        for name, value, before in values:
            lines += before
            lines.append(value_line(name, value))
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def encode(text: str) -> bytes:
    """As regedit saves: UTF-16LE with its BOM."""
    return b"\xff\xfe" + text.encode("utf-16-le", errors="surrogatepass")
