"""Safe XML with line numbers and case-insensitive names.

defusedxml's parser refuses entity declarations (billion laughs, quadratic blow-up) and
external entities before anything is expanded. On top of it a small tree of our own
records the line of every element (ElementTree does not) so an error or an origin can
say "line 12", and matches element and attribute names case-insensitively, as the
vendor's files are written by hand in any case (docs/ce-formats.md, "Tolerance").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError


def read_capped(path: Path, display_path: str, limit: int, what: str) -> bytes:
    """A regular file's bytes, at most `limit` of them: a folder, a FIFO (which would
    block) or a file larger than any CE writes is an InputError naming it, before
    anything is read into memory."""
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)"
                    if stat.S_ISFIFO(mode) else "not a regular file")
            raise InputError(display_path, "", f"is {kind}, not a file",
                             f"put the {what} itself at this path")
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(display_path, "", f"cannot read the file ({exc.strerror})",
                         "check the path and that cefw may read it") from None
    if len(data) > limit:
        size = os.stat(path).st_size
        raise InputError(display_path, "",
                         f"the file is {size / 1_048_576:.1f} MB: larger than any {what} CE "
                         f"writes, and cefw reads at most {limit // 1_048_576} MB of one",
                         "check that this is CE's own file (compare with the copy the "
                         "installer wrote)")
    return data


class Node:
    __slots__ = ("_text", "attrs", "children", "end", "line", "parent", "start", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], line: int, parent: Node | None):
        self.tag = tag
        self.attrs = attrs
        self.line = line
        self.parent = parent
        self.children: list[Node] = []
        self._text: list[str] | str = ""
        # Byte offsets in the document as given (expat's CurrentByteIndex): where the
        # start tag begins, and where the end tag begins (just after `/>` for an empty
        # element). formats/xmledit.py splices text there without re-serialising.
        self.start = -1
        self.end = -1

    @property
    def text(self) -> str:
        """The element's character data. expat hands it over in chunks: they are kept in
        a list and joined once, so a long text costs linear time, not quadratic."""
        if isinstance(self._text, list):
            self._text = "".join(self._text)
        return self._text

    @property
    def name(self) -> str:
        """The element name without a namespace."""
        return _local(self.tag)

    def is_(self, name: str) -> bool:
        return _local(self.tag).lower() == name.lower()

    def attr(self, name: str) -> tuple[str, str] | None:
        """(attribute name as written, value), matched case-insensitively."""
        wanted = name.lower()
        for key, value in self.attrs.items():
            if _local(key).lower() == wanted:
                return key, value
        return None

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.attr(name)
        return found[1] if found else default

    def find_all(self, name: str) -> Iterator[Node]:
        """Children named `name`."""
        return (c for c in self.children if c.is_(name))

    def find(self, name: str) -> Node | None:
        return next(self.find_all(name), None)

    def iter(self, name: str) -> Iterator[Node]:
        """Every descendant named `name`, document order. A stack, not recursion: a
        document nested thousands deep must not end in RecursionError."""
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            if node.is_(name):
                yield node
            stack.extend(reversed(node.children))

    def xpath(self) -> str:
        """`Servers/Server[@Name='X']`: a readable address for messages and origins."""
        steps = []
        node: Node | None = self
        while node is not None and node.parent is not None:
            step = _local(node.tag)
            name = node.attr("Name") or node.attr("key")
            if name:
                step += f"[@{name[0]}='{name[1]}']"
            steps.append(step)
            node = node.parent
        return "/".join(reversed(steps))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Builder:
    """ElementTree parser target that builds Nodes and notes each element's line."""

    def __init__(self) -> None:
        self.parser = None  # set once the parser exists; we read its expat line number
        self.root: Node | None = None
        self.stack: list[Node] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        # The pure-Python XMLParser (which defusedxml always uses) keeps its expat parser
        # as `.parser`; during this callback its line is that of the start tag.
        line = self.parser.parser.CurrentLineNumber  # type: ignore[attr-defined]
        parent = self.stack[-1] if self.stack else None
        node = Node(tag, dict(attrs), line, parent)
        node.start = self.parser.parser.CurrentByteIndex  # type: ignore[attr-defined]
        if parent is None:
            self.root = node
        else:
            parent.children.append(node)
        self.stack.append(node)

    def end(self, tag: str) -> None:
        self.stack.pop().end = self.parser.parser.CurrentByteIndex  # type: ignore[attr-defined]

    def data(self, text: str) -> None:
        if self.stack:
            node = self.stack[-1]
            if isinstance(node._text, str):
                node._text = [node._text] if node._text else []
            node._text.append(text)

    def close(self) -> Node | None:
        return self.root


def parse_bytes(data: bytes, display_path: str, fix: str) -> Node:
    """Parse a whole document. `display_path` names it in errors; `fix` says what to do
    when it is malformed."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser, ParseError

    builder = _Builder()
    parser = DefusedXMLParser(target=builder)  # forbids entities and external references
    builder.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        # expat stopped on the declaration: its line is the place to show.
        line = parser.parser.CurrentLineNumber  # type: ignore[attr-defined]
        raise InputError(
            display_path, f"line {line}",
            f"refused: the document declares entities ({type(exc).__name__}); "
            "entity expansion and external entities are a known attack and are never "
            "expanded",
            "remove the <!DOCTYPE ...> block with its <!ENTITY> declarations; CE's own "
            "files never contain one",
        ) from None
    except ParseError as exc:
        line, column = exc.position
        message = str(exc).split(":", 1)[0]
        raise InputError(display_path, f"line {line}, column {column + 1}",
                         f"not well-formed XML ({message})", fix) from None
    except (UnicodeError, LookupError, ValueError) as exc:
        raise InputError(display_path, "", f"cannot decode the file ({exc})", fix) from None
    if root is None:
        raise InputError(display_path, "", "the document is empty", fix)
    return root


MAX_BYTES = 8 * 1024 * 1024
"""The largest XML file cefw reads. CE's own are a few KB (Tomcat's conf/web.xml, the
largest, under 200 KB); a tree costs about 16 times its file in memory and 2.4 s per 8 MB
to build (bench/bench_xml.py), so a 50 MB file with a million elements is refused at
once (0.1 s, 22 MB) instead of taking 790 MB and 17 s."""


def parse_file(path: Path, display_path: str, fix: str) -> Node:
    data = read_capped(path, display_path, MAX_BYTES, "XML file")
    if not data.strip():
        raise InputError(display_path, "", "the file is empty", fix)
    return parse_bytes(data, display_path, fix)
