"""`cefw collect`: everything cefw reads from a host, in one zip (docs/bundle.md).

The same inputs as `cefw plan` (live on Windows, or a copy and its exports): the
configuration files the readers open, a listing of the program files that decide what is
installed, the registry values in the view each program reads (with where each was
read), the channel export, and on a live Windows host the rules of the group
"Contact Expert" and the firewall's state. Export-CEHostBundle (the PowerShell module)
writes the same format on a host without Python.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from .. import __version__
from ..errors import InputError
from ..readers.context import DEFAULT_PROGRAM_DIR, HostContext, Inputs
from ..registry import Offline, RegValue, Source, _wow_path
from . import layout as L
from .verify import path_problem, verify_bytes

NOT_LIVE = ("collected offline (from a copy of the install folder and its exports): the "
            "firewall of the machine that collected it is not the host's")


class HostFacts(NamedTuple):
    name: str | None
    addresses: tuple[str, ...]


class Collected(NamedTuple):
    data: bytes  # the zip
    manifest: dict[str, Any]


def collect(inputs: Inputs, host: HostFacts, *,
            firewall: Callable[[Source], dict[str, Any]] | None = None,
            absent: str = NOT_LIVE, live: bool = False, registry: Source | None = None,
            now: datetime | None = None) -> Collected:
    """The bundle of the host `inputs` name. `firewall` reads the firewall.json document
    (live Windows only); `live`: the install folder is the running host's own;
    `registry`: the registry to read instead of the one the inputs name."""
    from ..plan.make import install_dir as locate
    from ..plan.make import registry_source
    from ..plan.site import load as load_site

    folder, found_by = locate(inputs)
    site_dir = load_site(inputs.site).program_dir if inputs.site else ""
    program_dir = inputs.program_dir or site_dir or (str(folder) if live else None)
    registry = registry if registry is not None else registry_source(inputs)
    ctx = HostContext(folder, program_dir or DEFAULT_PROGRAM_DIR, registry)
    members = {**config_members(ctx), L.PROGRAMS: listing_text(ctx),
               L.REGISTRY: registry_text(registry)}
    if inputs.channels is not None:
        members.update(channel_member(inputs.channels))
    fw_doc = firewall(registry) if firewall is not None else None
    if fw_doc is not None:
        members[L.FIREWALL] = _json(fw_doc)
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    manifest = {
        "format": L.FORMAT,
        "created_by": {"tool": "cefw", "version": __version__},
        "collected": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": {"name": _clean(host.name) if host.name else None,
                 "addresses": list(host.addresses)},
        "program_dir": _clean(program_dir) if program_dir else None,
        "collected_from": {"install_dir": _clean(str(folder)), "found_by": _clean(found_by),
                           "registry": _clean(registry.description),
                           "channels": inputs.channels.name if inputs.channels else None},
        "firewall": ({"member": L.FIREWALL, "read_with": fw_doc.pop("read_with", None)
                      or _read_with(), "absent": None} if fw_doc is not None
                     else {"member": None, "read_with": None, "absent": absent}),
        "members": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                    for name, data in sorted(members.items())},
    }
    data = write_zip(_json(manifest), members, when)
    verify_bytes(data, "the bundle being written")  # never write one cefw would refuse
    return Collected(data, manifest)


def _read_with() -> str:
    from ..platforms.windows.recorded import READ_WITH

    return READ_WITH


def _json(doc: object) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _clean(text: str) -> str:
    """One printable line (a manifest string is shown in messages)."""
    return "".join(c if c.isprintable() else "?" for c in text)


# -- members ----------------------------------------------------------------------------

def _read(path: Path, shown: str, limit: int, *, head: int | None = None) -> bytes:
    try:
        size = path.stat().st_size
        if head is None and size > limit:
            raise InputError(shown, "", f"the file is {size:,} bytes; a bundle holds files "
                             f"of at most {limit:,}", "check that this is the CE file "
                             "(it is far larger than any CE configuration)")
        with path.open("rb") as handle:
            return handle.read(head if head is not None else limit)
    except OSError as exc:
        raise InputError(shown, "", f"cannot read the file ({exc.strerror})",
                         "run cefw collect with rights to read the CE install folder") from None


def config_members(ctx: HostContext) -> dict[str, bytes]:
    """The configuration files the readers open, by member name (real case)."""
    out: dict[str, bytes] = {}
    for relative in L.CONFIG_FILES:
        path = ctx.find(relative)
        if path is None or not path.is_file():
            continue
        shown = ctx.display(path)
        out[L.member_of(shown)] = _read(path, shown, L.MAX_MEMBER_SIZE,
                                        head=L.HEAD_ONLY.get(relative))
    jar = ctx.find(L.JAR_FILE)
    if jar is not None and jar.is_file():
        entry = _jar_entry(jar)
        if entry is not None:
            out[L.JAR + ctx.display(jar).replace("\\", "/") + "/" + L.JAR_ENTRY] = entry
    return out


def _jar_entry(jar: Path) -> bytes | None:
    """ServerInfo.properties out of catalina.jar; None when the jar cannot say (the
    reader then falls back to RELEASE-NOTES, with or without the bundle alike)."""
    try:
        with zipfile.ZipFile(jar) as archive:
            info = archive.getinfo(L.JAR_ENTRY)
            if info.file_size > L.MAX_JAR_ENTRY:
                return None
            with archive.open(info) as handle:
                return handle.read(L.MAX_JAR_ENTRY + 1)[:L.MAX_JAR_ENTRY]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RuntimeError, EOFError):
        return None


def listing(ctx: HostContext) -> list[str]:
    """programs.txt: every *.exe under the install folder (symbolic links to folders not
    followed), and every entry directly in Tomcat\\webapps (folders end in '\\')."""
    root = ctx.install_dir
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        base = Path(folder).relative_to(root).parts
        found += ["\\".join((*base, f)) for f in files if f.lower().endswith(L.PROGRAM_SUFFIX)]
    webapps = ctx.find(L.WEBAPPS)
    if webapps is not None and webapps.is_dir():
        shown = ctx.display(webapps)
        for entry in sorted(os.listdir(webapps)):
            folder = (webapps / entry).is_dir()
            if not folder and entry.lower().endswith(L.PROGRAM_SUFFIX):
                continue  # listed above
            found.append(f"{shown}\\{entry}" + ("\\" if folder else ""))
    kept: dict[str, str] = {}
    for path in sorted(found):  # a copy on Linux may hold A.exe and a.exe: keep the first,
        kept.setdefault(path.casefold(), path)  # as HostContext does
    for path in kept.values():
        problem = path_problem(path.removesuffix("\\"), "\\")
        if problem:
            raise InputError(path, "", f"cannot be recorded in a bundle: {problem}",
                             "rename the file (Windows could not hold this name)")
    return sorted(kept.values(), key=str.casefold)


def listing_text(ctx: HostContext) -> bytes:
    return "".join(f"{line}\r\n" for line in listing(ctx)).encode("utf-8")


def channel_member(path: Path) -> dict[str, bytes]:
    problem = path_problem(path.name, "/")
    if problem:
        raise InputError(str(path), "", f"the file name cannot go into a bundle: {problem}",
                         "copy the export to a plain name such as channels.csv")
    return {L.CHANNELS + path.name: _read(path, str(path), L.MAX_MEMBER_SIZE)}


# -- the registry ---------------------------------------------------------------------------

def view_values(source: Source, key: str, view: int) -> dict[str, RegValue]:
    """Every value of `key` as a program of `view` bits sees it."""
    if isinstance(source, Offline):
        names: dict[str, str] = {}
        for raw in (key, _wow_path(key)):
            for name in source.values(raw):
                names.setdefault(name.lower(), name)
        found = {name: source.lookup(key, name, view).value for name in names.values()}
        return {n: v for n, v in found.items() if v is not None}
    listed = getattr(source, "values", None)
    if listed is None:
        return {}
    try:
        return listed(key, view)  # type: ignore[no-any-return]  # the live registry
    except TypeError:
        return listed(key) if view == 64 else {}  # type: ignore[no-any-return]


def registry_text(source: Source) -> bytes:
    """registry.reg: the TAO and GeoCampaign keys in both views (32-bit under
    WOW6432Node), the Group Policy firewall keys; a cefw-origin comment before each
    value."""
    from ..registry.regwrite import encode, reg_text

    both, policy = L.registry_keys()
    sections: list[tuple[str, list[tuple[str, RegValue, list[str]]]]] = []
    for key in both:
        for view, raw_key in ((32, _wow_path(key)), (64, key)):
            sections.append((raw_key, _with_origins(raw_key, view_values(source, key, view))))
    for key in policy:
        sections.append((key, _with_origins(key, view_values(source, key, 64))))
    return encode(reg_text(sections, comments=[
        "cefw bundle: the registry values cefw reads, each in the view its program reads:",
        "the 32-bit view under WOW6432Node, the 64-bit view under the plain path.",
        f"read from: {_clean(source.description)}"]))


def _with_origins(raw_key: str, values: dict[str, RegValue],
                  ) -> list[tuple[str, RegValue, list[str]]]:
    out = []
    for name in sorted(values, key=str.lower):
        if not name.isprintable():
            continue  # a name with a line break or control character cannot stand in a .reg
        value = values[name]
        origin = {"key": raw_key, "value": name, "path": _clean(value.origin.path),
                  "where": _clean(value.origin.where)}
        out.append((name, value, [L.ORIGIN_COMMENT + json.dumps(origin)]))
    return out


# -- the zip ----------------------------------------------------------------------------------

def write_zip(manifest: bytes, members: dict[str, bytes], when: datetime) -> bytes:
    """The manifest first, then the members by name; every entry a plain file, deflated,
    dated `when` (a bundle of the same host at the same time is the same bytes)."""
    buffer = io.BytesIO()
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [(L.MANIFEST, manifest), *sorted(members.items())]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def this_host() -> HostFacts:
    """This machine's name and addresses (loopback and link-local left out)."""
    import ipaddress
    import socket

    name = socket.gethostname()
    found: set[str] = set()
    try:
        for *_rest, sockaddr in socket.getaddrinfo(name, None):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if not (address.is_loopback or address.is_link_local or address.is_unspecified):
                found.add(str(address))
    except (OSError, ValueError):
        pass
    return HostFacts(name, tuple(sorted(found, key=lambda a: (":" in a, a))))
