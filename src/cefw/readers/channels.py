"""Recording channels (docs/ce-formats.md, "Recording channels"): an export of CE Web
Admin > Recording > Channels, as CSV with a header or the same records as JSON.

    Channel,Recorder,ControlPort,MediaPort
    Avaya-1,CMAPI,7001,40000-40099

ControlPort is TCP, MediaPort UDP (a port or a range). Either may be blank when the
channel does not use it, not both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .. import catalog
from ..errors import InputError
from ..findings import finding
from ..model import Endpoint, Finding, Origin
from ..ports import PortSyntaxError, parse_range
from .context import HostContext, Inputs, Reading

RECORDERS = {"cmapi": "TelephonyRecorder.CMAPI", "sip": "TelephonyRecorder.SIP"}
FIELDS = ("channel", "recorder", "controlport", "mediaport")
FIX = ("export the channels again (CSV header: Channel,Recorder,ControlPort,MediaPort; "
       "Recorder CMAPI or SIP; ports 1-65535, MediaPort may be a range like 40000-40099)")

Record = tuple[str, dict[str, str]]  # (place, fields by normalised name)


def read(ctx: HostContext, inputs: Inputs) -> Reading:
    """The channels of the export given with --channels; without one, a finding for each
    installed CMAPI/SIP recorder, whose ports are then unknown."""
    if inputs.channels is None:
        return Reading([], [finding(
            "channels-missing", cid,
            f"{cid} is installed but no recording channel export was given: its Control "
            "(TCP) and Media (UDP) ports are unknown and get no rule. Export Recording > "
            "Channels from CE Web Admin and pass it with --channels FILE.")
            for cid in RECORDERS.values() if ctx.has(cid)])
    programs = {cid: ctx.program(catalog.BY_ID[cid].program) for cid in RECORDERS.values()}
    return read_file(inputs.channels, ctx.installed(), programs)


def read_file(path: Path, installed: tuple[str, ...], program_of: dict[str, str]) -> Reading:
    """`program_of` maps a recorder component id to its program's Windows path."""
    shown = path.name
    endpoints: list[Endpoint] = []
    missing: dict[str, int] = {}
    for place, record in _records(path, shown):
        cid = _recorder(record, shown, place)
        if cid not in installed:
            missing[cid] = missing.get(cid, 0) + 1
            continue
        endpoints += _channel_endpoints(record, cid, program_of[cid], shown, place)
    findings: list[Finding] = [
        finding("channel-recorder-missing", cid,
                f"{count} channel(s) in {shown} belong to {cid}, which is not installed on "
                "this host: no rule for them. Run cefw on the recorder host, or pass that "
                "host's channels only.")
        for cid, count in missing.items()
    ]
    return Reading(endpoints, findings)


def _recorder(record: dict[str, str], shown: str, place: str) -> str:
    raw = record.get("recorder", "").strip()
    key = raw.lower().removeprefix("telephonyrecorder.")
    if key not in RECORDERS:
        raise InputError(shown, f"{place}, Recorder", f"{raw!r} is not a recorder "
                         "(expected CMAPI or SIP)", FIX)
    return RECORDERS[key]


def _channel_endpoints(record: dict[str, str], cid: str, program: str, shown: str,
                       place: str) -> list[Endpoint]:
    name = record.get("channel", "").strip()
    sources = catalog.BY_ID[cid].sources
    out = []
    for field, protocol in (("controlport", "TCP"), ("mediaport", "UDP")):
        text = record.get(field, "").strip()
        if not text:
            continue
        try:
            ports = parse_range(text)
        except PortSyntaxError as exc:
            raise InputError(shown, f"{place}, {_title(field)}", str(exc), FIX) from None
        origin = Origin("channels", shown, f"{place}, channel {name!r}, {_title(field)}")
        out.append(Endpoint(cid, protocol, (ports,), program, sources, origin,
                            label=f"channel {name}"))
    if not out:
        raise InputError(shown, place, f"channel {name!r} has neither a ControlPort nor a "
                         "MediaPort", FIX)
    return out


def _title(field: str) -> str:
    return {"controlport": "ControlPort", "mediaport": "MediaPort"}[field]


def _norm(key: str) -> str:
    return "".join(key.split()).replace("_", "").lower()


def _records(path: Path, shown: str) -> Iterator[Record]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(shown, "", f"cannot read the file ({exc.strerror})",
                         "check the --channels path") from None
    try:
        text = data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else \
            data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1  # exact for UTF-8, the usual case
        raise InputError(shown, f"line {line}", f"not UTF-8 or UTF-16 text ({exc.reason})",
                         "save the export as UTF-8; " + FIX) from None
    if text.lstrip()[:1] in ("[", "{"):
        return _json_records(text, shown)
    return _csv_records(text, shown)


def _csv_records(text: str, shown: str) -> Iterator[Record]:
    import csv

    reader = csv.reader(text.splitlines())
    try:
        yield from _csv_rows(reader, shown)
    except csv.Error as exc:  # a field past the csv module's size limit, a stray quote
        raise InputError(shown, f"line {reader.line_num}", f"not a readable CSV row ({exc})",
                         FIX) from None


def _csv_rows(reader, shown: str) -> Iterator[Record]:  # type: ignore[no-untyped-def]
    header = next(reader, None)
    names = [_norm(h) for h in header] if header else []
    absent = [f for f in ("recorder",) if f not in names]
    if not header or absent or not ({"controlport", "mediaport"} & set(names)):
        raise InputError(shown, "line 1", "the header must name Channel, Recorder, "
                         "ControlPort and MediaPort", FIX)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            raise InputError(shown, f"line {reader.line_num}", f"{len(row)} fields for a "
                             f"header of {len(names)} (a comma inside a name needs quotes)",
                             FIX)
        yield f"line {reader.line_num}", dict(zip(names, row, strict=False))


def _json_records(text: str, shown: str) -> Iterator[Record]:
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(shown, f"line {exc.lineno}, column {exc.colno}",
                         f"not valid JSON ({exc.msg})", FIX) from None
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, [[[[...]]]] nesting
        raise InputError(shown, "", f"not a usable JSON document ({exc})", FIX) from None
    if isinstance(data, dict):
        data = next((v for k, v in data.items() if _norm(k) == "channels"), None)
    if not isinstance(data, list):
        raise InputError(shown, "", "expected a list of channels (or {\"channels\": [...]})",
                         FIX)
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(shown, f"channels[{index}]", "each channel must be an object",
                             FIX)
        yield f"channels[{index}]", {_norm(k): "" if v is None else str(v)
                                     for k, v in item.items()}
