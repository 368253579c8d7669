"""Registry exports (`.reg` files from regedit or `reg export`) read offline.

A hand-written parser: no maintained Python library reads regedit's format faithfully
(both encodings, hex(N) types decoded by the file's version, continuation lines,
deletions) with the line numbers our errors need, and the format is small.

Formats (docs/ce-formats.md, "Registry"):
- "Windows Registry Editor Version 5.00": UTF-16LE with BOM as regedit writes it (UTF-8
  with or without BOM accepted); hex(1)/hex(2)/hex(7) strings are UTF-16LE bytes.
- "REGEDIT4": ANSI, read as cp1252; hex(1)/hex(2)/hex(7) strings are ANSI bytes.

Lines: `[HKEY_LOCAL_MACHINE\\key]` (or `HKLM\\`), `[-key]` deletes the key and its subkeys,
`"name"=...` / `@=...` values (`"text"`, `dword:`, `hex:`, `hex(N):`, `-` to delete),
hex data continued with a trailing backslash, `;` comments. Only HKLM is kept; keys of
other roots are parsed (so errors in them still show) and dropped.

A string value ends at its first NUL, as the program that reads it sees it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path

from ..errors import InputError
from ..model import Origin
from ..record import Record
from . import DEFAULT_NAME, HKLM, RegValue, type_name

HEADER_V5 = "windows registry editor version 5.00"
HEADER_V4 = "regedit4"

ROOTS = {
    "HKEY_LOCAL_MACHINE": HKLM,
    "HKLM": HKLM,
    "HKEY_CURRENT_USER": "HKCU",
    "HKCU": "HKCU",
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKCR": "HKCR",
    "HKEY_USERS": "HKU",
    "HKU": "HKU",
    "HKEY_CURRENT_CONFIG": "HKCC",
    "HKCC": "HKCC",
    "HKEY_DYN_DATA": "HKDD",
    "HKEY_PERFORMANCE_DATA": "HKPD",
}

FIX_EXPORT = (
    "export the key again with regedit (File > Export) or "
    r"`reg export HKLM\SOFTWARE\WOW6432Node\ACE\TAO tao.reg`"
)
FIX_STRING = 'close the string with " and write a quote inside it as \\" and a backslash as \\\\'
FIX_DWORD = "write a DWORD as dword: and 8 hex digits, e.g. dword:0000270f for 9999"
FIX_HEX = "write binary data as comma-separated hex bytes, e.g. hex(2):39,00,39,00,00,00"

# Quoted string with \" and \\ escapes (unrolled loop: fast on long values).
_QUOTED = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"', re.S)
_ESCAPE = re.compile(r'\\([\\"])')
_DWORD = re.compile(r"dword:([0-9a-f]{1,8})\s*(?:;.*)?", re.I | re.S)
_HEX_HEAD = re.compile(r"hex(?:\(([0-9a-f]{1,8})\))?:", re.I)
_HEX_FAST = re.compile(r"\s*(?:[0-9a-f]{2}\s*,\s*)*(?:[0-9a-f]{2}\s*,?)?\s*", re.I)
_HEX_BYTE = re.compile(r"[0-9a-f]{1,2}", re.I)


def decode_data(code: int, raw: bytes, *, ansi: bool = False) -> object:
    """Raw value bytes -> RegValue.data for type `code`. `ansi`: strings are cp1252 bytes
    (REGEDIT4) rather than UTF-16LE. Sizes that do not fit the type stay bytes."""
    if code in (1, 2):
        return _text(raw, ansi).split("\x00", 1)[0]
    if code == 7:
        strings = _text(raw, ansi).split("\x00")
        # The list ends at its first empty string (the double NUL).
        return strings[: strings.index("")] if "" in strings else strings
    if code in (4, 5) and len(raw) == 4:
        return int.from_bytes(raw, "little" if code == 4 else "big")
    if code == 11 and len(raw) == 8:
        return int.from_bytes(raw, "little")
    return bytes(raw)


def _text(raw: bytes, ansi: bool) -> str:
    return raw.decode("cp1252" if ansi else "utf-16-le", errors="replace")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: m.group(1), text) if "\\" in text else text


def _norm(key: str) -> str:
    """Key path as compared: case-insensitive, empty parts (doubled or trailing
    backslashes) ignored."""
    return "\\".join(part for part in key.lower().split("\\") if part)


class _Entry(Record):
    seq: int  # order of the line in the file: the latest line wins
    value: RegValue | None  # None: deleted by `"name"=-`
    name: str = ""  # the value's name as written (keys of _values are lower-case)


class RegFileSource:
    """One parsed export: HKLM values and deletions, in file order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.description = f"registry export {name}"
        self._values: dict[tuple[str, str], _Entry] = {}
        self._deleted_keys: dict[str, int] = {}  # normalised key -> seq of `[-key]`

    def raw(self, key: str, value: str) -> RegValue | None:
        entry = self._values.get((_norm(key), value.lower()))
        if entry is None or entry.seq < self._key_deleted_at(_norm(key)):
            return None
        return entry.value

    def deletes(self, key: str, value: str) -> bool:
        """True when this file's last word on the value is a deletion (`"name"=-` or
        `[-key]` of the key or a parent): it removes what an earlier source set."""
        entry = self._values.get((_norm(key), value.lower()))
        deleted_at = self._key_deleted_at(_norm(key))
        if entry is None:
            return deleted_at >= 0
        return entry.value is None or entry.seq < deleted_at

    def values(self, key: str) -> dict[str, RegValue | None]:
        """Every value this file says about `key` (its name as written -> the value, or
        None when the file deletes it), for keys whose value names are data (firewall
        rule ids)."""
        norm = _norm(key)
        deleted_at = self._key_deleted_at(norm)
        out: dict[str, RegValue | None] = {}
        for (k, _), entry in self._values.items():
            if k == norm:
                out[entry.name] = None if entry.seq < deleted_at else entry.value
        return out

    def _key_deleted_at(self, key: str) -> int:
        """seq of the latest `[-k]` of `key` or one of its parents; -1 when none."""
        parts = key.split("\\") if key else []
        prefixes = ["\\".join(parts[:i]) for i in range(len(parts) + 1)]
        return max((self._deleted_keys.get(p, -1) for p in prefixes), default=-1)

    def _set(self, seq: int, norm_key: str, name: str, value: RegValue | None) -> None:
        self._values[(norm_key, name.lower())] = _Entry(seq, value, name)

    def _delete_key(self, seq: int, key: str) -> None:
        self._deleted_keys[_norm(key)] = seq


def load_reg(path: Path) -> RegFileSource:
    """Read and parse a `.reg` export; InputError for anything unreadable or malformed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read the registry export: {exc.strerror}",
                         "check the path and that cefw may read the file") from None
    return parse_reg_bytes(data, str(path), path.name)


def parse_reg_bytes(data: bytes, path: str, name: str | None = None) -> RegFileSource:
    """Parse export bytes; `path` names the file in errors, `name` (default: `path`) in
    descriptions and origins."""
    text = _decode(data, path)
    return _Parser(path, name or path, text).run()


def _decode(data: bytes, path: str) -> str:
    if data.startswith(b"\xff\xfe"):
        # regedit copies value strings verbatim, unpaired surrogates included: replace
        # them rather than refuse the file.
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return _utf8(data[3:], path)  # even under a REGEDIT4 header: the BOM says UTF-8
    if len(data) >= 2 and data[0] and not data[1]:
        return data.decode("utf-16-le", errors="replace")  # UTF-16LE without its BOM
    if data.startswith(b"\xfe\xff"):
        # regedit never writes big-endian, but an editor's "UTF-16 BE" says so plainly.
        return data[2:].decode("utf-16-be", errors="replace")
    if len(data) >= 2 and not data[0] and data[1]:
        return data.decode("utf-16-be", errors="replace")  # UTF-16BE without its BOM
    if data.lstrip()[:8].upper() == b"REGEDIT4":
        # cp1252 leaves five bytes undefined: replaced, as the file cannot say otherwise.
        return data.decode("cp1252", errors="replace")
    return _utf8(data, path)


def _utf8(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        if _header(text.split("\n")) is None:
            raise _not_an_export(path, text) from None
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(path, f"line {line}", "the text is not valid UTF-8",
                         "save the file as UTF-16 LE (as regedit does) or UTF-8, "
                         "or " + FIX_EXPORT) from None


def _header(lines: list[str]) -> tuple[int, bool] | None:
    """(index of the header line, is REGEDIT4) or None when the file has no header."""
    for index, line in enumerate(lines):
        kind = _header_kind(line)
        if kind is not None:
            return index, kind
        if line.strip():
            return None
    return None


def _header_kind(line: str) -> bool | None:
    """True for REGEDIT4, False for version 5, None for any other line."""
    words = " ".join(line.strip().lstrip("\ufeff").split()).lower()
    if words == HEADER_V5:
        return False
    if words == HEADER_V4:
        return True
    return None


def _not_an_export(path: str, text: str) -> InputError:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return InputError(path, "line 1",
                      f"not a registry export: it starts with {_show(first)}, not "
                      "'Windows Registry Editor Version 5.00' or 'REGEDIT4'", FIX_EXPORT)


def _show(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class _Parser:
    def __init__(self, path: str, name: str, text: str) -> None:
        self.path = path
        self.name = name
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        self.pos = 0
        self.ansi = False
        self.key: str | None = None  # the current HKLM key as spelled; None before any
        self.norm_key = ""
        self.keep = False  # False under a key of another root or a `[-key]`: check, drop
        self.source = RegFileSource(name)

    def run(self) -> RegFileSource:
        found = _header(self.lines)
        if found is None:
            raise _not_an_export(self.path, "\n".join(self.lines))
        self.pos, self.ansi = found[0] + 1, found[1]
        while (item := self._next_line()) is not None:
            self._line(*item)
        return self.source

    def _next_line(self) -> tuple[int, str] | None:
        if self.pos >= len(self.lines):
            return None
        self.pos += 1
        return self.pos, self.lines[self.pos - 1]

    def error(self, line: int, problem: str, fix: str) -> InputError:
        return InputError(self.path, f"line {line}", problem, fix)

    def _line(self, n: int, line: str) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            return
        kind = _header_kind(stripped) if stripped[0] in "WwRr\ufeff" else None
        if kind is not None:  # concatenated exports repeat the header
            self.ansi = kind
            return
        if stripped.startswith("["):
            self._key_line(n, stripped)
        elif stripped[0] in '"@':
            self._value_line(n, stripped)
        else:
            raise self.error(n, f"cannot read {_show(stripped)}: expected [key], "
                             '"name"=value, @=value or a ; comment', FIX_EXPORT)

    def _key_line(self, n: int, stripped: str) -> None:
        if not stripped.endswith("]"):
            raise self.error(n, f"the key line {_show(stripped)} has no closing ]",
                             r"end it with ], e.g. [HKEY_LOCAL_MACHINE\SOFTWARE\ACE\TAO]")
        inner = stripped[1:-1]
        delete = inner.startswith("-")
        root, _, rest = inner.removeprefix("-").partition("\\")
        hive = ROOTS.get(root.strip().upper())
        if hive is None:
            raise self.error(n, f"{_show(root)} is not a registry root",
                             r"start the key with HKEY_LOCAL_MACHINE\, e.g. "
                             r"[HKEY_LOCAL_MACHINE\SOFTWARE\ACE\TAO]")
        self.key = rest.rstrip("\\")
        self.norm_key = _norm(self.key)
        self.keep = hive == HKLM and not delete
        if hive == HKLM and delete:
            self.source._delete_key(n, self.key)

    def _value_line(self, n: int, stripped: str) -> None:
        if self.key is None:
            raise self.error(n, "a value line before any [key] line",
                             r"put the value under its key line, e.g. "
                             r"[HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\ACE\TAO]")
        name, rest = self._value_name(n, stripped)
        rest = rest.lstrip()
        if not rest.startswith("="):
            raise self.error(n, f"expected = after the value name in {_show(stripped)}",
                             'write values as "name"="text", "name"=dword:00000000 or '
                             '"name"=hex(2):...')
        parsed = self._data(n, rest[1:].lstrip())
        if not self.keep:
            return
        value = None
        if parsed is not None:
            code, data = parsed
            value = RegValue(type_name(code), data, self._origin(n, self.key, name, code))
        # Line numbers grow through the file, so they order its statements: latest wins.
        self.source._set(n, self.norm_key, name, value)

    def _origin(self, n: int, key: str, name: str, code: int) -> Origin:
        place = f"{HKLM}\\{key}" if key else HKLM
        path = f"{place}\\{name or DEFAULT_NAME}"
        return Origin("registry", path, f"{self.name} line {n} ({type_name(code)})")

    def _value_name(self, n: int, stripped: str) -> tuple[str, str]:
        if stripped.startswith("@"):
            return "", stripped[1:]
        match = _QUOTED.match(stripped)
        if match is None:
            raise self.error(n, f"the value name in {_show(stripped)} has no closing quote",
                             FIX_STRING)
        return _unescape(match.group(1)), stripped[match.end():]

    def _data(self, n: int, text: str) -> tuple[int, object] | None:
        """(type, data) of the text after `=`; None for `-` (delete the value)."""
        if text.startswith("-"):
            self._end(n, text[1:])
            return None
        if text.startswith('"'):
            match = _QUOTED.match(text)
            if match is None:
                raise self.error(n, f"the string {_show(text)} has no closing quote",
                                 FIX_STRING)
            self._end(n, text[match.end():])
            return 1, _unescape(match.group(1)).split("\x00", 1)[0]
        if text[:6].lower() == "dword:":
            match = _DWORD.fullmatch(text)
            if match is None:
                raise self.error(n, f"{_show(text)} is not a DWORD (1 to 8 hex digits)",
                                 FIX_DWORD)
            return 4, int(match.group(1), 16)
        head = _HEX_HEAD.match(text)
        if head is None:
            raise self.error(n, f"cannot read the value data {_show(text)}",
                             'write "text", dword:00000000, hex:.. or hex(N):.., '
                             "or " + FIX_EXPORT)
        code = int(head.group(1), 16) if head.group(1) else 3
        raw = self._hex(n, text[head.end():])
        return code, decode_data(code, raw, ansi=self.ansi)

    def _end(self, n: int, tail: str) -> None:
        tail = tail.strip()
        if tail and not tail.startswith(";"):
            raise self.error(n, f"unexpected text {_show(tail)} after the value",
                             "remove it, or start a comment with ;")

    def _hex(self, n: int, text: str) -> bytes:
        """Hex bytes from `text` and its continuation lines (trailing backslash), which
        join as one text, as regedit reads them."""
        pieces: list[tuple[int, str]] = []
        while True:
            if ";" in text:
                text = text.split(";", 1)[0]
            text = text.rstrip()
            more = text.endswith("\\")
            pieces.append((n, text[:-1] if more else text))
            if not more:
                break
            n, text = self._continuation(n)
        joined = "".join(text for _n, text in pieces)
        if _HEX_FAST.fullmatch(joined):
            return bytes.fromhex(joined.replace(",", " "))
        return self._hex_slowly(pieces, joined)

    def _continuation(self, n: int) -> tuple[int, str]:
        """The next line that continues hex data (comment lines in between skipped),
        without its indent."""
        while (item := self._next_line()) is not None:
            text = item[1].lstrip()
            if not text.startswith(";"):
                return item[0], text
        raise self.error(n, "the hex data ends with \\ but the file ends there",
                         "complete the value or remove the trailing \\; or " + FIX_EXPORT)

    def _hex_slowly(self, pieces: list[tuple[int, str]], joined: str) -> bytes:
        """Byte by byte, to name the line of a bad byte (and accept one-digit bytes)."""
        ends = list(accumulate(len(text) for _n, text in pieces))
        items = joined.split(",")
        out = bytearray()
        pos = 0
        for index, raw in enumerate(items):
            item = raw.strip()
            line = pieces[min(bisect_right(ends, pos + len(raw) - len(raw.lstrip())),
                              len(pieces) - 1)][0]
            pos += len(raw) + 1
            if not item and index == len(items) - 1:
                break  # a trailing comma
            if not _HEX_BYTE.fullmatch(item):
                what = "an empty byte" if not item else f"{_show(item)} is not a hex byte"
                raise self.error(line, f"{what} in the hex data", FIX_HEX)
            out.append(int(item, 16))
        return bytes(out)
