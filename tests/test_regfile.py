"""cefw.registry.regfile: regedit exports in both encodings, every value form, deletions,
errors with line numbers, and property-based round trips and fuzzing."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cefw.errors import InputError
from cefw.registry import type_name
from cefw.registry.regfile import decode_data, load_reg, parse_reg_bytes
from regwriter import encode, reg_text, value_line

DATA = Path(__file__).parent / "data" / "registry"
TAO = r"SOFTWARE\WOW6432Node\ACE\TAO"
GEO = r"SOFTWARE\Geomant Call Center Solutions\GeoCampaign"
OPTIONS = "TaoNamingServiceOptions"


def parse(text: str, encoding: str = "utf-16", name: str = "t.reg"):
    return parse_reg_bytes(encode(text, encoding), name)


def error_of(text: str, encoding: str = "utf-8") -> InputError:
    with pytest.raises(InputError) as caught:
        parse(text, encoding)
    return caught.value


V5 = "Windows Registry Editor Version 5.00\r\n\r\n"
KEY = f"[HKEY_LOCAL_MACHINE\\{TAO}]\r\n"


# --- realistic exports -------------------------------------------------------------

def test_tao_export_from_64_bit_windows():
    source = load_reg(DATA / "tao-x64.reg")
    value = source.raw(TAO, OPTIONS)
    assert value.type == "REG_EXPAND_SZ"
    assert value.data == "-ORBEndPoint iiop://:9999 -ORBDottedDecimalAddresses 1"
    assert value.origin.kind == "registry"
    assert value.origin.path == rf"HKLM\{TAO}\{OPTIONS}"
    assert value.origin.where == "tao-x64.reg line 6 (REG_EXPAND_SZ)"
    assert source.description == "registry export tao-x64.reg"
    assert source.raw(r"SOFTWARE\ACE\TAO", OPTIONS) is None  # raw paths: no view mapping


def test_geocampaign_export_mixes_dword_and_string():
    source = load_reg(DATA / "geocampaign.reg")
    app = source.raw(GEO, "Lync_Recorder_ApplicationPort")
    port = source.raw(GEO, "Lync_Recorder_Port")
    connector = source.raw(GEO, "Lync_Connector_ApplicationPort")
    assert (app.type, app.data) == ("REG_DWORD", 9100)
    assert (port.type, port.data) == ("REG_SZ", "9971")
    assert (connector.type, connector.data) == ("REG_DWORD", 9000)
    assert app.origin.where == "geocampaign.reg line 6 (REG_DWORD)"
    assert port.origin.where == "geocampaign.reg line 7 (REG_SZ)"
    assert port.origin.path == rf"HKLM\{GEO}\Lync_Recorder_Port"


def test_regedit4_hex2_is_ansi():
    value = load_reg(DATA / "tao-regedit4.reg").raw(TAO, OPTIONS)
    assert value.type == "REG_EXPAND_SZ"
    assert value.data == "-ORBListenEndpoints iiop://:9999 # Naming-Dienst für CE"


def test_plain_path_export_as_reg_export_32_writes_it():
    value = load_reg(DATA / "tao-reg32.reg").raw(r"SOFTWARE\ACE\TAO", OPTIONS)
    assert (value.type, value.data) == ("REG_SZ", "-ORBListenEndpoints iiop://:9999")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_same_content_in_utf8_gives_the_same_values(encoding, tmp_path):
    for name in ("tao-x64.reg", "geocampaign.reg"):
        original = load_reg(DATA / name)
        text = (DATA / name).read_bytes()[2:].decode("utf-16-le")
        copy = tmp_path / name
        copy.write_bytes(text.encode(encoding))
        again = load_reg(copy)
        assert again._values == original._values


def test_lookup_is_case_insensitive_and_keeps_the_spelling_of_the_file():
    source = load_reg(DATA / "geocampaign.reg")
    value = source.raw(GEO.upper(), "lync_recorder_port")
    assert value.data == "9971"
    assert value.origin.path == rf"HKLM\{GEO}\Lync_Recorder_Port"


# --- value forms -------------------------------------------------------------------

def test_every_value_form():
    text = V5 + KEY + "\r\n".join([
        '"s"="a \\"quoted\\" C:\\\\path"',
        "@=\"default\"",
        '"d"=dword:0000270f',
        '"upper"=DWORD:FFFFFFFF',
        '"e"=hex(2):25,00,50,00,46,00,25,00,00,00',
        '"m"=hex(7):61,00,00,00,62,00,63,00,00,00,00,00',
        '"q"=hex(b):00,00,00,00,01,00,00,00',
        '"b"=hex:de,ad,be,ef',
        '"empty"=hex:',
        '"n"=hex(0):01',
        '"odd"=hex(12345):01,02',
        '"dw"=hex(4):0f,27,00,00',
        '"short"=hex(b):01',
        '"be"=hex(5):00,00,27,0f',
    ]) + "\r\n"
    source = parse(text)

    def get(name):
        value = source.raw(TAO, name)
        return value.type, value.data

    assert get("s") == ("REG_SZ", 'a "quoted" C:\\path')
    assert get("") == ("REG_SZ", "default")
    assert get("d") == ("REG_DWORD", 9999)
    assert get("UPPER") == ("REG_DWORD", 0xFFFFFFFF)
    assert get("e") == ("REG_EXPAND_SZ", "%PF%")  # never expanded
    assert get("m") == ("REG_MULTI_SZ", ["a", "bc"])
    assert get("q") == ("REG_QWORD", 1 << 32)
    assert get("b") == ("REG_BINARY", b"\xde\xad\xbe\xef")
    assert get("empty") == ("REG_BINARY", b"")
    assert get("n") == ("REG_NONE", b"\x01")
    assert get("odd") == ("REG_TYPE_0x12345", b"\x01\x02")
    assert get("dw") == ("REG_DWORD", 9999)
    assert get("short") == ("REG_QWORD", b"\x01")  # wrong size for the type: raw bytes
    assert get("be") == ("REG_DWORD_BIG_ENDIAN", 9999)
    assert source.raw(TAO, "").origin.path == rf"HKLM\{TAO}\(Default)"


def test_unknown_escape_is_kept_as_written():
    source = parse(V5 + KEY + '"p"="C:\\Program Files\\CE"\r\n')
    assert source.raw(TAO, "p").data == "C:\\Program Files\\CE"


def test_strings_end_at_the_first_nul_as_programs_read_them():
    source = parse(V5 + KEY + '"e"=hex(2):39,00,00,00,39,00,00,00\r\n')
    assert source.raw(TAO, "e").data == "9"


def test_continuation_lines_comments_blank_lines_and_spacing():
    text = V5 + "; exported by hand\r\n\r\n" + KEY + "\r\n".join([
        '  ; a comment inside the key',
        '"e" = hex(2):39,00,\\',
        '',  # an empty continuation line adds nothing, and the value goes on
        '',
        '"after"="x"   ; trailing comment',
        '"wrapped"=hex(2):39,00,\\',
        '    39,00,\\',
        '\t39,00,00,00',
        '"spaced"=hex: 01 , 2 ,ff,',
    ]) + "\r\n"
    source = parse(text)
    assert source.raw(TAO, "e").data == "9"
    assert source.raw(TAO, "after").data == "x"
    assert source.raw(TAO, "wrapped").data == "999"
    assert source.raw(TAO, "wrapped").origin.where == "t.reg line 11 (REG_EXPAND_SZ)"
    assert source.raw(TAO, "spaced").data == b"\x01\x02\xff"


def test_continued_hex_joins_lines_and_skips_comment_lines():
    text = V5 + KEY + "\r\n".join([
        '"a"=hex:01,0\\',
        '  ; a comment line does not end the value',
        '  2,03',
        '"b"=hex:01,\\',
        '  zz',
    ]) + "\r\n"
    err = error_of(text)
    assert (err.where, err.problem) == ("line 8", "'zz' is not a hex byte in the hex data")
    source = parse(text.replace("zz", "02"))
    assert source.raw(TAO, "a").data == b"\x01\x02\x03"  # "0" + "2": one byte, as joined
    assert source.raw(TAO, "b").data == b"\x01\x02"


def test_regedit4_strings_are_ansi_unless_a_utf8_bom_says_otherwise():
    text = "REGEDIT4\r\n\r\n" + KEY + '"s"="café"\r\n"e"=hex(2):e9,00\r\n'
    ansi = parse(text, "cp1252")
    assert (ansi.raw(TAO, "s").data, ansi.raw(TAO, "e").data) == ("café", "é")
    bom = parse(text, "utf-8-sig")
    assert (bom.raw(TAO, "s").data, bom.raw(TAO, "e").data) == ("café", "é")


def test_later_assignments_override_earlier_ones():
    text = V5 + KEY + '"v"="first"\r\n' + KEY.lower() + '"V"=dword:00000002\r\n'
    value = parse(text).raw(TAO, "v")
    assert (value.type, value.data) == ("REG_DWORD", 2)
    assert value.origin.where == "t.reg line 6 (REG_DWORD)"
    assert value.origin.path == rf"HKLM\{TAO.lower()}\V"


def test_value_and_key_deletions():
    text = V5 + "\r\n".join([
        rf"[HKEY_LOCAL_MACHINE\{TAO}]",
        '"gone"="x"',
        '"kept"="y"',
        '"gone"=-',
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Old\Sub]",
        '"a"="1"',
        r"[-HKEY_LOCAL_MACHINE\SOFTWARE\Old]",
        '"ignored"="values under a deleted key are not kept"',
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Again]",
        '"b"="1"',
        r"[-HKEY_LOCAL_MACHINE\SOFTWARE\Again]",
        r"[HKEY_LOCAL_MACHINE\SOFTWARE\Again]",
        '"c"="2"',
    ]) + "\r\n"
    source = parse(text)
    assert source.raw(TAO, "gone") is None
    assert source.deletes(TAO, "gone")
    assert source.raw(TAO, "kept").data == "y"
    assert not source.deletes(TAO, "kept")
    assert source.raw(r"SOFTWARE\Old\Sub", "a") is None
    assert source.deletes(r"SOFTWARE\Old\Sub", "a")
    assert source.deletes(r"SOFTWARE\Old\Sub\Deeper", "anything")
    assert source.raw(r"SOFTWARE\Old", "ignored") is None
    assert source.raw(r"SOFTWARE\Again", "b") is None  # deleted, key then re-created
    assert source.raw(r"SOFTWARE\Again", "c").data == "2"
    assert not source.deletes(r"SOFTWARE\Again", "c")
    assert not source.deletes(r"SOFTWARE\Elsewhere", "x")


def test_other_roots_are_parsed_and_ignored_and_hklm_short_form_counts():
    text = V5 + "\r\n".join([
        r"[HKEY_CURRENT_USER\SOFTWARE\ACE\TAO]",
        f'"{OPTIONS}"="user"',
        r"[HKLM\SOFTWARE\ACE\TAO]",
        f'"{OPTIONS}"="machine"',
        r"[-HKEY_CURRENT_USER\SOFTWARE]",
    ]) + "\r\n"
    source = parse(text)
    assert source.raw(r"SOFTWARE\ACE\TAO", OPTIONS).data == "machine"
    assert source.raw(r"SOFTWARE\ACE\TAO", OPTIONS).origin.path == (
        rf"HKLM\SOFTWARE\ACE\TAO\{OPTIONS}")


def test_errors_in_ignored_roots_still_show():
    text = V5 + "[HKEY_CURRENT_USER\\x]\r\n\"d\"=dword:xyz\r\n"
    assert error_of(text).where == "line 4"


def test_concatenated_exports_repeat_the_header():
    text = V5 + KEY + '"a"="1"\r\n' + "\ufeff" + V5.strip() + "\r\n" + KEY + '"b"="2"\r\n'
    source = parse(text, "utf-8")
    assert source.raw(TAO, "a").data == "1"
    assert source.raw(TAO, "b").data == "2"


def test_utf16_without_bom_and_lf_line_ends():
    text = (V5 + KEY + '"a"=hex(2):41,00,00,00\r\n').replace("\r\n", "\n")
    assert parse_reg_bytes(text.encode("utf-16-le"), "t.reg").raw(TAO, "a").data == "A"


def test_line_separators_inside_values_are_not_line_breaks():
    text = V5 + KEY + '"a"="x\u2028y\x85z\x0bw"\r\n'
    assert parse(text).raw(TAO, "a").data == "x\u2028y\x85z\x0bw"


def test_type_names_and_decoding():
    assert type_name(2) == "REG_EXPAND_SZ"
    assert type_name(0x20) == "REG_TYPE_0x20"
    assert decode_data(7, "a\0\0b\0\0".encode("utf-16-le")) == ["a"]  # list ends at ""
    assert decode_data(7, "a\0b".encode("utf-16-le")) == ["a", "b"]  # no terminator
    assert decode_data(2, "é\0".encode("cp1252"), ansi=True) == "é"
    assert decode_data(1, b"\x41") == "\ufffd"  # odd UTF-16 byte: replaced, no crash


# --- errors ------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "line", "words"), [
    ('"d"=dword:xyz', 4, "DWORD"),
    ('"d"=dword:123456789', 4, "DWORD"),
    ('"d"=dword:', 4, "DWORD"),
    ('"h"=hex:01,zz,02', 4, "'zz' is not a hex byte"),
    ('"h"=hex:012,02', 4, "'012' is not a hex byte"),
    ('"h"=hex:01,,02', 4, "empty byte"),
    ('"h"=hex(2):41,00,\\\r\n  4g', 5, "'4g' is not a hex byte"),
    ('"s"="no end', 4, "no closing quote"),
    ('"s"="escaped end\\"', 4, "no closing quote"),
    ('"s', 4, "no closing quote"),
    ('"s"', 4, "expected ="),
    ('"s"=', 4, "cannot read the value data"),
    ('"s"=str:"x"', 4, "cannot read the value data"),
    ('"s"="x" y', 4, "unexpected text"),
    ('"s"=- y', 4, "unexpected text"),
    ("junk", 4, "expected [key]"),
    ("[HKEY_LOCAL_MACHINE\\SOFTWARE", 4, "no closing ]"),
    ("[SOFTWARE\\ACE\\TAO]", 4, "not a registry root"),
    ('"h"=hex:01,\\', 4, "file ends"),
])
def test_malformed_lines_name_the_line_the_problem_and_the_fix(body, line, words):
    text = V5 + KEY + body + "\r\n"
    if "file ends" in words:
        text = text.rstrip("\r\n")
    err = error_of(text)
    assert err.path == "t.reg"
    assert err.where == f"line {line}"
    assert words in err.problem
    assert err.fix
    assert f"t.reg: line {line}: " in err.render()


def test_value_line_before_any_key():
    err = error_of(V5 + '"a"="b"\r\n')
    assert (err.where, err.problem) == ("line 3", "a value line before any [key] line")
    assert "HKEY_LOCAL_MACHINE" in err.fix


@pytest.mark.parametrize("content", [
    b"", b"\xff\xfe", b"hello\r\n", b"\x00\x01\x02\xff", b"REGEDIT5\r\n",
    b"\xff\xfe" + "[HKEY_LOCAL_MACHINE\\x]".encode("utf-16-le"),
])
def test_not_a_registry_export(content):
    with pytest.raises(InputError) as caught:
        parse_reg_bytes(content, "x.reg")
    assert "not a registry export" in caught.value.problem
    assert "reg export" in caught.value.fix


def test_invalid_utf8_names_the_line():
    data = (V5 + KEY).encode() + b'"a"="\xff"\r\n'
    with pytest.raises(InputError) as caught:
        parse_reg_bytes(data, "x.reg")
    assert caught.value.where == "line 4"
    assert "UTF-8" in caught.value.problem


def test_unreadable_file(tmp_path):
    with pytest.raises(InputError) as caught:
        load_reg(tmp_path / "missing.reg")
    assert caught.value.path == str(tmp_path / "missing.reg")
    assert "cannot read" in caught.value.problem


def test_load_reg_errors_name_the_full_path(tmp_path):
    bad = tmp_path / "bad.reg"
    bad.write_bytes(encode(V5 + KEY + '"d"=dword:zz\r\n', "utf-16"))
    with pytest.raises(InputError) as caught:
        load_reg(bad)
    assert caught.value.path == str(bad)


# --- properties --------------------------------------------------------------------

FORBIDDEN = "\x00\r\n"
ANY_CHAR = st.characters(blacklist_characters=FORBIDDEN, blacklist_categories=("Cs",))
ANSI_CHAR = st.characters(codec="cp1252", blacklist_characters=FORBIDDEN)


def values_for(chars):
    text = st.text(chars, max_size=40)
    return st.one_of(
        st.tuples(st.just("sz"), text),
        st.tuples(st.just("expand"), text),
        st.tuples(st.just("multi"), st.lists(st.text(chars, min_size=1, max_size=10),
                                             max_size=4)),
        st.tuples(st.just("dword"), st.integers(0, 2**32 - 1)),
        st.tuples(st.just("qword"), st.integers(0, 2**64 - 1)),
        st.tuples(st.just("binary"), st.binary(max_size=60)),
    )


def exports(chars):
    names = st.text(chars, max_size=12)
    key_part = st.text(st.characters(blacklist_characters=FORBIDDEN + "\\",
                                     blacklist_categories=("Cs",))
                       if chars is ANY_CHAR else
                       st.characters(codec="cp1252", blacklist_characters=FORBIDDEN + "\\"),
                       min_size=1, max_size=10)
    keys = st.lists(key_part, min_size=1, max_size=3).map(
        lambda parts: "SOFTWARE\\" + "\\".join(parts))
    values = st.dictionaries(names, values_for(chars), max_size=5).filter(
        lambda d: len({n.lower() for n in d}) == len(d))
    return st.dictionaries(keys, values, min_size=1, max_size=3).filter(
        lambda d: len({k.lower() for k in d}) == len(d))


def expected(value):
    kind = value[0]
    names = {"sz": "REG_SZ", "expand": "REG_EXPAND_SZ", "multi": "REG_MULTI_SZ",
             "dword": "REG_DWORD", "qword": "REG_QWORD", "binary": "REG_BINARY"}
    return names[kind], value[1]


def check_round_trip(keys, source):
    for key, values in keys.items():
        for name, value in values.items():
            got = source.raw(key, name)
            assert got is not None, (key, name)
            assert (got.type, got.data) == expected(value)
            assert got.origin.path == "\\".join(["HKLM", key, name or "(Default)"])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(exports(ANY_CHAR), st.sampled_from(["utf-16", "utf-8", "utf-8-sig"]))
def test_round_trip_version5(keys, encoding):
    data = encode(reg_text(keys), encoding)
    check_round_trip(keys, parse_reg_bytes(data, "gen.reg"))


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(exports(ANSI_CHAR))
def test_round_trip_regedit4(keys):
    data = encode(reg_text(keys, version=4), "cp1252")
    check_round_trip(keys, parse_reg_bytes(data, "gen.reg"))


@settings(max_examples=60)
@given(exports(ANY_CHAR))
def test_deleting_every_value_leaves_nothing(keys):
    deletions = {k: {n: ("delete",) for n in v} for k, v in keys.items()}
    text = reg_text(keys) + "\r\n".join(
        line for k, v in deletions.items()
        for line in [f"[HKEY_LOCAL_MACHINE\\{k}]", *(value_line(n, d) for n, d in v.items())])
    source = parse_reg_bytes(encode(text, "utf-16"), "gen.reg")
    for key, values in keys.items():
        for name in values:
            assert source.raw(key, name) is None
            assert source.deletes(key, name)


def parses_or_refuses(data: bytes) -> None:
    try:
        source = parse_reg_bytes(data, "fuzz.reg")
    except InputError as err:
        assert err.path == "fuzz.reg"
        assert err.problem and err.fix
    else:
        source.raw(r"SOFTWARE\ACE\TAO", OPTIONS)


@settings(max_examples=300)
@given(st.text())
def test_random_text_never_crashes(text):
    parses_or_refuses(text.encode("utf-8", errors="surrogatepass"))


@settings(max_examples=300)
@given(st.binary(), st.sampled_from([b"", b"\xff\xfe", b"\xef\xbb\xbf"]))
def test_random_bytes_never_crash(data, bom):
    parses_or_refuses(bom + data)


FRAGMENTS = [
    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\ACE\\TAO]", "[-HKLM\\SOFTWARE]", "[HKCU\\x", "[",
    "]", '"', '"a"', "=", "@", "-", "dword:", "hex:", "hex(2):", "hex(7):", "hex(b):",
    "hex(", "00,", "0g", "\\", ";", "\\\"", "\\\\", " ", "\t", "\r", "REGEDIT4",
    "Windows Registry Editor Version 5.00", "\x00", "ff", "12345678", "\ufeff",
]


@settings(max_examples=400)
@given(st.lists(st.lists(st.one_of(st.sampled_from(FRAGMENTS),
                                   st.text(string.printable, max_size=4)),
                         max_size=8).map("".join), max_size=12),
       st.sampled_from(["utf-16", "utf-8", "cp1252"]))
def test_near_miss_exports_never_crash(lines, encoding):
    header = "REGEDIT4" if encoding == "cp1252" else "Windows Registry Editor Version 5.00"
    text = "\r\n".join([header, *lines])
    try:
        data = encode(text, encoding)
    except UnicodeEncodeError:
        data = encode(text, "utf-16")
    parses_or_refuses(data)
