"""Safe XML with line numbers and case-insensitive names.

expat, configured as defusedxml configures it, refuses entity declarations (billion
laughs, quadratic blow-up) and external entities before anything is expanded, with
defusedxml's exceptions. On top of it a small tree of our own
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
    """expat handlers that build Nodes and note each element's line."""

    def __init__(self, parser) -> None:  # type: ignore[no-untyped-def]
        self.parser = parser
        self.root: Node | None = None
        self.stack: list[Node] = []
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.data

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        # During this callback expat's line is that of the start tag.
        line = self.parser.CurrentLineNumber
        parent = self.stack[-1] if self.stack else None
        node = Node(_name(tag), _names(attrs), line, parent)
        node.start = self.parser.CurrentByteIndex
        if parent is None:
            self.root = node
        else:
            parent.children.append(node)
        self.stack.append(node)

    def end(self, tag: str) -> None:
        self.stack.pop().end = self.parser.CurrentByteIndex

    def data(self, text: str) -> None:
        if self.stack:
            node = self.stack[-1]
            if isinstance(node._text, str):
                node._text = [node._text] if node._text else []
            node._text.append(text)


def _name(name: str) -> str:
    """expat writes a namespaced name `uri}local`; ElementTree's `{uri}local` it is."""
    return "{" + name if "}" in name else name


def _names(attrs: dict[str, str]) -> dict[str, str]:
    if not any("}" in key for key in attrs):
        return attrs
    return {_name(key): value for key, value in attrs.items()}


def _defuse(parser) -> None:  # type: ignore[no-untyped-def]
    """Configure an expat parser exactly as defusedxml's DefusedXMLParser does with its
    defaults (forbid_entities, forbid_external), raising defusedxml's own exceptions.

    defusedxml.ElementTree itself is not used for the parsing: it imports ElementTree
    twice (the C one and a fresh pure-Python copy, ~5 ms of `cefw plan`'s start-up) for
    a tree cefw does not use. tests/test_xmlsafe.py holds every refusal here against
    defusedxml.ElementTree's, document by document.
    """
    def entity_decl(name, is_parameter_entity, value, base, sysid, pubid, notation_name):
        from defusedxml.common import EntitiesForbidden

        raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)

    def unparsed_entity_decl(name, base, sysid, pubid, notation_name):
        from defusedxml.common import EntitiesForbidden

        raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)

    def external_entity_ref(context, base, sysid, pubid):
        from defusedxml.common import ExternalReferenceForbidden

        raise ExternalReferenceForbidden(context, base, sysid, pubid)

    parser.EntityDeclHandler = entity_decl
    parser.UnparsedEntityDeclHandler = unparsed_entity_decl
    parser.ExternalEntityRefHandler = external_entity_ref


def _undefined_entity(parser):  # type: ignore[no-untyped-def]
    """A reference to an entity nobody declared, in a document with an external DTD
    (which is never read): an error, as ElementTree makes it, not a silent skip."""
    from xml.parsers.expat import ExpatError

    def skipped(name: str, is_parameter_entity: bool) -> None:
        if is_parameter_entity:
            return
        line, column = parser.CurrentLineNumber, parser.CurrentColumnNumber
        err = ExpatError(f"undefined entity &{name};: line {line}, column {column}")
        err.lineno, err.offset = line, column
        raise err

    return skipped


def _defused(exc: BaseException) -> bool:
    """One of defusedxml's refusals (imported here, on the error path only: a document
    without entity declarations never needs defusedxml's module at all)."""
    from defusedxml import DefusedXmlException

    return isinstance(exc, DefusedXmlException)


def parse_bytes(data: bytes, display_path: str, fix: str) -> Node:
    """Parse a whole document. `display_path` names it in errors; `fix` says what to do
    when it is malformed."""
    from xml.parsers.expat import ExpatError, ParserCreate

    parser = ParserCreate(None, "}")
    _defuse(parser)
    parser.SkippedEntityHandler = _undefined_entity(parser)
    parser.buffer_text = True
    builder = _Builder(parser)
    try:
        parser.Parse(data, True)
    except ExpatError as exc:
        message = str(exc).split(":", 1)[0]
        raise InputError(display_path, f"line {exc.lineno}, column {exc.offset + 1}",
                         f"not well-formed XML ({message})", fix) from None
    except (UnicodeError, LookupError, ValueError) as exc:
        if not _defused(exc):
            raise InputError(display_path, "", f"cannot decode the file ({exc})",
                             fix) from None
        # expat stopped on the declaration: its line is the place to show.
        raise InputError(
            display_path, f"line {parser.CurrentLineNumber}",
            f"refused: the document declares entities ({type(exc).__name__}); "
            "entity expansion and external entities are a known attack and are never "
            "expanded",
            "remove the <!DOCTYPE ...> block with its <!ENTITY> declarations; CE's own "
            "files never contain one",
        ) from None
    root = builder.root
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
