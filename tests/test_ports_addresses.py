"""cefw.ports and cefw.addresses: parsing, merging, canonical forms, with property-based
tests for port-range merging and address canonicalisation."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cefw import addresses, ports
from cefw.addresses import AddressSyntaxError
from cefw.ports import PortSyntaxError

# --- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "port"), [("1", 1), ("65535", 65535), (" 9905 ", 9905),
                                            ("09905", 9905), ("\t80\n", 80)])
def test_parse_port(text, port):
    assert ports.parse_port(text) == port


@pytest.mark.parametrize("text", ["0", "65536", "99999", "-1", "+80", "80.0", "8 0", "",
                                  " ", "0x50", "eighty", "٨٠", "²", "1e3"])
def test_parse_port_refuses(text):
    with pytest.raises(PortSyntaxError) as caught:
        ports.parse_port(text)
    assert "port" in str(caught.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("9905", (9905, 9905)), ("40000-40099", (40000, 40099)), (" 1 - 2 ", (1, 2)),
    ("5-5", (5, 5)),
])
def test_parse_range(text, expected):
    assert ports.parse_range(text) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("40099-40000", "ends before it starts"), ("1-", "not a port number"),
    ("-5", "not a port number"), ("1-2-3", "not a port number"), ("0-10", "not a port"),
])
def test_parse_range_refuses(text, problem):
    with pytest.raises(PortSyntaxError, match=problem):
        ports.parse_range(text)


def test_parse_list_and_format():
    parsed = ports.parse_list("9971, 9100,40000-40099,40100-40110,9100,")
    assert parsed == ((9100, 9100), (9971, 9971), (40000, 40110))
    assert ports.format_ports(parsed) == "9100,9971,40000-40110"
    assert ports.format_ports(()) == "any"
    assert ports.format_ports((), empty="") == ""
    assert ports.format_range((5, 5)) == "5"


@pytest.mark.parametrize(("ranges", "merged"), [
    ([], ()),
    ([(5, 5), (1, 1)], ((1, 1), (5, 5))),
    ([(1, 3), (4, 6)], ((1, 6),)),  # adjacent ranges join
    ([(1, 3), (5, 6)], ((1, 3), (5, 6))),  # a gap of one port stays a gap
    ([(1, 10), (2, 3), (10, 12)], ((1, 12),)),
    ([(9905, 9905), (9905, 9905)], ((9905, 9905),)),
])
def test_merge(ranges, merged):
    assert ports.merge(ranges) == merged


@pytest.mark.parametrize(("first", "count", "expected"), [
    (9900, 5, (9900, 9904)), (9900, 1, (9900, 9900)), (9900, 0, (9900, 9900)),
    (65530, 100, (65530, 65535)), (1, 65535, (1, 65535)),
])
def test_span(first, count, expected):
    assert ports.span(first, count) == expected


def test_overlaps():
    assert ports.overlaps(((1, 10), (20, 30)), ((5, 25),)) == ((5, 10), (20, 25))
    assert ports.overlaps(((1, 10),), ((11, 20),)) == ()


# property-based: a small port space so coverage can be compared as sets
small_range = st.tuples(st.integers(1, 300), st.integers(0, 40)).map(
    lambda t: (t[0], min(300, t[0] + t[1])))
any_range = st.tuples(st.integers(1, 65535), st.integers(0, 2000)).map(
    lambda t: (t[0], min(65535, t[0] + t[1])))


def covered(ranges) -> set[int]:
    return {p for low, high in ranges for p in range(low, high + 1)}


@given(st.lists(small_range, max_size=30))
def test_merge_covers_exactly_the_same_ports(ranges):
    assert covered(ports.merge(ranges)) == covered(ranges)


@given(st.lists(any_range, max_size=30))
def test_merge_is_sorted_disjoint_and_not_adjacent(ranges):
    merged = ports.merge(ranges)
    for low, high in merged:
        assert 1 <= low <= high <= 65535
    for (_, high), (low, _) in itertools.pairwise(merged):
        assert low > high + 1


@given(st.lists(any_range, max_size=30), st.randoms())
def test_merge_is_idempotent_and_order_free(ranges, rnd):
    merged = ports.merge(ranges)
    assert ports.merge(merged) == merged
    shuffled = list(ranges)
    rnd.shuffle(shuffled)
    assert ports.merge(shuffled) == merged


@given(st.lists(any_range, max_size=20))
def test_format_and_parse_list_round_trip(ranges):
    merged = ports.merge(ranges)
    assert ports.parse_list(ports.format_ports(merged, empty="")) == merged


@given(st.lists(small_range, max_size=10), st.lists(small_range, max_size=10))
def test_overlaps_is_the_intersection(a, b):
    assert covered(ports.overlaps(ports.merge(a), ports.merge(b))) == covered(a) & covered(b)


@given(st.integers(1, 65535))
def test_parse_port_round_trips(port):
    assert ports.parse_port(str(port)) == port
    assert ports.parse_range(f"{port}-{port}") == (port, port)


@settings(max_examples=300)
@given(st.text(max_size=12))
def test_parse_range_on_any_text_is_a_range_or_a_port_syntax_error(text):
    try:
        low, high = ports.parse_range(text)
    except PortSyntaxError:
        return
    assert 1 <= low <= high <= 65535


# --- addresses ---------------------------------------------------------------------------

@pytest.mark.parametrize(("tokens", "expected"), [
    (["10.0.1.11", "10.0.1.10"], ("10.0.1.10", "10.0.1.11")),
    (["10.0.1.10", "10.0.1.10/32", " 10.0.1.10 "], ("10.0.1.10",)),
    (["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3"], ("10.0.0.0/8",)),
    (["10.0.1.10-10.0.1.13"], ("10.0.1.10/31", "10.0.1.12/31")),
    (["fd00::1", "10.0.0.1"], ("10.0.0.1", "fd00::1")),
    (["fd00::/64", "fd00::5"], ("fd00::/64",)),
    (["", "10.0.0.1", "  "], ("10.0.0.1",)),
    (["10.0.0.1", "ANY"], ("any",)),
    (["*"], ("any",)),
    ([], ()),
])
def test_canonical(tokens, expected):
    assert addresses.canonical(tokens) == expected


def test_strict_refuses_host_bits_and_lenient_accepts_them():
    with pytest.raises(AddressSyntaxError, match="host bits set"):
        addresses.canonical(["10.0.1.10/24"])
    assert addresses.canonical(["10.0.1.10/24"], strict=False) == ("10.0.1.0/24",)


@pytest.mark.parametrize("token", ["ce-core-01", "ce-core", "10.0.1", "10.0.0.0/40",
                                   "10.0.1.20-10.0.1.10", "fd00::1-10.0.0.1", "::g"])
def test_bad_tokens(token):
    with pytest.raises(AddressSyntaxError) as caught:
        addresses.canonical([token])
    assert repr(token) in str(caught.value)


def test_a_host_name_with_hyphens_is_not_called_a_range():
    with pytest.raises(AddressSyntaxError) as caught:
        addresses.canonical(["ce-core-01"])
    assert "is not an IP address, prefix" in str(caught.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("*", ("any",)),
    ("", ("any",)),
    ("Any", ("any",)),
    ("10.0.1.10/255.255.255.255,10.1.0.0/255.255.0.0", ("10.0.1.10", "10.1.0.0/16")),
    ("10.0.1.10-10.0.1.11", ("10.0.1.10/31",)),
    ("LocalSubnet,10.0.0.1", ("10.0.0.1", "LocalSubnet")),
    ("fd00::/64,10.0.0.1", ("10.0.0.1", "fd00::/64")),
    ("10.0.1.10/24", ("10.0.1.0/24",)),  # read-back is lenient
])
def test_from_windows(text, expected):
    assert addresses.from_windows(text) == expected


def test_to_windows_and_networks():
    assert addresses.to_windows(("any",)) == "*"
    assert addresses.to_windows(("10.0.1.10", "10.20.0.0/16")) == "10.0.1.10,10.20.0.0/16"
    assert addresses.networks(("any",)) == []
    assert addresses.networks(("10.0.1.10", "fd00::/64")) == [
        ipaddress.ip_network("10.0.1.10/32"), ipaddress.ip_network("fd00::/64")]


v4_net = st.tuples(st.integers(0, 2**32 - 1), st.integers(20, 32)).map(
    lambda t: ipaddress.ip_network((t[0], t[1]), strict=False))
v6_net = st.tuples(st.integers(0, 2**128 - 1), st.integers(100, 128)).map(
    lambda t: ipaddress.ip_network((t[0], t[1]), strict=False))


def collapsed(nets) -> list:
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    return list(ipaddress.collapse_addresses(v4)) + list(ipaddress.collapse_addresses(v6))


@given(st.lists(st.one_of(v4_net, v6_net), max_size=15))
def test_canonical_covers_the_same_addresses_once(nets):
    tokens = [str(n) for n in nets]
    result = addresses.canonical(tokens)
    back = addresses.networks(result)
    assert collapsed(back) == collapsed(nets)
    for i, a in enumerate(back):  # nothing inside anything else, nothing twice
        for b in back[i + 1:]:
            assert a.version != b.version or not (a.subnet_of(b) or b.subnet_of(a))
    assert addresses.canonical(result) == result  # idempotent
    assert addresses.from_windows(addresses.to_windows(result) or "*") == (
        result if result else ("any",))
