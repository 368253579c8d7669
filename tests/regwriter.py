"""Test helper: write `.reg` exports the way regedit does (escapes, hex lines wrapped at
about 80 columns with a trailing backslash and a two-space indent, CRLF), so tests can
round-trip generated values through cefw.registry.regfile."""

from __future__ import annotations

import struct

V5 = "Windows Registry Editor Version 5.00"
V4 = "REGEDIT4"

# A value: ("sz", str) | ("expand", str) | ("multi", list[str]) | ("dword", int)
#          | ("qword", int) | ("binary", bytes) | ("hex", type, bytes) | ("delete",)
Value = tuple


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _name(name: str) -> str:
    return "@" if name == "" else f'"{escape(name)}"'


def hex_data(head: str, data: bytes) -> str:
    """`head` (e.g. '"x"=hex(2):') and the bytes, wrapped as regedit wraps them."""
    out = [head]
    width = len(head)
    for i, byte in enumerate(data):
        out.append(f"{byte:02x}")
        if i < len(data) - 1:
            out.append(",")
            width += 3
            if width > 76:
                out.append("\\\r\n  ")
                width = 2
    return "".join(out)


def _string_bytes(text: str, ansi: bool) -> bytes:
    return (text + "\x00").encode("cp1252" if ansi else "utf-16-le")


def value_line(name: str, value: Value, ansi: bool = False) -> str:
    kind = value[0]
    head = f"{_name(name)}="
    if kind == "sz":
        return f'{head}"{escape(value[1])}"'
    if kind == "dword":
        return f"{head}dword:{value[1]:08x}"
    if kind == "delete":
        return f"{head}-"
    if kind == "expand":
        return hex_data(head + "hex(2):", _string_bytes(value[1], ansi))
    if kind == "multi":
        data = b"".join(_string_bytes(s, ansi) for s in value[1]) + _string_bytes("", ansi)
        return hex_data(head + "hex(7):", data)
    if kind == "qword":
        return hex_data(head + "hex(b):", struct.pack("<Q", value[1]))
    if kind == "binary":
        return hex_data(head + "hex:", value[1])
    if kind == "hex":
        return hex_data(head + f"hex({value[1]:x}):", value[2])
    raise ValueError(kind)


def reg_text(keys: dict[str, dict[str, Value]], *, version: int = 5,
             root: str = "HKEY_LOCAL_MACHINE") -> str:
    """Export text: {"SOFTWARE\\ACE\\TAO": {"name": ("sz", "x")}}; a key whose name starts
    with "-" is written as a deletion `[-...]`."""
    ansi = version == 4
    lines = [V4 if ansi else V5, ""]
    for key, values in keys.items():
        if key.startswith("-"):
            lines += [f"[-{root}\\{key[1:]}]", ""]
            continue
        lines.append(f"[{root}\\{key}]")
        lines += [value_line(name, value, ansi) for name, value in values.items()]
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def encode(text: str, encoding: str) -> bytes:
    """"utf-16" (BOM + UTF-16LE, as regedit writes), "utf-8", "utf-8-sig", "cp1252"."""
    if encoding == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode(encoding)
