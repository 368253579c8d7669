"""Pin a CE server's port in ServerAgent.Config.xml (docs/ce-formats.md,
"ServerAgent.Config.xml"), following how the file already configures that server:

1. a `Port` attribute: its value is replaced;
2. an `-ORBListenEndpoints`/`-ORBEndpoint` option in its <Arguments>: the endpoint gets
   the port (`iiop://` -> `iiop://:9920`, `iiop://host:0` -> `iiop://host:9920`);
3. neither: the way most other servers of the same file are pinned (a `Port`
   attribute, or `-ORBListenEndpoints iiop://:PORT` in <Arguments>); `Port` when the file
   gives no lead. `--style` overrides.

Every edit is a splice of text (formats/xmledit.py): the rest of the file stays as it
was, byte for byte.
"""

from __future__ import annotations

import re

from ..errors import CefwError
from ..formats import tao
from ..formats.xmledit import Document, Span
from ..formats.xmlsafe import Node
from ..readers.context import HostContext
from ..readers.serveragent import component_of
from ..record import Record

PORT, ARGUMENTS = "port", "arguments"
STYLES = (PORT, ARGUMENTS)

_OPTION = re.compile(r"(?i)(?<!\S)(-orb(?:listenendpoints|endpoint))(\s+)([^\s#]+)")


class Edit(Record):
    component: str
    port: int
    line: int
    how: str  # for people: "Port attribute set", "-ORBListenEndpoints added"


def servers(doc: Document, ctx: HostContext) -> dict[str, list[Node]]:
    """component id -> its <Server> elements."""
    found: dict[str, list[Node]] = {}
    for node in doc.root.iter("Server"):
        component = component_of(ctx, node)
        if component is not None:
            found.setdefault(component.id, []).append(node)
    return found


def pin(doc: Document, ctx: HostContext, ports: dict[str, int],
        style: str | None = None) -> list[Edit]:
    """Add to `doc` the edits giving each component its port."""
    by_component = servers(doc, ctx)
    house = style or _house_style(doc)
    edits = []
    for component, port in ports.items():
        nodes = by_component.get(component, [])
        if not nodes:
            raise CefwError(
                f"{doc.shown} has no <Server> for {component}, so there is no entry to pin "
                "(the Server Agent starts it with its defaults)",
                f"add <Server Name=\"{component}\" Path=\"...\" /> as the CE installer "
                "writes it, then run cefw pin again")
        if len(nodes) > 1:
            lines = ", ".join(str(n.line) for n in nodes)
            raise CefwError(f"{doc.shown} has {len(nodes)} <Server> entries for "
                            f"{component} (lines {lines}): cefw does not guess which to pin",
                            "remove the stale entry, or pin it by hand")
        edits.append(_pin_server(doc, nodes[0], component, port, house))
    return edits


def _house_style(doc: Document) -> str:
    """How the file's other servers give their port: by majority, Port on a tie."""
    counts = {PORT: 0, ARGUMENTS: 0}
    for node in doc.root.iter("Server"):
        if node.get("Port", "").strip():  # type: ignore[union-attr]
            counts[PORT] += 1
        elif any(_has_endpoint(a.text) for a in node.find_all("Arguments")):
            counts[ARGUMENTS] += 1
    return ARGUMENTS if counts[ARGUMENTS] > counts[PORT] else PORT


def _has_endpoint(options: str) -> bool:
    try:
        return tao.endpoints_in(options)[2]
    except (tao.TaoSyntaxError, ValueError):
        return False


def _pin_server(doc: Document, node: Node, component: str, port: int, house: str) -> Edit:
    tag = doc.start_tag(node)
    attr = tag.attr("Port")
    if attr is not None and doc.text[attr.value.start:attr.value.end].strip():
        doc.replace(attr.value, str(port))
        return Edit(component, port, node.line, f"{attr.name} attribute set to {port}")
    for args in node.find_all("Arguments"):
        if _has_endpoint(args.text):
            return _rewrite_endpoint(doc, args, component, port)
    if house == ARGUMENTS:
        args = node.find("Arguments")
        if args is not None:
            return _append_option(doc, args, component, port)
        return _add_arguments(doc, node, component, port)
    name = _spelling(doc, "Port", tag_name=_written_name(doc, node))
    quote = attr.quote if attr else _quote(tag)
    if attr is not None:  # Port="" (blank): fill it in
        doc.replace(attr.value, str(port))
    else:
        doc.insert(tag.last_attr_end, f" {name}={quote}{port}{quote}")
    return Edit(component, port, node.line, f"{name}=\"{port}\" added to its <Server>")


def _quote(tag) -> str:  # type: ignore[no-untyped-def]
    """The quote of the attribute the new one is written after: its neighbour."""
    last = max(tag.attrs.values(), key=lambda a: a.value.end, default=None)
    return last.quote if last else '"'


def _written_name(doc: Document, node: Node) -> str:
    start = doc.char(node.start) + 1
    return re.match(r"[^\s/>]+", doc.text[start:]).group(0)  # type: ignore[union-attr]


def _spelling(doc: Document, name: str, *, tag_name: str) -> str:
    """An attribute or element name as this file writes it: as another element already
    spells it, else lower-case when the file writes its tags in lower case."""
    for node in doc.root.iter("Server"):
        found = node.attr(name)
        if found:
            return found[0]
        for child in node.children:
            if child.is_(name):
                return _written_name(doc, child)
    return name.lower() if tag_name.islower() else name


def _raw(doc: Document, args: Node) -> tuple[Span, str]:
    span = doc.content(args)
    assert span is not None
    raw = doc.text[span.start:span.end]
    if "&" in raw or "<" in raw:  # entity references, CDATA, comments: not spliced blind
        raise CefwError(f"{doc.shown}: line {args.line}: the <Arguments> text holds XML "
                        "markup (&...; or CDATA): cefw does not edit it",
                        "pin this server by hand (see `cefw pin --dry-run` for the port)")
    return span, raw


def _rewrite_endpoint(doc: Document, args: Node, component: str, port: int) -> Edit:
    span, raw = _raw(doc, args)
    candidates = []
    for match in _OPTION.finditer(raw):
        value = match.group(3)
        endpoints, _ = tao.parse_endpoints(value)
        tcp = [e for e in endpoints if e.protocol == "TCP"]
        if len(endpoints) == 1 and len(tcp) == 1 and ";" not in value and "," not in value:
            candidates.append((tcp[0].port is not None, match))
    if not candidates:
        raise CefwError(f"{doc.shown}: line {args.line}: the endpoint options of "
                        f"{component} list several endpoints (or quote them): cefw does not "
                        "guess which one to pin", "pin this server by hand")
    candidates.sort(key=lambda c: c[0])  # a dynamic endpoint first
    match = candidates[0][1]
    value = match.group(3)
    new = _with_port(value, port)
    start = span.start + match.start(3)
    doc.replace(Span(start, start + len(value)), new)
    return Edit(component, port, args.line,
                f"{match.group(1)} {value} -> {new} in its <Arguments>")


def _with_port(value: str, port: int) -> str:
    """`iiop://[V.v@]host[:port][/options]` with the port replaced or added."""
    scheme, _, rest = value.partition("://")
    address, slash, options = rest.partition("/")
    version, at, hostport = address.rpartition("@")
    if hostport.startswith("["):
        host = hostport[:hostport.index("]") + 1]
    elif hostport.count(":") > 1:
        host = f"[{hostport}]"  # a bare IPv6 address: brackets, so the port is a port
    else:
        host = hostport.partition(":")[0]
    return f"{scheme}://{version}{at}{host}:{port}{slash}{options}"


def _option(port: int) -> str:
    return f"-ORBListenEndpoints iiop://:{port}"


def _append_option(doc: Document, args: Node, component: str, port: int) -> Edit:
    tag = doc.start_tag(args)
    option = _option(port)
    if tag.empty:  # <Arguments/>
        name = _written_name(doc, args)
        doc.replace(Span(tag.last_attr_end, tag.span.end), f">{option}</{name}>")
        return Edit(component, port, args.line, f"{option} added to its <Arguments>")
    span, raw = _raw(doc, args)
    comment = _comment_at(raw)
    body = raw[:comment] if comment is not None else raw
    end = len(body.rstrip())
    before = " " if end else ""
    after = " " if comment is not None and end == comment else ""
    doc.insert(span.start + end, f"{before}{option}{after}")
    return Edit(component, port, args.line, f"{option} added to its <Arguments>")


def _comment_at(raw: str) -> int | None:
    """Where a TAO `#` comment starts (outside quotes), as formats/tao.py splits."""
    quote = ""
    for i, char in enumerate(raw):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#":
            return i
    return None


def _add_arguments(doc: Document, node: Node, component: str, port: int) -> Edit:
    tag = doc.start_tag(node)
    server = _written_name(doc, node)
    name = _spelling(doc, "Arguments", tag_name=server)
    nl, indent, step = doc.newline, doc.indent_of(tag.span.start), doc.indent_step()
    child = f"{indent}{step}<{name}>{_option(port)}</{name}>"
    if tag.empty:
        doc.replace(Span(tag.last_attr_end, tag.span.end), f">{nl}{child}{nl}{indent}</{server}>")
    else:
        doc.insert(tag.span.end, f"{nl}{child}")
    return Edit(component, port, node.line, f"<{name}>{_option(port)}</{name}> added")


def verify(doc: Document, ctx: HostContext, ports: dict[str, int]) -> None:
    """Read the edited file back as cefw reads it: each server must now name its port."""
    again = Document(doc.render(), doc.shown, "this is a bug in cefw pin; nothing was written")
    found = servers(again, ctx)
    for component, port in ports.items():
        node = found[component][0]
        named = {int(node.get("Port") or 0)} if (node.get("Port") or "").strip().isdigit() \
            else set()
        for args in node.find_all("Arguments"):
            named |= {e.port for _, e in tao.endpoints_in(args.text)[0] if e.port}
        if port not in named:
            raise CefwError(f"internal check failed: {component} does not read back with "
                            f"port {port}; nothing was written",
                            "this is a bug in cefw; pin this server by hand")
