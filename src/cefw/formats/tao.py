"""TAO ORB options and endpoints (docs/ce-formats.md, "TAO options"): the option strings
of TAO programs, split and parsed as TAO does. No knowledge of which CE component holds
them: the readers (readers/naming.py, readers/serveragent.py) add that.

    -ORBListenEndpoints iiop://1.2@:9900,host2:9901/portspan=5&hostname_in_ior=x;iiop://
"""

from __future__ import annotations

from ..addresses import is_all_interfaces, is_loopback
from ..ports import PortSyntaxError, parse_port, span
from ..record import Record

# Options that add listen endpoints; compared case-insensitively, they accumulate.
ENDPOINT_OPTIONS = {"-orbendpoint", "-orblistenendpoints"}

# Endpoint protocols: which transport they open, or None for local-only transports.
_TRANSPORTS = {"iiop": "TCP", "diop": "UDP", "uiop": None, "shmiop": None}



class TaoSyntaxError(ValueError):
    """What is wrong with an option string; readers add the file and place."""


class TaoEndpoint(Record):
    protocol: str  # "TCP" | "UDP"
    host: str  # as written, brackets removed; "" = all interfaces
    port: int | None  # None = ephemeral (dynamic)
    ports: tuple[int, int] | None  # the range the rule must cover (portspan), or None
    text: str  # the endpoint as written, for origins

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def all_interfaces(self) -> bool:
        return is_all_interfaces(self.host)


class Unsupported(Record):
    """An endpoint whose transport cefw cannot express as a TCP/UDP rule."""

    scheme: str
    text: str
    local_only: bool  # uiop / shmiop: never reachable from the network


def split_options(text: str) -> list[str]:
    """Split like a command line: white space separates, single or double quotes group
    (and are removed), `#` outside quotes starts a comment that runs to the end."""
    tokens: list[str] = []
    current: list[str] = []
    in_token = False
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in "\"'":
            quote = char
            in_token = True
        elif char == "#":
            break
        elif char.isspace():
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
        else:
            current.append(char)
            in_token = True
    if quote:
        raise TaoSyntaxError(f"a {quote} quote is never closed")
    if in_token:
        tokens.append("".join(current))
    return tokens


def option_values(tokens: list[str], names: set[str]) -> list[tuple[str, str]]:
    """(option as written, value) for every option in `names` (lower-case), in order.
    An option without a value is an error: TAO would refuse to start."""
    found = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.lower() in names:
            if i + 1 >= len(tokens) or (tokens[i + 1].startswith("-")
                                        and "://" not in tokens[i + 1]):
                raise TaoSyntaxError(f"option {token} has no value")
            found.append((token, tokens[i + 1]))
            i += 2
        else:
            i += 1
    return found


def parse_endpoints(value: str) -> tuple[list[TaoEndpoint], list[Unsupported]]:
    """One option value: endpoints separated by `;`."""
    endpoints: list[TaoEndpoint] = []
    unsupported: list[Unsupported] = []
    for text in (part.strip() for part in value.split(";")):
        if not text:
            continue
        scheme, sep, rest = text.partition("://")
        if not sep:
            raise TaoSyntaxError(f"{text!r} is not an endpoint (expected iiop://host:port)")
        key = scheme.lower()
        if key not in _TRANSPORTS:
            unsupported.append(Unsupported(scheme, text, False))
            continue
        protocol = _TRANSPORTS[key]
        if protocol is None:
            unsupported.append(Unsupported(scheme, text, True))
            continue
        endpoints.extend(_parse_addresses(protocol, rest, text))
    return endpoints, unsupported


def _parse_addresses(protocol: str, rest: str, text: str) -> list[TaoEndpoint]:
    addresses, _, option_text = rest.partition("/")
    options = _parse_endpoint_options(option_text, text)
    portspan = options.get("portspan")
    # TAO splits the list with strtok: empty items (`:9900,`) add nothing; only an empty
    # list (`iiop://`) means one endpoint on an ephemeral port.
    items = [a.strip() for a in addresses.split(",") if a.strip()] or [""]
    out = []
    for address in items:
        host, port = _parse_address(address, text)
        ports = None
        if port is not None:
            ports = span(port, portspan) if portspan else (port, port)
        out.append(TaoEndpoint(protocol, host, port, ports, text))
    return out


def _parse_endpoint_options(option_text: str, text: str) -> dict[str, int]:
    """`portspan=5&hostname_in_ior=x`: only portspan changes what is bound."""
    numeric: dict[str, int] = {}
    for item in option_text.split("&"):
        name, sep, value = item.partition("=")
        if name.strip().lower() == "portspan":
            digits = value.strip()
            # isascii: str.isdigit() accepts digits such as "²" that int() refuses.
            if not sep or not (digits.isascii() and digits.isdigit()) \
                    or not 1 <= int(digits) <= 65535:
                raise TaoSyntaxError(f"portspan in {text!r} must be a number of ports, "
                                     "1-65535")
            numeric["portspan"] = int(value)
    return numeric


def _parse_address(address: str, text: str) -> tuple[str, int | None]:
    """`[V.v@]host[:port]` -> (host, port or None for ephemeral)."""
    if "@" in address:
        version, _, address = address.partition("@")
        if not _is_version(version):
            raise TaoSyntaxError(f"{version!r} in {text!r} is not a GIOP version like 1.2")
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            raise TaoSyntaxError(f"unclosed [ in {text!r}")
        host, after = address[1:close], address[close + 1:]
        if after and not after.startswith(":"):
            raise TaoSyntaxError(f"unexpected {after!r} after the address in {text!r}")
        port_text = after[1:] if after else ""
    elif address.count(":") > 1:  # bare IPv6 without a port
        host, port_text = address, ""
    else:
        host, _, port_text = address.partition(":")
    if not port_text:
        return host, None
    digits = port_text.strip()
    if digits.isascii() and digits.isdigit() and int(digits) == 0:
        return host, None  # port 0 (or 00) asks the OS for any free port
    try:
        port = parse_port(port_text)
    except PortSyntaxError as exc:
        raise TaoSyntaxError(f"in {text!r}: {exc}") from None
    return host, port


def _is_version(text: str) -> bool:
    major, sep, minor = text.partition(".")
    return bool(sep) and major.isdigit() and minor.isdigit()


def endpoints_in(options: str) -> tuple[list[tuple[str, TaoEndpoint]],
                                         list[tuple[str, Unsupported]], bool]:
    """Every listen endpoint in an option string, with the option that declared it.
    The bool says whether any endpoint option was present at all."""
    tokens = split_options(options)
    pairs = option_values(tokens, ENDPOINT_OPTIONS)
    found: list[tuple[str, TaoEndpoint]] = []
    odd: list[tuple[str, Unsupported]] = []
    for option, value in pairs:
        endpoints, unsupported = parse_endpoints(value)
        found.extend((option, e) for e in endpoints)
        odd.extend((option, u) for u in unsupported)
    return found, odd, bool(pairs)
