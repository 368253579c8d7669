"""Edit an XML file in place, byte for byte: everything not edited stays exactly as it
was (comments, byte order mark, encoding, line endings, attribute order, quoting style,
indentation). No CE knowledge.

The document is parsed once by the safe parser (formats/xmlsafe.py: entities refused
before anything is expanded), which gives every element's byte offsets; the edits are
then spliced into the original text. Re-serialising with ElementTree would lose the
comments, the quoting and the attribute layout a hand-kept file has.

    doc = Document.load(data, "ServerAgent.Config.xml", fix)
    tag = doc.start_tag(node)
    doc.replace(tag.attrs["Port"].value, "9921")
    new_bytes = doc.render()
"""

from __future__ import annotations

import codecs
import re

from ..errors import InputError
from ..record import Record
from .xmlsafe import Node, parse_bytes

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class Span(Record):
    """Character offsets [start, end) in Document.text."""

    start: int
    end: int


class Attr(Record):
    name: str  # as written
    value: Span  # between the quotes
    quote: str  # ' or "


class StartTag(Record):
    span: Span  # `<Server ... >` or `<Server ... />`
    attrs: dict[str, Attr]  # lower-case local name -> Attr
    last_attr_end: int  # just after the last attribute's closing quote (or the name)
    empty: bool  # written `<x/>`

    def attr(self, name: str) -> Attr | None:
        return self.attrs.get(name.lower())


class Document:
    """One XML file: its text, how to turn text back into the same bytes, and pending
    edits (spans of the original text and their replacements)."""

    def __init__(self, data: bytes, shown: str, fix: str) -> None:
        self.shown = shown
        self.root: Node = parse_bytes(data, shown, fix)  # refuses entities first
        self.bom, self.codec = _encoding(data, shown)
        try:
            self.text = data[len(self.bom):].decode(self.codec)
        except UnicodeDecodeError as exc:
            raise InputError(shown, "", f"cannot decode the file as {self.codec} ({exc})",
                             fix) from None
        if self._encode(self.text) != data:  # never write a file we could not round-trip
            raise InputError(shown, "", f"the file does not read back byte for byte as "
                             f"{self.codec}: cefw will not rewrite it", "edit it by hand")
        self._data = data
        self._ascii = data.isascii()
        self.edits: list[tuple[Span, str]] = []

    # -- where things are ---------------------------------------------------------------
    def char(self, byte_offset: int) -> int:
        """A byte offset of the file -> a character offset in `text`."""
        if self._ascii:
            return byte_offset
        return len(self._data[len(self.bom):byte_offset].decode(self.codec))

    def start_tag(self, node: Node) -> StartTag:
        return _start_tag(self.text, self.char(node.start))

    def content(self, node: Node) -> Span | None:
        """The raw text between the start and end tags; None for `<x/>`."""
        tag = self.start_tag(node)
        if tag.empty:
            return None
        return Span(tag.span.end, self.char(node.end))

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\r" if "\r" in self.text else "\n"

    def indent_of(self, offset: int) -> str:
        """The white space between the start of the line and `offset`."""
        line_start = max(self.text.rfind("\n", 0, offset), self.text.rfind("\r", 0, offset))
        lead = self.text[line_start + 1:offset]
        return lead if not lead.strip() else ""

    def indent_step(self) -> str:
        """One level of indentation as the file writes it: the difference between a
        child's indent and its parent's, from the first element that shows one."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            for child in node.children:
                outer = self.indent_of(self.char(node.start))
                inner = self.indent_of(self.char(child.start))
                if inner.startswith(outer) and len(inner) > len(outer):
                    return inner[len(outer):]
            stack.extend(reversed(node.children))
        return "  "

    # -- edits --------------------------------------------------------------------------
    def replace(self, span: Span, text: str) -> None:
        for other, _ in self.edits:
            if (span.start < other.end and other.start < span.end) or span == other:
                raise ValueError(f"overlapping edits at {span} and {other}")
        self.edits.append((span, text))

    def insert(self, offset: int, text: str) -> None:
        self.replace(Span(offset, offset), text)

    def edited_text(self) -> str:
        out = self.text
        for span, text in sorted(self.edits, key=lambda e: e[0], reverse=True):
            out = out[:span.start] + text + out[span.end:]
        return out

    def render(self) -> bytes:
        return self._encode(self.edited_text())

    def _encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.codec)


def _encoding(data: bytes, shown: str) -> tuple[bytes, str]:
    """(byte order mark, codec): the BOM decides; else UTF-16 seen from the first `<`;
    else the XML declaration's encoding; else UTF-8 (the XML default)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return bom, codec
    if data.startswith(b"<\x00"):
        return b"", "utf-16-le"
    if data.startswith(b"\x00<"):
        return b"", "utf-16-be"
    declared = _DECLARED.match(data)
    name = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise InputError(shown, "line 1", f"unknown encoding {name!r}",
                         "save the file as UTF-8") from None
    if codec.startswith("utf-16"):  # declared UTF-16 without a BOM, yet ASCII-looking
        raise InputError(shown, "line 1", "declares UTF-16 but has no byte order mark",
                         "save the file as UTF-8 or UTF-16 with a BOM")
    return b"", codec


_NAME_END = re.compile(r"[\s/>=]")


def _start_tag(text: str, start: int) -> StartTag:
    """Tokenise the start tag at `start`. The parser has already accepted the document,
    so the tag is well-formed: a name, then `name = "value"` pairs."""
    i = _NAME_END.search(text, start + 1).start()  # type: ignore[union-attr]
    last = i
    attrs: dict[str, Attr] = {}
    while True:
        while text[i].isspace():
            i += 1
        if text.startswith("/>", i):
            return StartTag(Span(start, i + 2), attrs, last, True)
        if text[i] == ">":
            return StartTag(Span(start, i + 1), attrs, last, False)
        name_end = _NAME_END.search(text, i).start()  # type: ignore[union-attr]
        name = text[i:name_end]
        i = text.index("=", name_end) + 1
        while text[i].isspace():
            i += 1
        quote = text[i]
        close = text.index(quote, i + 1)
        attrs[name.rsplit(":", 1)[-1].lower()] = Attr(name, Span(i + 1, close), quote)
        i = last = close + 1
