"""TAO ORB options and endpoints (ce-formats.md section 6): the command-line split, the
endpoint options, every endpoint form, and property-based round trips and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cefw.formats import tao
from cefw.formats.tao import TaoEndpoint, TaoSyntaxError


def eps(options: str) -> list[TaoEndpoint]:
    found, _odd, _any = tao.endpoints_in(options)
    return [e for _option, e in found]


def summary(options: str) -> list[tuple[str, int | None, tuple[int, int] | None]]:
    return [(e.host, e.port, e.ports) for e in eps(options)]


# --- the command-line split ------------------------------------------------------------

@pytest.mark.parametrize(("text", "tokens"), [
    ("-ORBEndpoint iiop://:9999", ["-ORBEndpoint", "iiop://:9999"]),
    ("  -a\t1 \r\n -b  ", ["-a", "1", "-b"]),
    ('-x "two words" -y', ["-x", "two words", "-y"]),
    ("-x 'two words'", ["-x", "two words"]),
    ('-x "a#b" # comment -ORBEndpoint iiop://:1', ["-x", "a#b"]),
    ("# only a comment", []),
    ('-x ""', ["-x", ""]),  # an empty quoted value is still a token
    ('-x pre"fix  quoted"post', ["-x", "prefix  quotedpost"]),
    ("-x \"it's\"", ["-x", "it's"]),
    ("", []),
])
def test_split_options_like_a_command_line(text, tokens):
    assert tao.split_options(text) == tokens


@pytest.mark.parametrize("text", ['-x "open', "-x 'open", "-x 'a' \"b"])
def test_an_unclosed_quote_is_an_error(text):
    with pytest.raises(TaoSyntaxError, match="quote is never closed"):
        tao.split_options(text)


def test_option_names_compare_case_insensitively_and_accumulate():
    options = ("-ORBEndpoint iiop://:1 -ORBEndPoint iiop://:2 -orbendpoint iiop://:3 "
               "-ORBListenEndpoints iiop://:4 -ORBLISTENENDPOINTS iiop://:5")
    found, odd, any_option = tao.endpoints_in(options)
    assert [e.port for _o, e in found] == [1, 2, 3, 4, 5]
    assert [o for o, _e in found] == ["-ORBEndpoint", "-ORBEndPoint", "-orbendpoint",
                                      "-ORBListenEndpoints", "-ORBLISTENENDPOINTS"]
    assert odd == []
    assert any_option is True


def test_other_options_are_not_endpoints():
    found, odd, any_option = tao.endpoints_in(
        "-ORBDottedDecimalAddresses 1 -ORBInitRef NameService=iiop://ns:2809/NameService "
        "-ORBDebugLevel 10")
    assert (found, odd, any_option) == ([], [], False)


@pytest.mark.parametrize("options", ["-ORBEndpoint", "-ORBEndpoint -ORBDebugLevel 1",
                                     "-ORBListenEndpoints # iiop://:1"])
def test_an_endpoint_option_without_a_value_is_an_error(options):
    with pytest.raises(TaoSyntaxError, match="has no value"):
        tao.endpoints_in(options)


def test_the_public_example():
    """ce-formats.md section 6: the example seen in public."""
    [endpoint] = eps("-ORBEndPoint iiop://127.0.0.1:30000 -ORBDottedDecimalAddresses 1")
    assert endpoint.host == "127.0.0.1"
    assert endpoint.ports == (30000, 30000)
    assert endpoint.loopback
    assert not endpoint.all_interfaces


# --- endpoint forms ----------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "host", "port", "all_interfaces", "loopback"), [
    ("iiop://:9999", "", 9999, True, False),
    ("iiop://0.0.0.0:9999", "0.0.0.0", 9999, True, False),
    ("iiop://[::]:9999", "::", 9999, True, False),
    ("iiop://127.0.0.1:9999", "127.0.0.1", 9999, False, True),
    ("iiop://127.1.2.3:9999", "127.1.2.3", 9999, False, True),
    ("iiop://[::1]:9999", "::1", 9999, False, True),
    ("iiop://localhost:9999", "localhost", 9999, False, True),
    ("iiop://LocalHost:9999", "LocalHost", 9999, False, True),
    ("iiop://10.0.1.10:9999", "10.0.1.10", 9999, False, False),
    ("iiop://ce-core-01.example.local:9999", "ce-core-01.example.local", 9999, False, False),
    ("iiop://[fe80::1]:9999", "fe80::1", 9999, False, False),
    ("IIOP://:9999", "", 9999, True, False),
    ("iiop://1.2@:9999", "", 9999, True, False),
    ("iiop://1.0@10.0.1.10:9999", "10.0.1.10", 9999, False, False),
    ("iiop://1.2@[::1]:9999", "::1", 9999, False, True),
])
def test_endpoint_host_and_port(endpoint, host, port, all_interfaces, loopback):
    [e] = eps(f"-ORBEndpoint {endpoint}")
    assert (e.protocol, e.host, e.port, e.ports) == ("TCP", host, port, (port, port))
    assert e.all_interfaces is all_interfaces
    assert e.loopback is loopback
    assert e.text == endpoint


@pytest.mark.parametrize("endpoint", [
    "iiop://", "iiop://ce-core-01", "iiop://10.0.1.10", "iiop://[::1]", "iiop://fe80::1",
    "iiop://:0", "iiop://10.0.1.10:00", "iiop://1.2@", "iiop://host:", "iiop:///portspan=5",
])
def test_no_port_is_an_ephemeral_port(endpoint):
    [e] = eps(f"-ORBListenEndpoints {endpoint}")
    assert e.port is None
    assert e.ports is None


def test_several_hosts_in_one_endpoint():
    assert summary("-ORBListenEndpoints iiop://1.2@10.0.1.10:9900,1.1@[::1]:9901,:9902") == [
        ("10.0.1.10", 9900, (9900, 9900)), ("::1", 9901, (9901, 9901)),
        ("", 9902, (9902, 9902))]


def test_empty_items_in_the_host_list_add_nothing():
    """TAO splits the list with strtok: `:9900,` is one endpoint, not a second
    ephemeral one."""
    assert summary("-ORBEndpoint iiop://:9900,") == [("", 9900, (9900, 9900))]
    assert summary("-ORBEndpoint iiop://,:9900,,") == [("", 9900, (9900, 9900))]


def test_several_endpoints_in_one_value_separated_by_semicolons():
    assert summary('-ORBEndpoint "iiop://:1; iiop://h:2;;iiop://"') == [
        ("", 1, (1, 1)), ("h", 2, (2, 2)), ("", None, None)]


@pytest.mark.parametrize(("endpoint", "ports"), [
    ("iiop://:9900/portspan=5", (9900, 9904)),
    ("iiop://:9900/portspan=1", (9900, 9900)),
    ("iiop://:9900/hostname_in_ior=ce.example.local&portspan=3", (9900, 9902)),
    ("iiop://:9900/PortSpan=2&hostname_in_ior=x", (9900, 9901)),
    ("iiop://:65530/portspan=100", (65530, 65535)),  # capped: no port past 65535
])
def test_portspan_covers_the_range(endpoint, ports):
    [e] = eps(f"-ORBEndpoint {endpoint}")
    assert e.port == ports[0]
    assert e.ports == ports


def test_portspan_applies_to_every_host_of_the_endpoint():
    assert summary("-ORBEndpoint iiop://a:100,b:200/portspan=10") == [
        ("a", 100, (100, 109)), ("b", 200, (200, 209))]


def test_hostname_in_ior_changes_nothing_bound():
    assert summary("-ORBEndpoint iiop://:9900/hostname_in_ior=ce-core-01") == [
        ("", 9900, (9900, 9900))]


@pytest.mark.parametrize("bad", ["portspan=0", "portspan=65536", "portspan=x", "portspan",
                                 "portspan=", "portspan=²", "portspan=-1"])
def test_a_bad_portspan_is_an_error(bad):
    with pytest.raises(TaoSyntaxError, match="portspan"):
        tao.endpoints_in(f"-ORBEndpoint iiop://:9900/{bad}")


@pytest.mark.parametrize(("endpoint", "message"), [
    ("iiop://:65536", "not a port"),
    ("iiop://:99999", "not a port"),
    ("iiop://:port", "not a port number"),
    ("iiop://:-5", "not a port number"),
    ("iiop://:٩٩", "not a port number"),  # Arabic-Indic digits: not an ASCII port
    ("iiop://[::1", "unclosed"),
    ("iiop://[::1]x", "unexpected"),
    ("iiop://x.y@:1", "GIOP version"),
    (":9999", "not an endpoint"),
    ("9999", "not an endpoint"),
])
def test_bad_endpoints_are_errors(endpoint, message):
    with pytest.raises(TaoSyntaxError, match=message):
        tao.endpoints_in(f"-ORBEndpoint {endpoint}")


def test_diop_is_udp_and_local_transports_are_set_aside():
    found, odd, _ = tao.endpoints_in(
        "-ORBEndpoint diop://:5000 -ORBEndpoint uiop:///tmp/x;shmiop://:1 "
        "-ORBEndpoint sciop://:6000")
    assert [(e.protocol, e.port) for _o, e in found] == [("UDP", 5000)]
    assert [(u.scheme, u.local_only) for _o, u in odd] == [
        ("uiop", True), ("shmiop", True), ("sciop", False)]


def test_quotes_and_comments_around_endpoints():
    options = """
        -ORBEndpoint 'iiop://:9900'   # the main endpoint
        -ORBEndpoint "iiop://:9901"
    """
    # The comment runs to the end of the text: the second option is inside it.
    assert summary(options) == [("", 9900, (9900, 9900))]
    # Inside quotes `#` is data: here part of the hostname_in_ior value.
    assert summary('-ORBEndpoint "iiop://:9900/hostname_in_ior=a#b" -ORBEndpoint iiop://:2'
                   ) == [("", 9900, (9900, 9900)), ("", 2, (2, 2))]


# --- property-based ----------------------------------------------------------------------

HOSTS = {  # as written -> (host as parsed, all interfaces, loopback)
    "": ("", True, False),
    "0.0.0.0": ("0.0.0.0", True, False),
    "[::]": ("::", True, False),
    "127.0.0.1": ("127.0.0.1", False, True),
    "[::1]": ("::1", False, True),
    "localhost": ("localhost", False, True),
    "10.0.1.10": ("10.0.1.10", False, False),
    "ce-core-01": ("ce-core-01", False, False),
    "[fe80::10]": ("fe80::10", False, False),
}

address_st = st.tuples(
    st.sampled_from(sorted(HOSTS)),
    st.one_of(st.none(), st.integers(1, 65535)),
    st.sampled_from(["", "1.0@", "1.2@"]),
).filter(lambda a: a[0] or a[1] or a[2])  # a lone empty item is dropped (strtok)

endpoint_st = st.tuples(
    st.lists(address_st, min_size=1, max_size=3),
    st.one_of(st.none(), st.integers(1, 500)),  # portspan
    st.booleans(),  # hostname_in_ior too
    st.sampled_from(["iiop", "IIOP", "Iiop"]),
)


def render(endpoint: tuple) -> str:
    addresses, portspan, ior, scheme = endpoint
    hosts = ",".join(f"{v}{h}" + (f":{p}" if p else "") for h, p, v in addresses)
    options = []
    if ior:
        options.append("hostname_in_ior=ce.example.local")
    if portspan:
        options.append(f"portspan={portspan}")
    return f"{scheme}://{hosts}" + ("/" + "&".join(options) if options else "")


def expected(endpoint: tuple) -> list[tuple]:
    addresses, portspan, _ior, _scheme = endpoint
    out = []
    for written, port, _version in addresses:
        host, all_interfaces, loopback = HOSTS[written]
        ports = None
        if port:
            ports = (port, min(65535, port + (portspan or 1) - 1))
        out.append((host, port, ports, all_interfaces, loopback))
    return out


option_name_st = st.sampled_from(["-ORBEndpoint", "-ORBEndPoint", "-orbendpoint",
                                  "-ORBListenEndpoints", "-orblistenendpoints"])
noise_st = st.sampled_from(["", "-ORBDottedDecimalAddresses 1", "-ORBDebugLevel 5",
                            "-ORBInitRef NameService=corbaloc:iiop:ns:2809/NameService"])


@settings(max_examples=300)
@given(
    groups=st.lists(st.tuples(option_name_st, st.lists(endpoint_st, min_size=1, max_size=3),
                              st.sampled_from(["", "'", '"']), noise_st),
                    min_size=1, max_size=4),
    comment=st.sampled_from(["", "# -ORBEndpoint iiop://:1", "#"]),
    spaces=st.sampled_from([" ", "  ", "\t", "\r\n "]),
)
def test_generated_options_parse_to_what_they_say(groups, comment, spaces):
    parts, wanted = [], []
    for option, endpoints, quote, noise in groups:
        # Several endpoints in one value need quotes only when the `;` list has spaces.
        value = ";".join(render(e) for e in endpoints)
        parts += [option, f"{quote}{value}{quote}", noise]
        wanted += [w for e in endpoints for w in expected(e)]
    text = spaces.join(p for p in parts if p) + (spaces + comment if comment else "")
    found = eps(text)
    got = [(e.host, e.port, e.ports, e.all_interfaces, e.loopback) for e in found]
    assert got == wanted
    assert all(e.protocol == "TCP" for e in found)


token_st = st.text(st.characters(blacklist_characters="\"'#", blacklist_categories=("Cs",)),
                   min_size=1, max_size=12)


@given(st.lists(token_st, max_size=8), st.sampled_from([" ", "\t", "\n", "  "]))
def test_split_options_round_trips_quoted_tokens(tokens, separator):
    """Every token double-quoted (so white space inside it stays) comes back as is."""
    text = separator.join(f'"{t}"' for t in tokens)
    assert tao.split_options(text) == tokens


@given(st.lists(st.text(st.characters(blacklist_characters="\"'#",
                                      blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")),
                        min_size=1, max_size=12), max_size=8))
def test_split_options_on_plain_words(words):
    text = " ".join(words)
    assert tao.split_options(text) == [w for w in text.split() if w]


@settings(max_examples=500)
@given(st.text(max_size=80))
def test_any_option_text_parses_or_is_a_tao_syntax_error(text):
    try:
        found, _odd, _ = tao.endpoints_in(text)
    except TaoSyntaxError:
        return
    for _option, e in found:
        assert e.protocol in ("TCP", "UDP")
        assert e.ports is None or 1 <= e.ports[0] <= e.ports[1] <= 65535


endpoint_chars = st.sampled_from(list("iop:/[]@,;.&=0123456789ahlnopst-x ²٩"))


@settings(max_examples=500)
@given(st.text(endpoint_chars, max_size=40))
def test_any_endpoint_text_parses_or_is_a_tao_syntax_error(rest):
    try:
        endpoints, _odd = tao.parse_endpoints("iiop://" + rest)
    except TaoSyntaxError:
        return
    for e in endpoints:
        assert (e.port is None) == (e.ports is None)
        if e.ports:
            assert e.ports[0] == e.port
            assert 1 <= e.ports[0] <= e.ports[1] <= 65535
