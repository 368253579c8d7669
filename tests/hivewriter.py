"""Test helper: write small registry hive files (the regf format) so tests can read real
hives through regipy without shipping binary fixtures.

Layout (https://github.com/msuhanov/regf/blob/master/Windows%20registry%20file%20format%20specification.md):
a 4096-byte base block, then one hive bin holding every cell: the root nk first (regipy
takes the first cell of the first bin as the root), one sk shared by all keys, an nk per
key, an lh or lf list of subkeys sorted by upper-case name, a value list, a vk per
value, and a data cell per value longer than 4 bytes (shorter data sits in the vk).
No big-data (db) cells: values are limited to 16344 bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD = 1, 2, 3, 4, 7, 11

BASE_BLOCK = 4096
HBIN_HEADER = 32
FILETIME = 133_485_408_000_000_000  # 2024-01-01
MAX_DATA = 16344

RegData = tuple[int, bytes]  # (type, raw bytes)


def sz(text: str) -> RegData:
    return REG_SZ, (text + "\x00").encode("utf-16-le")


def expand_sz(text: str) -> RegData:
    return REG_EXPAND_SZ, (text + "\x00").encode("utf-16-le")


def dword(number: int) -> RegData:
    return REG_DWORD, struct.pack("<I", number)


def qword(number: int) -> RegData:
    return REG_QWORD, struct.pack("<Q", number)


def multi_sz(items: list[str]) -> RegData:
    return REG_MULTI_SZ, "".join(i + "\x00" for i in [*items, ""]).encode("utf-16-le")


def binary(data: bytes) -> RegData:
    return REG_BINARY, data


@dataclass
class _Key:
    name: str
    children: dict[str, _Key] = field(default_factory=dict)
    values: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)  # cell offsets, by role


def _tree(keys: dict[str, dict[str, RegData]], root_name: str) -> _Key:
    root = _Key(root_name)
    for path, values in keys.items():
        node = root
        for part in (p for p in path.split("\\") if p):
            node = node.children.setdefault(part.upper(), _Key(part))
        for name, (kind, data) in values.items():
            if len(data) > MAX_DATA:
                raise ValueError(f"value {name!r}: {len(data)} bytes needs big-data cells")
            node.values[name.upper()] = (name, kind, data)
    return root


def _walk(node: _Key) -> list[_Key]:
    out = [node]
    for child in _sorted(node):
        out += _walk(child)
    return out


def _sorted(node: _Key) -> list[_Key]:
    return [node.children[k] for k in sorted(node.children)]


def _name(text: str) -> tuple[bytes, bool]:
    """(bytes, compressed): ASCII names are stored one byte a character."""
    if text.isascii():
        return text.encode("ascii"), True
    return text.encode("utf-16-le"), False


def _cell_size(payload: int) -> int:
    return (payload + 4 + 7) // 8 * 8


class _Layout:
    """Cell offsets (from the start of the hive bins), handed out in order."""

    def __init__(self) -> None:
        self.end = HBIN_HEADER
        self.cells: list[tuple[int, bytes]] = []

    def reserve(self, payload: int) -> int:
        offset = self.end
        self.end += _cell_size(payload)
        return offset

    def put(self, offset: int, payload: bytes) -> None:
        self.cells.append((offset, payload))


def lh_hash(name: str) -> int:
    """The lh name hash: over the upper-case name's UTF-16 code units."""
    value = 0
    for (unit,) in struct.iter_unpack("<H", name.upper().encode("utf-16-le")):
        value = (value * 37 + unit) & 0xFFFFFFFF
    return value


def _lf_hint(name: str) -> int:
    hint = bytes(ord(c) & 0xFF for c in name[:4]).ljust(4, b"\x00")
    return struct.unpack("<I", hint)[0]


def _security_descriptor() -> bytes:
    """Self-relative: owner Administrators, group SYSTEM, DACL granting Administrators
    full control of the key and its subkeys."""
    admins = struct.pack("<BB6sII", 1, 2, b"\x00\x00\x00\x00\x00\x05", 32, 544)
    system = struct.pack("<BB6sI", 1, 1, b"\x00\x00\x00\x00\x00\x05", 18)
    ace = struct.pack("<BBHI", 0, 0x03, 8 + len(admins), 0x000F003F) + admins
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(ace), 1, 0) + ace
    owner = 20
    group = owner + len(admins)
    dacl = group + len(system)
    head = struct.pack("<BBHIIII", 1, 0, 0x8004, owner, group, 0, dacl)
    return head + admins + system + acl


def build_hive(keys: dict[str, dict[str, RegData]], *, index: str = "lh",
               file_name: str = r"\System32\Config\SOFTWARE",
               sequence: tuple[int, int] = (1, 1), root_name: str = "ROOT") -> bytes:
    """Hive bytes holding `keys`: {r"WOW6432Node\\ACE\\TAO": {"name": expand_sz(...)}}.
    Parent keys are created as needed; "" as a value name is the default value.
    `index` is "lh" (hash leaf, what Windows writes) or "lf" (fast leaf)."""
    if index not in ("lh", "lf"):
        raise ValueError("index must be 'lh' or 'lf'")
    root = _tree(keys, root_name)
    nodes = _walk(root)
    layout = _Layout()
    _reserve(nodes, layout)
    descriptor = _security_descriptor()
    sk = root.offsets["sk"]
    layout.put(sk, b"sk" + struct.pack("<HIIII", 0, sk, sk, len(nodes), len(descriptor))
               + descriptor)
    parents = {id(child): node for node in nodes for child in node.children.values()}
    for node in nodes:
        _emit(node, parents.get(id(node)), layout, index, sk)
    return _base_block(file_name, sequence, layout) + _hbin(layout)


def _reserve(nodes: list[_Key], layout: _Layout) -> None:
    root = nodes[0]
    root.offsets["nk"] = layout.reserve(76 + len(_name(root.name)[0]))  # first cell
    root.offsets["sk"] = layout.reserve(20 + len(_security_descriptor()))
    for node in nodes:
        if node is not root:
            node.offsets["nk"] = layout.reserve(76 + len(_name(node.name)[0]))
        if node.children:
            node.offsets["list"] = layout.reserve(4 + 8 * len(node.children))
        if node.values:
            node.offsets["values"] = layout.reserve(4 * len(node.values))
        for key, (name, _kind, data) in sorted(node.values.items()):
            node.offsets[f"vk:{key}"] = layout.reserve(20 + len(_name(name)[0]))
            if len(data) > 4:
                node.offsets[f"data:{key}"] = layout.reserve(len(data))


def _emit(node: _Key, parent: _Key | None, layout: _Layout, index: str, sk: int) -> None:
    name, compressed = _name(node.name)
    flags = 0x20 if compressed else 0
    if parent is None:
        flags |= 0x0C  # KEY_HIVE_ENTRY | KEY_NO_DELETE: the root
    children = _sorted(node)
    values = sorted(node.values.items())
    none = 0xFFFFFFFF
    nk = b"nk" + struct.pack(
        "<HQIIIIIIIIIIIIIIIHH",
        flags, FILETIME, 0,
        parent.offsets["nk"] if parent else 0,
        len(children), 0, node.offsets.get("list", none), none,
        len(values), node.offsets.get("values", none), sk, none,
        max((len(c.name) * 2 for c in children), default=0), 0,
        max((len(n) * 2 for n, _k, _d in node.values.values()), default=0),
        max((len(d) for _n, _k, d in node.values.values()), default=0),
        0, len(name), 0,
    ) + name
    layout.put(node.offsets["nk"], nk)
    if children:
        elements = b"".join(
            struct.pack("<II", c.offsets["nk"],
                        lh_hash(c.name) if index == "lh" else _lf_hint(c.name))
            for c in children)
        layout.put(node.offsets["list"], index.encode() + struct.pack("<H", len(children))
                   + elements)
    if values:
        layout.put(node.offsets["values"],
                   b"".join(struct.pack("<I", node.offsets[f"vk:{k}"]) for k, _v in values))
    for key, (vname, kind, data) in values:
        _emit_value(node, key, vname, kind, data, layout)


def _emit_value(node: _Key, key: str, name: str, kind: int, data: bytes,
                layout: _Layout) -> None:
    raw_name, compressed = _name(name)
    if len(data) <= 4:
        size, where = len(data) | 0x80000000, struct.unpack("<I", data.ljust(4, b"\0"))[0]
    else:
        size, where = len(data), node.offsets[f"data:{key}"]
        layout.put(where, data)
    vk = b"vk" + struct.pack("<HIIIHH", len(raw_name), size, where, kind,
                             1 if compressed else 0, 0) + raw_name
    layout.put(node.offsets[f"vk:{key}"], vk)


def _hbin(layout: _Layout) -> bytes:
    size = (layout.end + BASE_BLOCK - 1) // BASE_BLOCK * BASE_BLOCK
    out = bytearray(size)
    out[:HBIN_HEADER] = b"hbin" + struct.pack("<IIIIQI", 0, size, 0, 0, FILETIME, 0)
    for offset, payload in layout.cells:
        cell = _cell_size(len(payload))
        out[offset:offset + cell] = struct.pack("<i", -cell) + payload.ljust(cell - 4, b"\0")
    if size > layout.end:  # the rest is one free cell (positive size)
        out[layout.end:layout.end + 4] = struct.pack("<i", size - layout.end)
    return bytes(out)


def _base_block(file_name: str, sequence: tuple[int, int], layout: _Layout) -> bytes:
    bins = (layout.end + BASE_BLOCK - 1) // BASE_BLOCK * BASE_BLOCK
    name = file_name[-31:].encode("utf-16-le").ljust(64, b"\0")
    head = b"regf" + struct.pack("<IIQIIIIIII", sequence[0], sequence[1], FILETIME,
                                 1, 5, 0, 1, HBIN_HEADER, bins, 1) + name
    head = head.ljust(508, b"\0")
    head += struct.pack("<I", checksum(head))
    return head.ljust(BASE_BLOCK, b"\0")


def checksum(head: bytes) -> int:
    """XOR of the base block's first 127 dwords; 0 and -1 are avoided as the spec says."""
    value = 0
    for (word,) in struct.iter_unpack("<I", head[:508]):
        value ^= word
    return {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(value, value)
