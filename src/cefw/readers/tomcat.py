"""Apache Tomcat, the CE "WebService" component (docs/ce-formats.md, "Tomcat").

Reads Tomcat\\conf\\server.xml (the shutdown port and every Connector), resolves
`${name}` from Tomcat\\conf\\catalina.properties, learns the Tomcat version (which
decides where an AJP connector without `address` listens) and looks in Tomcat\\webapps
for the CE applications that pick their ports at run time.

What Tomcat does, and so what this reader follows:
- `<Server port>` is the shutdown port (-1: none; 0: a random one) on `address`,
  default "localhost". `portOffset` (Tomcat 8.5.x / 9.0.x on) is added to every
  positive port, the shutdown port included.
- Only `Server/Service/Connector` elements are connectors (Tomcat's digester rules
  name exactly that path). `port="0"` is a free port picked at each start.
- `${name}` is looked up in catalina.properties (Tomcat loads it into the system
  properties the digester uses). `${name:-default}` exists from 8.5.55 / 9.0.35 (and in
  10.x on); an older Tomcat looks up a property literally named `name:-default`. With
  the version unknown the default syntax is honoured: refusing a file Tomcat may well
  accept helps nobody, and the port it yields is reported with its origin.
- An AJP connector without `address` binds to all addresses before 7.0.100 / 8.5.51 /
  9.0.31 and to loopback from them on (10.x and later too); the same releases renamed
  `requiredSecret` to `secret` (the old name stays an alias) and refuse to start a
  connector without one unless secretRequired="false". A secret, once set, is checked
  on every request whatever secretRequired says: so "exposed" means reachable from the
  network and no secret.
- Only the attributes cefw uses are substituted, so `${catalina.base}` in a Valve's
  `directory` (resolved by Tomcat from its own start-up properties) is no error here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .. import catalog
from ..addresses import is_all_interfaces, is_loopback
from ..errors import InputError
from ..findings import finding
from ..formats.javaprops import parse_properties
from ..formats.xmlsafe import Node, parse_file
from ..model import Endpoint, Finding, Origin
from ..record import Record
from .common import default_used, loopback_only
from .context import EMPTY, HostContext, Inputs, Reading

COMPONENT = "WebService"
SERVER_XML = r"Tomcat\conf\server.xml"
PROPERTIES = r"Tomcat\conf\catalina.properties"
CATALINA_JAR = r"Tomcat\lib\catalina.jar"
RELEASE_NOTES = r"Tomcat\RELEASE-NOTES"
WEBAPPS = r"Tomcat\webapps"
SERVER_INFO = "org/apache/catalina/util/ServerInfo.properties"
SERVER_INFO_MAX = 64 * 1024

XML_FIX = ("correct Tomcat\\conf\\server.xml (compare it with the server.xml of the same "
           "Tomcat release) so that Tomcat itself can read it")

Version = tuple[int, int, int]

# The first release of each line whose AJP connector binds to loopback by default and
# knows `secret` (the Ghostcat fix, CVE-2020-1938). Lines not listed: older lines never,
# 10.x and later always.
_AJP_LOOPBACK_FROM: dict[int, Version] = {7: (7, 0, 100), 8: (8, 5, 51), 9: (9, 0, 31)}
# The first release of each line that understands ${name:-default}.
_DEFAULT_SYNTAX_FROM: dict[int, Version] = {8: (8, 5, 55), 9: (9, 0, 35)}



# -- the Tomcat version --------------------------------------------------------------------

class TomcatVersion(Record):
    number: Version | None  # None: unknown
    text: str  # "9.0.30 (Tomcat\lib\catalina.jar)" or why it is unknown

    def since(self, table: dict[int, Version]) -> bool | None:
        """Whether this release is at least the one `table` gives for its line; None
        when the version is unknown."""
        if self.number is None:
            return None
        major = self.number[0]
        if major >= 10:
            return True
        return major in table and self.number >= table[major]


def parse_version(text: str) -> Version | None:
    """The first `major.minor.patch` in text ("9.0.30.0", "Apache Tomcat/9.0.30",
    "10.0.0-M1")."""
    for token in text.replace("/", " ").split():
        parts = token.split(".")
        if len(parts) >= 3:
            digits = [parts[0], parts[1], _leading_digits(parts[2])]
            if all(d.isascii() and d.isdigit() for d in digits):
                return int(digits[0]), int(digits[1]), int(digits[2])
    return None


def _leading_digits(text: str) -> str:
    end = 0
    while end < len(text) and text[end].isdigit():
        end += 1
    return text[:end]


def tomcat_version(ctx: HostContext) -> TomcatVersion:
    """From catalina.jar (the code that runs), else RELEASE-NOTES; else unknown. An
    unreadable jar is not an error: an unknown version only makes cefw assume the worst
    (AJP on all addresses)."""
    jar = ctx.find(CATALINA_JAR)
    if jar is not None and jar.is_file():
        number = _jar_version(jar)
        if number is not None:
            return TomcatVersion(number, f"{_dotted(number)} ({ctx.display(jar)})")
    notes = ctx.find(RELEASE_NOTES)
    if notes is not None and notes.is_file():
        number = _notes_version(notes)
        if number is not None:
            return TomcatVersion(number, f"{_dotted(number)} ({ctx.display(notes)})")
    return TomcatVersion(None, f"unknown (no version found in {CATALINA_JAR} or "
                               f"{RELEASE_NOTES})")


def _jar_version(jar: Path) -> Version | None:
    import zipfile  # only here: most hosts are read without ever needing it

    try:
        with zipfile.ZipFile(jar) as archive, archive.open(SERVER_INFO) as member:
            # Tomcat's is ~1 KB. Read a bounded amount, whatever the header claims: a
            # member that inflates to gigabytes (a zip bomb) is an unknown version.
            data = member.read(SERVER_INFO_MAX + 1)
        if len(data) > SERVER_INFO_MAX:
            return None
        props = parse_properties(data.decode("latin-1"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RuntimeError):
        return None
    for key in ("server.number", "server.info"):
        if key in props:
            number = parse_version(props[key][0])
            if number is not None:
                return number
    return None


def _notes_version(notes: Path) -> Version | None:
    try:
        with notes.open("rb") as handle:
            text = handle.read(65536).decode("latin-1")
    except OSError:
        return None
    marker = "Apache Tomcat Version"
    at = text.find(marker)
    return parse_version(text[at + len(marker):at + len(marker) + 40]) if at >= 0 else None


def _dotted(number: Version) -> str:
    return ".".join(str(n) for n in number)



# -- reading server.xml --------------------------------------------------------------------

class _Value(Record):
    text: str  # after ${...} substitution
    notes: tuple[str, ...]  # where substituted parts came from, for origins


class _Doc:
    """server.xml being read, with the properties and the version it depends on."""

    def __init__(self, ctx: HostContext, path: Path, version: TomcatVersion) -> None:
        self.shown = ctx.display(path)
        self.version = version
        self.props_shown = PROPERTIES
        self.props: dict[str, tuple[str, int]] | None = None  # None: no such file
        props_path = ctx.find(PROPERTIES)
        if props_path is not None and props_path.is_file():
            self.props_shown = ctx.display(props_path)
            self.props = _load_properties(props_path, self.props_shown)

    def place(self, node: Node, attribute: str) -> str:
        path = node.xpath() or node.name
        return f"line {node.line}, {path}/@{attribute}"

    def value(self, node: Node, name: str) -> tuple[str, _Value] | None:
        """(attribute as written, value after substitution); None when absent."""
        found = node.attr(name)
        if found is None:
            return None
        written, raw = found
        return written, self._substitute(raw, node, written)

    def _substitute(self, raw: str, node: Node, written: str) -> _Value:
        # One pass, left to right, as Tomcat's IntrospectionUtils.replaceProperties: a
        # substituted value is not scanned again.
        out: list[str] = []
        notes: list[str] = []
        pos = 0
        while True:
            start = raw.find("${", pos)
            end = raw.find("}", start + 2) if start >= 0 else -1
            if start < 0 or end < 0:
                out.append(raw[pos:])
                return _Value("".join(out), tuple(notes))
            out.append(raw[pos:start])
            text, note = self._lookup(raw[start + 2:end], node, written)
            out.append(text)
            notes.append(note)
            pos = end + 1

    def _lookup(self, name: str, node: Node, written: str) -> tuple[str, str]:
        props = self.props or {}
        if name in props:
            value, line = props[name]
            return value, f"${{{name}}} from {self.props_shown} line {line}"
        key, sep, default = name.partition(":-")
        if sep and self.version.since(_DEFAULT_SYNTAX_FROM) is not False:
            if key in props:
                value, line = props[key]
                return value, f"${{{name}}}: {key} from {self.props_shown} line {line}"
            return default, f"${{{name}}}: {key} not defined, default {default!r}"
        raise self._unresolved(name, key if sep else name, node, written)

    def _unresolved(self, name: str, key: str, node: Node, written: str) -> InputError:
        where = self.props_shown if self.props is not None else (
            f"{self.props_shown} (the file does not exist)")
        problem = f"${{{name}}} is not defined in {where}"
        if key != name:
            problem += (f"; Tomcat {self.version.text} predates ${{name:-default}} "
                        "(8.5.55 / 9.0.35) and looks up a property literally named "
                        f"'{name}'")
        fix = (f"define it in {self.props_shown} (a line '{key}=value'), or write the "
               "value itself in server.xml; cefw resolves ${...} only from "
               "catalina.properties, not from -D options of the service")
        return InputError(self.shown, self.place(node, written), problem, fix)

    def port(self, node: Node, name: str, allowed: tuple[int, ...]) -> tuple[int, str, _Value]:
        """A port attribute that must be present: (number, attribute as written, value).
        `allowed` lists the values outside 1-65535 this element accepts."""
        found = self.value(node, name)
        if found is None:
            raise InputError(self.shown, f"line {node.line}, {node.xpath() or 'Server'}",
                             f"<{node.name}> has no {name} attribute",
                             f"add {name}=\"...\" with the port it listens on")
        written, value = found
        number = _integer(value.text)
        if number is None or not (1 <= number <= 65535 or number in allowed):
            raise InputError(self.shown, self.place(node, written),
                             _bad_port(value, number), _port_fix(allowed))
        return number, written, value


def _load_properties(path: Path, shown: str) -> dict[str, tuple[str, int]]:
    try:
        text = path.read_bytes().decode("latin-1")  # Properties.load(InputStream)
    except OSError as exc:
        raise InputError(shown, "", f"cannot read the file ({exc.strerror})",
                         "check that cefw may read it") from None
    try:
        return parse_properties(text)
    except ValueError as exc:
        where, _, problem = str(exc).partition(": ")
        raise InputError(shown, where, problem,
                         "write the character itself or a complete \\uXXXX escape (four "
                         "hex digits)") from None


def _integer(text: str) -> int | None:
    body = text[1:] if text.startswith("-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def _bad_port(value: _Value, number: int | None) -> str:
    source = f" (after {'; '.join(value.notes)})" if value.notes else ""
    if number is None:
        return f"{value.text!r}{source} is not a port number"
    return f"{number}{source} is not a port in 1-65535"


def _port_fix(allowed: tuple[int, ...]) -> str:
    extra = {-1: ", or -1 to disable the shutdown port", 0: ", or 0 for a free port "
             "picked at each start"}
    return "write a port number 1-65535" + "".join(extra[a] for a in allowed if a in extra)


# -- the listeners -------------------------------------------------------------------------

class _Listener(Record):
    port: int  # 0 = dynamic
    bind: str  # as written (after substitution); "" = all addresses
    loopback: bool
    label: str
    where: str
    ajp_default_bind: bool = False  # AJP without address: the version decided


def _offset(doc: _Doc, server: Node) -> tuple[int, str]:
    """The Server's portOffset and its note for origins ("" when 0 or absent)."""
    found = doc.value(server, "portOffset")
    if found is None:
        return 0, ""
    written, value = found
    number = _integer(value.text)
    if number is None or number < 0:
        raise InputError(doc.shown, doc.place(server, written),
                         f"{value.text!r} is not a port offset (a whole number 0 or more)",
                         "write portOffset as a whole number, or remove it")
    notes = f" ({'; '.join(value.notes)})" if value.notes else ""
    return number, f"portOffset {number}{notes}" if number else ""


def _with_offset(doc: _Doc, node: Node, written: str, port: int, offset: int) -> int:
    if port <= 0 or not offset:
        return port  # Tomcat adds the offset to positive ports only
    if port + offset > 65535:
        raise InputError(doc.shown, doc.place(node, written),
                         f"port {port} plus the Server's portOffset {offset} is "
                         f"{port + offset}, beyond 65535",
                         "lower the port or the Server's portOffset")
    return port + offset


def _where(doc: _Doc, node: Node, written: str, value: _Value, offset_note: str) -> str:
    parts = [doc.place(node, written), *value.notes]
    if offset_note:
        parts.append(offset_note)
    return ", ".join(parts)


def _shutdown(doc: _Doc, server: Node, offset: int, offset_note: str) -> _Listener | None:
    if server.attr("port") is None:
        port, written = 8005, ""  # StandardServer's own default
        where = f"line {server.line}, Server has no port: Tomcat's default 8005"
    else:
        port, written, value = doc.port(server, "port", (-1, 0))
        if port == -1:
            return None
        where = _where(doc, server, written, value, "")
    port = _with_offset(doc, server, written or "port", port, offset)
    if offset_note and port > 0:
        where += f", {offset_note}"
    address = doc.value(server, "address")
    bind = address[1].text.strip() if address else "localhost"
    shown = "" if is_all_interfaces(bind) else bind
    return _Listener(port, shown, is_loopback(bind), "shutdown", where)


def _connectors(server: Node) -> Iterator[Node]:
    # Tomcat's digester only knows Server/Service/Connector.
    for service in server.find_all("Service"):
        yield from service.find_all("Connector")


def _kind(doc: _Doc, node: Node) -> str:
    """"AJP", "HTTP" or the protocol class as written (a custom handler)."""
    found = doc.value(node, "protocol")
    protocol = found[1].text.strip() if found else ""
    lowered = protocol.lower()
    if lowered in ("", "http/1.1") or lowered.startswith(
            ("org.apache.coyote.http11.", "org.apache.coyote.http2.")):
        return "HTTP"
    if lowered == "ajp/1.3" or lowered.startswith("org.apache.coyote.ajp."):
        return "AJP"
    return protocol


def _connector(doc: _Doc, node: Node, offset: int, offset_note: str) -> _Listener:
    port, written, value = doc.port(node, "port", (0,))
    port = _with_offset(doc, node, written, port, offset)
    where = _where(doc, node, written, value, offset_note if port else "")
    kind = _kind(doc, node)
    address = doc.value(node, "address")
    if address is not None:
        bind = address[1].text.strip()
        return _Listener(port, "" if is_all_interfaces(bind) else bind, is_loopback(bind),
                         _label(doc, node, kind), where)
    if kind == "AJP" and doc.version.since(_AJP_LOOPBACK_FROM):
        return _Listener(port, "127.0.0.1", True, kind, where, ajp_default_bind=True)
    return _Listener(port, "", False, _label(doc, node, kind), where,
                     ajp_default_bind=kind == "AJP")


def _label(doc: _Doc, node: Node, kind: str) -> str:
    if kind != "HTTP":
        return kind
    ssl = doc.value(node, "SSLEnabled")
    scheme = doc.value(node, "scheme")
    secure = (ssl is not None and ssl[1].text.strip().lower() == "true") or (
        scheme is not None and scheme[1].text.strip().lower() == "https")
    return "HTTPS" if secure else "HTTP"


# -- findings ------------------------------------------------------------------------------

def _ajp_finding(doc: _Doc, node: Node, listener: _Listener) -> Finding | None:
    """Ghostcat: an AJP connector others can reach that takes requests without a
    secret. A `secret` is checked whenever set, whatever secretRequired says."""
    if listener.label != "AJP" or listener.loopback:
        return None
    new = doc.version.since(_AJP_LOOPBACK_FROM)
    names = ("requiredSecret",) if new is False else ("secret", "requiredSecret")
    for name in names:
        found = doc.value(node, name)
        if found is not None and found[1].text:
            return None
    required = doc.value(node, "secretRequired")
    off = required is not None and required[1].text.strip().lower() == "false"
    port = f"TCP {listener.port}" if listener.port else "a dynamic port"
    on = f"address {listener.bind}" if listener.bind else "all addresses"
    message = (f"The AJP connector on {port} ({doc.shown} line {node.line}) listens on {on} "
               f"without a secret: {_ajp_why(doc, new, off, listener)}. Anyone who reaches "
               "it can read any file of the web applications and may run code on the "
               "host (Ghostcat, CVE-2020-1938). Fix: if the web server that uses AJP runs "
               "on this host, bind the connector to loopback (address=\"127.0.0.1\"), or "
               "remove it if nothing uses AJP; otherwise set secret=\"...\" on it and the "
               "same secret in the web server" + _ajp_upgrade(new) + ".")
    return finding("ajp-exposed", COMPONENT, message)


def _ajp_why(doc: _Doc, new: bool | None, off: bool, listener: _Listener) -> str:
    version = f"Tomcat {doc.version.text}"
    if new is None:
        unknown = f"the Tomcat version is {doc.version.text}"
        if listener.ajp_default_bind:
            unknown += ", so a connector without address counts as listening on all addresses"
        return unknown
    if new is False:
        return (f"{version} takes AJP requests from anyone (it knows only requiredSecret, "
                "which is not set)")
    if off:
        return f"{version} is told secretRequired=\"false\", so it takes requests without one"
    return (f"{version} refuses to start an AJP connector without a secret, so as written "
            "it does not run, but with secretRequired=\"false\" (or a repackaged Tomcat "
            "that defaults to it) it is open")


def _ajp_upgrade(new: bool | None) -> str:
    if new:
        return ""
    return ("; upgrade Tomcat (7.0.100, 8.5.51, 9.0.31 or later), where AJP binds to "
            "loopback and needs a secret by default (before that the attribute is "
            "requiredSecret)")


def _shutdown_finding(doc: _Doc, listener: _Listener) -> Finding:
    on = f"address {listener.bind}" if listener.bind else "all addresses"
    port = f"TCP {listener.port}" if listener.port else "a dynamic port"
    return finding(
        "tomcat-shutdown-exposed", COMPONENT,
        f"Tomcat's shutdown port ({port}, {doc.shown}: <Server>) listens on {on}: "
        "anyone who can reach it and send the shutdown word stops the web service. Set "
        "address=\"127.0.0.1\" on <Server> (only local scripts stop Tomcat that way), "
        "or port=\"-1\" to disable it (the Windows service stops Tomcat without it).",
    )


# -- assembling the reading ----------------------------------------------------------------

def read(ctx: HostContext, inputs: Inputs) -> Reading:
    """WebService's listeners: server.xml's shutdown port and connectors (or the vendor
    defaults when server.xml is absent), plus one dynamic endpoint per CE web application
    found in Tomcat\\webapps. Nothing when Tomcat is not installed."""
    relative = ctx.program_of(COMPONENT)
    if relative is None:
        return EMPTY
    return read_tomcat(ctx, ctx.program(relative))


def read_tomcat(ctx: HostContext, program: str) -> Reading:
    """The listeners of the Tomcat whose service program is `program` (a Windows path)."""
    version = tomcat_version(ctx)
    path = ctx.find(SERVER_XML)
    if path is None or not path.is_file():
        endpoints, findings = _defaults(ctx, program, version)
    else:
        endpoints, findings = _read_server_xml(ctx, program, path, version)
    return Reading(endpoints + _web_apps(ctx, program), findings)


def _endpoint(program: str, origin: Origin, listener: _Listener) -> Endpoint:
    sources = catalog.BY_ID[COMPONENT].sources
    ports = ((listener.port, listener.port),) if listener.port else ()
    return Endpoint(COMPONENT, "TCP", ports, program, sources, origin,
                    dynamic=not listener.port, loopback_only=listener.loopback,
                    bind=listener.bind, label=listener.label)


def _read_server_xml(ctx: HostContext, program: str, path: Path,
                     version: TomcatVersion) -> tuple[list[Endpoint], list[Finding]]:
    doc = _Doc(ctx, path, version)
    server = parse_file(path, doc.shown, XML_FIX)
    if not server.is_("Server"):
        raise InputError(doc.shown, f"line {server.line}",
                         f"the root element is <{server.name}>, not <Server>",
                         XML_FIX)
    offset, offset_note = _offset(doc, server)
    findings: list[Finding] = []
    listeners: list[_Listener] = []
    shutdown = _shutdown(doc, server, offset, offset_note)
    if shutdown is not None:
        listeners.append(shutdown)
        if not shutdown.loopback:
            findings.append(_shutdown_finding(doc, shutdown))
    for node in _connectors(server):
        listener = _connector(doc, node, offset, offset_note)
        listeners.append(listener)
        findings.extend(f for f in (_ajp_finding(doc, node, listener),) if f is not None)
        if listener.label == "AJP" and listener.loopback and listener.ajp_default_bind:
            findings.append(loopback_only(
                COMPONENT,
                f"The AJP connector on TCP {listener.port} ({doc.shown} line {node.line}) "
                f"has no address: Tomcat {version.text} binds it to loopback, so it "
                "needs no rule and a web server on another host cannot use it."))
    endpoints = _merge([_endpoint(program, Origin("file", doc.shown, lst.where), lst)
                        for lst in listeners])
    return endpoints, findings


def _merge(endpoints: list[Endpoint]) -> list[Endpoint]:
    """Connectors on the same port and bind are one listener (Tomcat could not even
    open the second); their labels are joined, the first origin kept."""
    merged: dict[tuple[tuple[tuple[int, int], ...], str], int] = {}
    out: list[Endpoint] = []
    for endpoint in endpoints:
        key = (endpoint.ports, endpoint.bind.lower())
        if endpoint.dynamic or endpoint.label == "shutdown" or key not in merged:
            merged.setdefault(key, len(out))
            out.append(endpoint)
            continue
        first = out[merged[key]]
        if endpoint.label not in first.label.split("+"):
            out[merged[key]] = first._replace(label=f"{first.label}+{endpoint.label}")
    return out


def _defaults(ctx: HostContext, program: str,
              version: TomcatVersion) -> tuple[list[Endpoint], list[Finding]]:
    """server.xml absent: the vendor table's ports, bound as a stock Tomcat binds them."""
    why = f"{SERVER_XML} not found"
    origin = Origin("default", "", why)
    ajp_loopback = bool(version.since(_AJP_LOOPBACK_FROM))
    binds = {"shutdown": ("localhost", True), "AJP": ("127.0.0.1", True) if ajp_loopback
             else ("", False)}
    endpoints = []
    for default in catalog.BY_ID[COMPONENT].defaults:
        bind, loopback = binds.get(default.label, ("", False))
        endpoints.append(_endpoint(program, origin, _Listener(
            default.port, bind, loopback, default.label, why)))
    ajp = ("loopback only" if ajp_loopback else "all addresses") + f", Tomcat {version.text}"
    message = (f"{why}: using the vendor table's default (TCP 8080 HTTP and 8443 HTTPS on "
               f"all addresses, 8009 AJP on {ajp}, 8005 shutdown on localhost). Point cefw "
               "at the real Tomcat\\conf\\server.xml to plan from what Tomcat reads.")
    return endpoints, [default_used(COMPONENT, message)]


def _web_apps(ctx: HostContext, program: str) -> list[Endpoint]:
    """StatisticsServer and AgentObjects: a folder or a .war of that name in
    Tomcat\\webapps (any case) means the application is installed and WebService also
    listens on the ports it picks at run time."""
    endpoints = []
    for app in catalog.TOMCAT_DYNAMIC_APPS:
        found = _web_app(ctx, app)
        if found is None:
            continue
        path, what = found
        origin = Origin("file", ctx.display(path), what)
        endpoints.append(Endpoint(COMPONENT, "TCP", (), program,
                                  catalog.BY_ID[COMPONENT].sources, origin, dynamic=True,
                                  label=app))
    return endpoints


def _web_app(ctx: HostContext, app: str) -> tuple[Path, str] | None:
    folder = ctx.find(f"{WEBAPPS}\\{app}")
    if folder is not None and folder.is_dir():
        return folder, "web application folder"
    archive = ctx.find(f"{WEBAPPS}\\{app}.war")
    if archive is not None and archive.is_file():
        return archive, "web application archive (.war)"
    return None
