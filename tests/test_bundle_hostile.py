"""A bundle is untrusted input. Every way a zip can attack its reader is refused with
exit 2 and a message naming the member, before anything is expanded or written: the
zips here are made by hand (crafted ZipInfo, raw byte patches)."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from cefw.bundle import layout as L
from cefw.cli import main

SERVER_XML = "install/Tomcat/conf/server.xml"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, bytes]]:
    """(manifest, members) of a real bundle of the core-host example."""
    path = tmp_path_factory.mktemp("good") / "core.zip"
    assert main(["collect", "--example", "core-host", "-o", str(path)], out=io.StringIO()) == 0
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(L.MANIFEST))
        members = {n: archive.read(n) for n in archive.namelist() if n != L.MANIFEST}
    return manifest, members


@pytest.fixture(autouse=True)
def nothing_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused bundle never reaches the expansion: its temporary folder is never made."""
    def refuse(**_: object) -> str:
        raise AssertionError("a refused bundle must not be expanded")
    monkeypatch.setattr("cefw.bundle.expand.tempfile.mkdtemp", refuse)


Entry = tuple[str | zipfile.ZipInfo, bytes]


def build(good: tuple[dict, dict[str, bytes]], entries: list[Entry] | None = None, *,
          manifest: dict | bytes | None = None, extra: list[Entry] = (),
          drop: tuple[str, ...] = ()) -> bytes:
    """A zip of `entries` (default: the good members, minus `drop`, plus `extra`) with a
    manifest that lists exactly them, correctly hashed, unless `manifest` is given."""
    base, members = good
    if entries is None:
        entries = [(n, d) for n, d in members.items() if n not in drop] + list(extra)
    if manifest is None:
        manifest = copy.deepcopy(base)
        manifest["members"] = {}
        for item, data in entries:
            name = item.filename if isinstance(item, zipfile.ZipInfo) else item
            manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                         "size": len(data)}
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names: we mean them
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(L.MANIFEST, raw)
            for item, data in entries:
                archive.writestr(item, data)
    return buffer.getvalue()


def refused(tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str],
            *expected: str) -> str:
    path = tmp_path / "bad.cefw.zip"
    path.write_bytes(data)
    out = io.StringIO()
    assert main(["plan", "--bundle", str(path)], out=out) == 2
    err = capsys.readouterr().err
    assert out.getvalue() == "" and "Traceback" not in err
    for text in expected:
        assert text in err, (text, err)
    return err


def patch_central(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """Set a field of `name`'s central directory header (offset from its signature)."""
    at = 0
    while True:
        at = data.index(b"PK\x01\x02", at)
        name_len = struct.unpack("<H", data[at + 28:at + 30])[0]
        if data[at + 46:at + 46 + name_len] == name.encode():
            break
        at += 4
    size = struct.calcsize(fmt)
    return data[:at + offset] + struct.pack(fmt, value) + data[at + offset + size:]


def patch_local(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    at = 0
    while True:
        at = data.index(b"PK\x03\x04", at)
        name_len = struct.unpack("<H", data[at + 26:at + 28])[0]
        if data[at + 30:at + 30 + name_len] == name.encode():
            break
        at += 4
    size = struct.calcsize(fmt)
    return data[:at + offset] + struct.pack(fmt, value) + data[at + offset + size:]


def info(name: str, *, mode: int | None = None, system: int = 3, attr: int = 0,
         method: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    item = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    item.create_system = system
    item.compress_type = method
    item.external_attr = ((mode if mode is not None else stat.S_IFREG | 0o644) << 16) | attr
    return item


# -- the good bundle is accepted -------------------------------------------------------------

def test_the_rebuilt_good_bundle_is_accepted(good, tmp_path: Path) -> None:
    path = tmp_path / "ok.zip"
    path.write_bytes(build(good))
    import cefw.bundle.verify as verify

    assert verify.verify_file(path).manifest["format"] == L.FORMAT


# -- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "why"), [
    ("install/../../etc/passwd", "path traversal"),
    ("../outside.txt", "path traversal"),
    ("/etc/cron.d/evil", "absolute path"),
    ("C:/Windows/evil.exe", "absolute path"),
    ("c:evil", "absolute path"),
    ("install\\..\\..\\evil", "a path separator"),
    ("install/Tomcat/conf/server.xml.", "ends in '.'"),
    ("install/Tomcat/conf/server.xml ", "ends in '.' or ' '"),
    ("install/Tomcat/CON.xml", "reserved device name"),
    ("install/Tomcat/conf/a:stream", "does not allow"),
    ("install//Tomcat/conf/server.xml", "empty or '.' part"),
    ("./manifest2.json", "empty or '.' part"),
    ("install/Tomcat/conf/\u202eserver.xml", "control character"),
    ("install/", "is a folder"),
    ("x" * 600, "longer than 512"),
])
def test_unsafe_names_are_refused(good, tmp_path: Path, capsys, name: str, why: str) -> None:
    refused(tmp_path, build(good, extra=[(name, b"x")]), capsys, repr(name)[:40], why)


def test_a_nul_in_a_name_is_refused(good, tmp_path: Path, capsys) -> None:
    data = build(good, extra=[("install/Tomcat/conf/AAAA", b"x")])
    data = data.replace(b"install/Tomcat/conf/AAAA", b"install/Tomcat/conf/A\x00.x")
    refused(tmp_path, data, capsys, "NUL character")


def test_a_non_ascii_name_not_marked_utf8_is_refused(good, tmp_path: Path, capsys) -> None:
    data = build(good, extra=[("install/Tomcat/conf/\u00e9.xml", b"x")])
    for fix in (patch_central, patch_local):
        flags_at = 8 if fix is patch_central else 6
        name = "install/Tomcat/conf/\u00e9.xml"
        data = fix(data, name, flags_at, "<H", 0)
    refused(tmp_path, data, capsys, "neither ASCII nor marked as UTF-8")


def test_unknown_members_are_refused(good, tmp_path: Path, capsys) -> None:
    refused(tmp_path, build(good, extra=[("evil.ps1", b"calc")]), capsys, "'evil.ps1'",
            "not a member of a cefw.bundle/1 bundle")
    refused(tmp_path, build(good, extra=[("install/Servers/X/X.exe", b"MZ")]), capsys,
            "not a configuration file cefw reads")
    refused(tmp_path, build(good, extra=[("channels/second.csv", b"x")]), capsys,
            "a second channel export")


# -- duplicates -----------------------------------------------------------------------------

def test_duplicate_names_are_refused(good, tmp_path: Path, capsys) -> None:
    refused(tmp_path, build(good, extra=[(SERVER_XML, b"<Server/>")]), capsys,
            repr(SERVER_XML), "occurs twice")


def test_names_differing_only_in_case_are_refused(good, tmp_path: Path, capsys) -> None:
    err = refused(tmp_path, build(good, extra=[(SERVER_XML.upper().replace("INSTALL/",
                                                                           "install/"),
                                                b"<Server/>")]), capsys, "occurs twice")
    assert "does not tell them apart" in err


# -- links and other non-files ----------------------------------------------------------------

def test_a_symbolic_link_is_refused(good, tmp_path: Path, capsys) -> None:
    link = info(SERVER_XML, mode=stat.S_IFLNK | 0o777)
    data = build(good, [(n, d) for n, d in good[1].items() if n != SERVER_XML]
                 + [(link, b"/etc/shadow")])
    refused(tmp_path, data, capsys, repr(SERVER_XML), "symbolic link")


@pytest.mark.parametrize(("mode", "system", "attr", "why"), [
    (stat.S_IFDIR | 0o755, 3, 0, "a folder"),
    (stat.S_IFIFO | 0o644, 3, 0, "special file"),
    (0, 0, 0x400, "reparse point"),
    (0, 0, 0x10, "a folder"),
])
def test_other_non_files_are_refused(good, tmp_path: Path, capsys, mode: int, system: int,
                                     attr: int, why: str) -> None:
    item = info(SERVER_XML, mode=mode, system=system, attr=attr)
    data = build(good, [(n, d) for n, d in good[1].items() if n != SERVER_XML]
                 + [(item, b"x")])
    refused(tmp_path, data, capsys, repr(SERVER_XML), why)


# -- zip bombs --------------------------------------------------------------------------------

def test_too_many_members_is_refused_before_the_directory_is_parsed(good, tmp_path: Path,
                                                                    capsys, monkeypatch) -> None:
    entries = [(f"channels/{i}.csv", b"") for i in range(L.MAX_MEMBERS + 5)]
    parsed = []
    monkeypatch.setattr("zipfile.ZipFile._RealGetContents",
                        lambda self: parsed.append(1))  # must not be reached
    refused(tmp_path, build(good, entries), capsys, f"holds {L.MAX_MEMBERS + 6:,} members")
    assert parsed == []


def test_a_member_declared_too_big_is_refused(good, tmp_path: Path, capsys) -> None:
    data = patch_central(build(good), SERVER_XML, 24, "<I", L.MAX_MEMBER_SIZE + 1)
    refused(tmp_path, data, capsys, repr(SERVER_XML), "bytes uncompressed; at most")


def test_a_total_too_big_is_refused(good, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(L, "MAX_TOTAL_SIZE", 10_000)
    refused(tmp_path, build(good), capsys, "add up to more than 10,000 bytes")


def test_a_high_compression_ratio_is_refused(good, tmp_path: Path, capsys) -> None:
    bomb = b"\0" * (2 * 1024 * 1024)
    data = build(good, [(n, d) for n, d in good[1].items() if n != SERVER_XML]
                 + [(SERVER_XML, bomb)])
    refused(tmp_path, data, capsys, repr(SERVER_XML), "inflates", "times")


def test_inflating_stops_at_the_first_byte_over_the_declared_size(good, tmp_path: Path,
                                                                  capsys, monkeypatch) -> None:
    """The directory says 100 bytes; the stream holds 512 kB of zeros (under the ratio
    floor, so only the actual inflation can tell): cefw stops after 101 bytes."""
    lie = b"\0" * (512 * 1024)
    manifest = copy.deepcopy(good[0])
    entries = [(n, d) for n, d in good[1].items() if n != SERVER_XML] + [(SERVER_XML, lie)]
    data = build(good, entries)
    data = patch_central(data, SERVER_XML, 24, "<I", 100)
    data = patch_local(data, SERVER_XML, 22, "<I", 100)
    # the manifest agrees with the lie, so only the inflation can catch it
    manifest["members"] = json.loads(zipfile.ZipFile(io.BytesIO(build(good, entries)))
                                     .read(L.MANIFEST))["members"]
    manifest["members"][SERVER_XML]["size"] = 100
    fixed = build(good, entries, manifest=manifest)
    fixed = patch_central(fixed, SERVER_XML, 24, "<I", 100)
    fixed = patch_local(fixed, SERVER_XML, 22, "<I", 100)
    produced: list[int] = []
    import zlib

    original = zlib.decompressobj

    class Spy:
        def __init__(self, *args: int) -> None:
            self.inner = original(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self.inner.decompress(data, max_length)
            produced.append(len(out))
            return out

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    monkeypatch.setattr("cefw.bundle.verify.zlib.decompressobj", Spy)
    refused(tmp_path, fixed, capsys, repr(SERVER_XML),
            "inflates to more than the 100 bytes it declares")
    assert sum(produced) <= 101 + 64 * 1024  # stopped: never the 512 kB
    assert sum(produced[-1:]) <= 101


def test_overlapping_members_are_refused(good, tmp_path: Path, capsys) -> None:
    data = build(good)
    first = zipfile.ZipFile(io.BytesIO(data)).getinfo(SERVER_XML).header_offset
    data = patch_central(data, "install/Tomcat/conf/catalina.properties", 42, "<I", first)
    refused(tmp_path, data, capsys, "overlaps another member")


# -- encryption, methods, damage ----------------------------------------------------------------

def test_an_encrypted_member_is_refused(good, tmp_path: Path, capsys) -> None:
    data = patch_central(build(good), SERVER_XML, 8, "<H", 0x1)
    refused(tmp_path, data, capsys, repr(SERVER_XML), "encrypted")


def test_another_compression_method_is_refused(good, tmp_path: Path, capsys) -> None:
    item = info(SERVER_XML, method=zipfile.ZIP_BZIP2)
    data = build(good, [(n, d) for n, d in good[1].items() if n != SERVER_XML]
                 + [(item, b"<Server/>")])
    refused(tmp_path, data, capsys, repr(SERVER_XML), "compression method 12")


def test_a_local_header_that_names_another_member_is_refused(good, tmp_path: Path,
                                                             capsys) -> None:
    data = build(good)
    at = data.index(SERVER_XML.encode())  # the first: the local header
    data = data[:at] + b"install/Tomcat/conf/SERVER.xml" + data[at + len(SERVER_XML):]
    refused(tmp_path, data, capsys, repr(SERVER_XML), "local header names another member")


def test_not_a_zip_and_a_truncated_zip(good, tmp_path: Path, capsys) -> None:
    refused(tmp_path, b"MZ this is a program, not a bundle", capsys, "not a zip file")
    data = build(good)
    refused(tmp_path, data[:len(data) // 2] + data[-22:], capsys)


def test_a_damaged_member_is_refused(good, tmp_path: Path, capsys) -> None:
    data = patch_central(build(good), SERVER_XML, 16, "<I", 0xDEADBEEF)  # its CRC-32
    refused(tmp_path, data, capsys, repr(SERVER_XML), "CRC-32 is wrong")


# -- the manifest ------------------------------------------------------------------------------

def test_a_missing_manifest_is_refused(good, tmp_path: Path, capsys) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in good[1].items():
            archive.writestr(name, data)
    refused(tmp_path, buffer.getvalue(), capsys, "'manifest.json'", "manifest is missing")


@pytest.mark.parametrize(("change", "why"), [
    (b"{not json", "not valid JSON"),
    (b"[]", "not a JSON object"),
    ({"format": "zip/1"}, "not a cefw bundle"),
    ({"format": "cefw.bundle/2"}, "format is cefw.bundle/2; this cefw reads cefw.bundle/1"),
    ({"host": "pc"}, "host must be an object"),
    ({"collected": "yesterday"}, "collected must be a UTC time"),
    ({"program_dir": "C:\\CE\nevil"}, "program_dir holds a control character"),
    ({"members": []}, "members must be an object"),
])
def test_a_bad_manifest_is_refused(good, tmp_path: Path, capsys, change: object,
                                   why: str) -> None:
    if isinstance(change, bytes):
        data = build(good, manifest=change)
    else:
        manifest = copy.deepcopy(good[0])
        manifest.update(change)  # type: ignore[arg-type]
        data = build(good, manifest=manifest)
    refused(tmp_path, data, capsys, "'manifest.json'", why)


def test_a_manifest_without_a_key_is_refused(good, tmp_path: Path, capsys) -> None:
    manifest = copy.deepcopy(good[0])
    del manifest["collected_from"]
    refused(tmp_path, build(good, manifest=manifest), capsys, "collected_from are missing")


def test_a_member_whose_hash_differs_is_refused(good, tmp_path: Path, capsys) -> None:
    """server.xml edited after collection (the same size, so only the hash tells)."""
    data = build(good, manifest=good[0], entries=[
        (n, d.replace(b"8009", b"8010") if n == SERVER_XML else d) for n, d in good[1].items()])
    refused(tmp_path, data, capsys, repr(SERVER_XML), "SHA-256 differs")


def test_members_and_manifest_must_agree(good, tmp_path: Path, capsys) -> None:
    extra = "install/Servers/AgentClientApp.Net/AgentClientApp.config.xml"
    refused(tmp_path, build(good, manifest=good[0], entries=[
        *good[1].items(), (extra, b"<configuration/>")]), capsys,
            repr(extra), "not in the manifest")
    refused(tmp_path, build(good, manifest=good[0], entries=[
        (n, d) for n, d in good[1].items() if n != SERVER_XML]), capsys, repr(SERVER_XML),
        "manifest lists this member but the zip does not hold it")
    refused(tmp_path, build(good, drop=(L.REGISTRY,)), capsys, "'registry.reg'",
            "required member is missing")


# -- the format's own members --------------------------------------------------------------------

@pytest.mark.parametrize(("line", "why"), [
    ("..\\..\\Windows\\evil.exe", "path traversal"),
    ("C:\\Windows\\evil.exe", "absolute path"),
    ("Servers/X/x.exe", "a path separator"),
    ("Servers\\X\\readme.txt", "neither a program"),
    ("Servers\\DialerServer\\DIALERSERVER.exe", "lists a path twice"),
    ("Tomcat\\conf\\server.xml\\a.exe", "it is a file, but programs.txt"),
])
def test_a_bad_listing_is_refused(good, tmp_path: Path, capsys, line: str, why: str) -> None:
    listing = good[1][L.PROGRAMS] + line.encode() + b"\r\n"
    data = build(good, [(n, listing if n == L.PROGRAMS else d) for n, d in good[1].items()])
    refused(tmp_path, data, capsys, why)


def test_a_bad_registry_member_is_refused(good, tmp_path: Path, capsys) -> None:
    bad = b"\xff\xfe" + "Windows Registry Editor Version 5.00\r\n\r\n[HKLM\\SOFTWARE\\X]\r\n" \
        '"a"=dword:nothex\r\n'.encode("utf-16-le")
    data = build(good, [(n, bad if n == L.REGISTRY else d) for n, d in good[1].items()])
    refused(tmp_path, data, capsys, "registry.reg in bundle bad.cefw.zip: line 4",
            "not a DWORD")
    origin = b"\xff\xfe" + ("Windows Registry Editor Version 5.00\r\n"
                            "; cefw-origin {\"key\": 1}\r\n").encode("utf-16-le")
    data = build(good, [(n, origin if n == L.REGISTRY else d) for n, d in good[1].items()])
    refused(tmp_path, data, capsys, "cefw-origin comment cannot be read")


@pytest.mark.parametrize(("doc", "why"), [
    ("not json", "not valid JSON"),
    ({"group": "Other", "rules": [], "profiles": {}, "active_profiles": []}, "records the group"),
    ({"group": "Contact Expert", "rules": [{"Name": 1}], "profiles": {},
      "active_profiles": []}, "missing"),
])
def test_a_bad_firewall_record_is_refused(good, tmp_path: Path, capsys, doc: object,
                                          why: str) -> None:
    raw = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    manifest = copy.deepcopy(good[0])
    manifest["firewall"] = {"member": L.FIREWALL, "read_with": "x", "absent": None}
    entries = [*good[1].items(), (L.FIREWALL, raw)]
    manifest["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                           for n, d in entries}
    refused(tmp_path, build(good, entries, manifest=manifest), capsys, "firewall.json", why)
