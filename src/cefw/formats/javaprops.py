"""java.util.Properties.load, as cefw reads catalina.properties: `key=value`,
`key: value` or `key value` per logical line; `#`/`!` comment lines; a line ending in an
odd number of backslashes continues on the next (its leading white space dropped); the
escapes `\\t \\n \\r \\f \\uXXXX`, any other escaped character standing for itself; the
last of duplicate keys winning. Text in, not bytes: the caller decodes (Latin-1, as
Properties.load(InputStream) does).

Written here rather than taken from jproperties: that costs ~20 ms at start-up and gives
no line numbers, which every error and origin needs.
"""

from __future__ import annotations

from collections.abc import Iterator


def parse_properties(text: str) -> dict[str, tuple[str, int]]:
    """`key -> (value, line)` as java.util.Properties.load reads the text: `key=value`,
    `key: value`, `key value`; `#`/`!` comment lines; a line ending in an odd number of
    backslashes continues on the next (leading white space dropped); escapes `\\t \\n
    \\r \\f \\uXXXX`, any other escaped character stands for itself; the last of
    duplicate keys wins. A malformed `\\uXXXX` raises ValueError naming the line."""
    props: dict[str, tuple[str, int]] = {}
    for line, logical in _logical_lines(text):
        key_end, value_start = _split_entry(logical)
        try:
            key = _unescape(logical[:key_end])
            value = _unescape(logical[value_start:])
        except ValueError as exc:
            raise ValueError(f"line {line}: {exc}") from None
        props[key] = (value, line)
    return props


_BLANKS = " \t\f"


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    natural = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = 0
    while index < len(natural):
        first = index
        line = natural[index].lstrip(_BLANKS)
        index += 1
        if not line or line[0] in "#!":
            continue  # comments are whole natural lines: a trailing backslash is text
        parts = []
        while (len(line) - len(line.rstrip("\\"))) % 2 == 1:
            parts.append(line[:-1])
            line = natural[index].lstrip(_BLANKS) if index < len(natural) else ""
            index += 1
        parts.append(line)
        yield first + 1, "".join(parts)


def _split_entry(line: str) -> tuple[int, int]:
    """(end of the key, start of the value), as Properties.load splits a logical line."""
    key_end, value_start, has_sep, escaped = len(line), len(line), False, False
    for i, char in enumerate(line):
        if not escaped and char in "=:":
            key_end, value_start, has_sep = i, i + 1, True
            break
        if not escaped and char in _BLANKS:
            key_end, value_start = i, i + 1
            break
        escaped = char == "\\" and not escaped
    while value_start < len(line):
        char = line[value_start]
        if char not in _BLANKS:
            if has_sep or char not in "=:":
                break
            has_sep = True
        value_start += 1
    return key_end, value_start


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        char = text[i]
        i += 1
        if char != "\\" or i >= len(text):
            out.append(char)
            continue
        char = text[i]
        i += 1
        if char == "u":
            digits = text[i:i + 4]
            if len(digits) < 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(f"malformed \\uXXXX escape '\\u{digits}'")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_ESCAPES.get(char, char))
    return "".join(out)
