"""Recording channels (ce-formats.md section 4): the CSV and JSON exports, tolerant
variants, the recorders that are not installed, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cefw.errors import InputError
from cefw.readers import channels

CMAPI = "TelephonyRecorder.CMAPI"
SIP = "TelephonyRecorder.SIP"
PROGRAMS = {CMAPI: r"C:\CE\Servers\TelephonyRecorderServer\TelephonyRecorder.CMAPI\x.exe",
            SIP: r"C:\CE\Servers\TelephonyRecorderServer\TelephonyRecorder.SIP\x.exe"}
BOTH = (CMAPI, SIP)

SPEC_CSV = """Channel,Recorder,ControlPort,MediaPort
Avaya-1,CMAPI,7001,40000-40099
SIP-trunk-A,SIP,7101,41000-41199
"""


def read(tmp_path: Path, content: str | bytes, name: str = "channels.csv",
         installed: tuple[str, ...] = BOTH):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return channels.read_file(path, installed, PROGRAMS)


def rows(reading) -> list[tuple[str, str, tuple]]:
    return [(e.component, e.protocol, e.ports) for e in reading.endpoints]


SPEC_ROWS = [(CMAPI, "TCP", ((7001, 7001),)), (CMAPI, "UDP", ((40000, 40099),)),
             (SIP, "TCP", ((7101, 7101),)), (SIP, "UDP", ((41000, 41199),))]


def error(tmp_path: Path, content: str | bytes, name: str = "channels.csv") -> InputError:
    with pytest.raises(InputError) as caught:
        read(tmp_path, content, name)
    assert caught.value.path == name
    assert caught.value.fix
    return caught.value


# --- the spec's example and its JSON twin ------------------------------------------------

def test_spec_csv(tmp_path):
    reading = read(tmp_path, SPEC_CSV)
    assert rows(reading) == SPEC_ROWS
    assert reading.findings == []
    control = reading.endpoints[0]
    assert control.origin.to_json() == {"kind": "channels", "path": "channels.csv",
                                        "where": "line 2, channel 'Avaya-1', ControlPort"}
    assert reading.endpoints[1].origin.where == "line 2, channel 'Avaya-1', MediaPort"
    assert control.label == "channel Avaya-1"
    assert control.program == PROGRAMS[CMAPI]
    assert control.sources == ("server",)
    assert all(e.enabled and not e.dynamic and not e.loopback_only
               for e in reading.endpoints)


@pytest.mark.parametrize("document", [
    [{"Channel": "Avaya-1", "Recorder": "CMAPI", "ControlPort": 7001,
      "MediaPort": "40000-40099"},
     {"Channel": "SIP-trunk-A", "Recorder": "SIP", "ControlPort": "7101",
      "MediaPort": "41000-41199"}],
    {"channels": [{"channel": "Avaya-1", "recorder": "cmapi", "control_port": 7001,
                   "media port": "40000-40099"},
                  {"CHANNEL": "SIP-trunk-A", "RECORDER": "sip", "CONTROLPORT": 7101,
                   "MEDIAPORT": "41000 - 41199", "Comment": "ignored"}]},
    {"Channels": [{"Channel": "Avaya-1", "Recorder": "TelephonyRecorder.CMAPI",
                   "ControlPort": 7001, "MediaPort": "40000-40099"},
                  {"Channel": "SIP-trunk-A", "Recorder": "TelephonyRecorder.SIP",
                   "ControlPort": 7101, "MediaPort": "41000-41199"}]},
])
def test_json_export(tmp_path, document):
    reading = read(tmp_path, json.dumps(document, indent=2), "channels.json")
    assert rows(reading) == SPEC_ROWS
    assert reading.endpoints[0].origin.to_json() == {
        "kind": "channels", "path": "channels.json",
        "where": "channels[0], channel 'Avaya-1', ControlPort"}


# --- tolerance ---------------------------------------------------------------------------

@pytest.mark.parametrize("encode", [
    lambda t: t.encode("utf-8"),
    lambda t: ("\ufeff" + t).encode("utf-8"),
    lambda t: ("\ufeff" + t).encode("utf-16-le"),
    lambda t: ("\ufeff" + t).encode("utf-16-be"),
    lambda t: t.replace("\n", "\r\n").encode("utf-8"),
])
def test_bom_encodings_and_line_ends(tmp_path, encode):
    assert rows(read(tmp_path, encode(SPEC_CSV))) == SPEC_ROWS


def test_json_with_bom(tmp_path):
    document = '\ufeff  [{"Channel": "A", "Recorder": "SIP", "ControlPort": 7101}]'
    assert rows(read(tmp_path, document.encode("utf-8"), "c.json")) == [
        (SIP, "TCP", ((7101, 7101),))]


@pytest.mark.parametrize("header", [
    "Channel,Recorder,ControlPort,MediaPort",
    "channel,recorder,controlport,mediaport",
    "CHANNEL,RECORDER,CONTROLPORT,MEDIAPORT",
    "Channel, Recorder, Control Port, Media Port",
    "channel,recorder,control_port,media_port",
])
def test_header_in_any_case_and_spacing(tmp_path, header):
    text = SPEC_CSV.replace("Channel,Recorder,ControlPort,MediaPort", header)
    assert rows(read(tmp_path, text)) == SPEC_ROWS


def test_columns_in_another_order_and_extra_columns(tmp_path):
    text = ("MediaPort,Comment,Recorder,Channel,ControlPort\n"
            '40000-40099,"first, Avaya",CMAPI,Avaya-1,7001\n'
            "41000-41199,,sip,SIP-trunk-A,7101\n")
    assert rows(read(tmp_path, text)) == SPEC_ROWS


def test_blank_lines_and_a_missing_port_column(tmp_path):
    text = ("Channel,Recorder,ControlPort,MediaPort\n\n"
            "A,CMAPI,7001,\n"
            " , , , \n"
            "B,CMAPI,,40000\n"
            "C,SIP,7101\n")  # a short row: MediaPort absent
    reading = read(tmp_path, text)
    assert rows(reading) == [(CMAPI, "TCP", ((7001, 7001),)), (CMAPI, "UDP", ((40000, 40000),)),
                             (SIP, "TCP", ((7101, 7101),))]
    assert [e.origin.where for e in reading.endpoints] == [
        "line 3, channel 'A', ControlPort", "line 5, channel 'B', MediaPort",
        "line 6, channel 'C', ControlPort"]


def test_a_header_with_only_one_port_column(tmp_path):
    reading = read(tmp_path, "Channel,Recorder,MediaPort\nA,CMAPI,40000-40010\n")
    assert rows(reading) == [(CMAPI, "UDP", ((40000, 40010),))]


def test_a_quoted_name_with_a_comma(tmp_path):
    reading = read(tmp_path, 'Channel,Recorder,ControlPort,MediaPort\n"Avaya, floor 2",CMAPI,'
                             '7001,40000\n')
    assert reading.endpoints[0].label == "channel Avaya, floor 2"


def test_ranges_and_single_ports(tmp_path):
    text = ("Channel,Recorder,ControlPort,MediaPort\n"
            "A,CMAPI,7001,40000\nB,CMAPI,7002-7003, 40100 - 40199 \nC,CMAPI,1,65535\n")
    assert rows(read(tmp_path, text)) == [
        (CMAPI, "TCP", ((7001, 7001),)), (CMAPI, "UDP", ((40000, 40000),)),
        (CMAPI, "TCP", ((7002, 7003),)), (CMAPI, "UDP", ((40100, 40199),)),
        (CMAPI, "TCP", ((1, 1),)), (CMAPI, "UDP", ((65535, 65535),))]


# --- recorders not installed -------------------------------------------------------------

def test_channels_of_a_recorder_that_is_not_installed(tmp_path):
    text = SPEC_CSV + "SIP-trunk-B,SIP,7102,41200-41399\n"
    reading = read(tmp_path, text, installed=(CMAPI,))
    assert rows(reading) == SPEC_ROWS[:2]
    [missing] = reading.findings
    assert (missing.code, missing.severity, missing.component) == (
        "channel-recorder-missing", "medium", SIP)
    assert "2 channel(s)" in missing.message and "channels.csv" in missing.message


def test_no_recorder_installed(tmp_path):
    reading = read(tmp_path, SPEC_CSV, installed=())
    assert reading.endpoints == []
    assert sorted((f.code, f.component) for f in reading.findings) == [
        ("channel-recorder-missing", CMAPI), ("channel-recorder-missing", SIP)]


def test_a_header_alone_is_no_channel(tmp_path):
    assert read(tmp_path, "Channel,Recorder,ControlPort,MediaPort\n") == ([], [])
    assert read(tmp_path, "[]", "c.json") == ([], [])


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "where", "problem"), [
    ("X,CMAPI,70000,40000", "line 3, ControlPort", "not a port"),
    ("X,CMAPI,0,40000", "line 3, ControlPort", "not a port"),
    ("X,CMAPI,abc,40000", "line 3, ControlPort", "not a port number"),
    ("X,CMAPI,7001,40100-40000", "line 3, MediaPort", "ends before it starts"),
    ("X,CMAPI,7001,40000-70000", "line 3, MediaPort", "not a port"),
    ("X,CMAPI,7001,40000;40001", "line 3, MediaPort", "not a port number"),
    ("X,CMAPI,-7001,", "line 3, ControlPort", "not a port number"),
    ("X,UCMA,7001,40000", "line 3, Recorder", "not a recorder"),
    ("X,,7001,40000", "line 3, Recorder", "not a recorder"),
    ("X,CMAPI,,", "line 3", "neither a ControlPort nor a MediaPort"),
    ("X,CMAPI,7001,40000,extra", "line 3", "5 fields for a header of 4"),
])
def test_bad_rows_name_the_line_and_column(tmp_path, line, where, problem):
    text = "Channel,Recorder,ControlPort,MediaPort\nA,CMAPI,7000,39000\n" + line + "\n"
    err = error(tmp_path, text)
    assert err.where == where
    assert problem in err.problem


@pytest.mark.parametrize("text", [
    "", "\ufeff", "   \n", "Name,Type,Port\nA,CMAPI,7001\n",
    "Channel;Recorder;ControlPort;MediaPort\nA;CMAPI;7001;40000\n",
    "Channel,Recorder\nA,CMAPI\n",
])
def test_bad_header(tmp_path, text):
    err = error(tmp_path, text)
    assert err.where == "line 1"
    assert "header" in err.problem


@pytest.mark.parametrize(("document", "where", "problem"), [
    ('[{"Channel": "A",\n "Recorder": "CMAPI" "ControlPort": 1}]', "line 2, column 22",
     "not valid JSON"),
    ('{"rows": []}', "", "expected a list"),
    ('{"channels": {"A": 1}}', "", "expected a list"),
    ('["A,CMAPI,7001"]', "channels[0]", "must be an object"),
    ('[{"Channel": "A", "Recorder": "CMAPI", "ControlPort": 7001.5}]',
     "channels[0], ControlPort", "not a port number"),
    ('[{"Channel": "A", "Recorder": "CMAPI", "ControlPort": true}]',
     "channels[0], ControlPort", "not a port number"),
    ('[{"Channel": "A", "Recorder": "CMAPI", "ControlPort": null}]', "channels[0]",
     "neither"),
    ('[{"Channel": "A", "Recorder": "CMAPI", "ControlPort": ' + "9" * 5000 + "}]", "",
     "not a usable JSON document"),
    ("[" * 100_000 + "]" * 100_000, "", "not a usable JSON document"),
])
def test_bad_json(tmp_path, document, where, problem):
    err = error(tmp_path, document, "channels.json")
    assert err.where == where
    assert problem in err.problem


def test_not_text(tmp_path):
    err = error(tmp_path, b"Channel,Recorder,ControlPort,MediaPort\nA,CMAPI,7001,40000\n"
                          b"\xe9t\xe9,CMAPI,7002,40001\n")
    assert err.where == "line 3"
    assert "not UTF-8" in err.problem


def test_a_field_past_the_csv_limit(tmp_path):
    text = 'Channel,Recorder,ControlPort,MediaPort\n"' + "x" * 200_000 + '",CMAPI,7001,1\n'
    err = error(tmp_path, text)
    assert err.where == "line 2"
    assert "CSV" in err.problem


def test_a_missing_file(tmp_path):
    with pytest.raises(InputError) as caught:
        channels.read_file(tmp_path / "nope.csv", BOTH, PROGRAMS)
    assert caught.value.path == "nope.csv"
    assert "cannot read" in caught.value.problem


# --- property: CSV and JSON say the same ------------------------------------------------

channel_st = st.tuples(
    st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_ "),
            min_size=1, max_size=10).map(str.strip).filter(bool),
    st.sampled_from(["CMAPI", "SIP", "cmapi", "Sip"]),
    st.one_of(st.none(), st.integers(1, 65535)),
    st.one_of(st.none(), st.tuples(st.integers(1, 65535), st.integers(0, 300))),
).filter(lambda c: c[2] is not None or c[3] is not None)


@settings(max_examples=60, deadline=None)
@given(st.lists(channel_st, max_size=20))
def test_csv_and_json_exports_agree(tmp_path_factory, items):
    folder = tmp_path_factory.mktemp("channels")
    csv_lines = ["Channel,Recorder,ControlPort,MediaPort"]
    records = []
    expected = []
    for name, recorder, control, media in items:
        media_text = ""
        if media:
            first, extra = media
            last = min(65535, first + extra)
            media_text = f"{first}-{last}" if extra else str(first)
        csv_lines.append(f"{name},{recorder},{control or ''},{media_text}")
        records.append({"Channel": name, "Recorder": recorder, "ControlPort": control,
                        "MediaPort": media_text})
        cid = CMAPI if recorder.lower() == "cmapi" else SIP
        if control:
            expected.append((cid, "TCP", ((control, control),), f"channel {name}"))
        if media:
            expected.append((cid, "UDP", ((media[0], min(65535, media[0] + media[1])),),
                             f"channel {name}"))
    from_csv = read(folder, "\n".join(csv_lines) + "\n")
    from_json = read(folder, json.dumps(records), "c.json")
    got_csv = [(e.component, e.protocol, e.ports, e.label) for e in from_csv.endpoints]
    got_json = [(e.component, e.protocol, e.ports, e.label) for e in from_json.endpoints]
    assert got_csv == got_json == expected
