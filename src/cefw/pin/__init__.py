"""`cefw pin`: give components that pick their port at run time a static one, so their
firewall rule can name a port (the vendor page: "change these to static ports if and when
required").

Only ports kept in ServerAgent.Config.xml are written (pin/serveragent.py). The others
are said, not changed: the Naming Service's options live in the registry, which cefw
does not write; Tomcat's web applications StatisticsServer and AgentObjects have no
documented setting for their ports.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .. import catalog
from ..errors import CefwError
from ..formats.xmledit import Document
from ..model import Endpoint, Plan, PortRange
from ..readers.context import HostContext
from ..readers.serveragent import FIX
from ..record import Record
from . import choose, serveragent
from .replace import Snapshot, replace_file

WEB_APPS = {app.lower(): app for app in catalog.TOMCAT_DYNAMIC_APPS}

WEB_APP_NOTE = ("{app} is a Tomcat web application that selects its TCP ports at run time "
                "(vendor page, note to Web Service); neither the vendor nor Tomcat documents "
                "a setting to fix them, so cefw cannot pin it. Its rule stays "
                "CE-WebService-TCP-dynamic: bound to the Tomcat program and limited to the "
                "site's zones.")

NAMING_NOTE = ("the Naming Service's port is in the registry value HKLM\\SOFTWARE\\ACE\\TAO\\"
               "TaoNamingServiceOptions (32-bit view), which cefw does not write. Set it "
               "yourself, e.g. reg add HKLM\\SOFTWARE\\ACE\\TAO /v TaoNamingServiceOptions "
               "/t REG_EXPAND_SZ /d \"-ORBListenEndpoints iiop://:{port}\" /f /reg:32 "
               "(keep any other options the value holds), then restart the Naming Service.")

TOMCAT_NOTE = ("WebService's ports are Tomcat connectors: give the <Connector> a fixed port "
               "in Tomcat\\conf\\server.xml and restart the Tomcat service; cefw does not "
               "edit server.xml.")

SERVICE_HINT = ("the vendor page names no Windows service; it is the one that runs "
                "Services\\ServerAgent\\ServerAgent.exe: Get-CimInstance Win32_Service | "
                "Where-Object PathName -like '*\\ServerAgent.exe*' | Select-Object Name")


class Target(Record):
    component: str
    now: str  # "dynamic" or the static ports it has now


class Choice(Record):
    targets: list[Target]
    notes: list[str]  # what cannot be pinned here, and why


def select(plan: Plan, names: Sequence[str], *, repin: bool) -> Choice:
    """The components to pin: those named, else every dynamic one the plan has."""
    dynamic = [ep for ep in plan.endpoints if ep.dynamic and ep.needs_rule]
    if not names:
        targets, notes = [], []
        for ep in dynamic:
            note = _unpinnable(ep.component, ep)
            if note:
                notes.append(note)
            elif ep.component not in [t.component for t in targets]:
                targets.append(Target(ep.component, "dynamic"))
        return Choice(targets, notes)
    targets, notes = [], []
    for name in names:
        if name.lower() in WEB_APPS:
            raise CefwError(WEB_APP_NOTE.format(app=WEB_APPS[name.lower()]))
        component = catalog.by_name(name)
        if component is None:
            raise CefwError(f"{name!r} is not a CE component", "see `cefw components` for "
                            "their names, e.g. cefw pin AgentFactory EmailServer")
        if component.id not in plan.host.components:
            raise CefwError(f"{component.id} is not installed on this host",
                            "pin only the components `cefw plan` lists")
        note = _unpinnable(component.id, None)
        if note:
            raise CefwError(note)
        mine = [ep for ep in plan.endpoints if ep.component == component.id and ep.enabled]
        if any(ep.dynamic for ep in mine) or repin:
            now = "dynamic" if any(ep.dynamic for ep in mine) else _ports_of(mine)
            targets.append(Target(component.id, now))
        else:
            notes.append(f"{component.id} already listens on static TCP {_ports_of(mine)}: "
                         "nothing to pin (give --port N to move it)")
    return Choice(targets, notes)


def _ports_of(endpoints: list[Endpoint]) -> str:
    from ..ports import format_ports, merge

    return format_ports(merge(r for ep in endpoints if ep.protocol == "TCP" for r in ep.ports),
                        empty="(none)")


def _unpinnable(component: str, ep: Endpoint | None) -> str:
    if ep is not None and ep.label in catalog.TOMCAT_DYNAMIC_APPS:
        return WEB_APP_NOTE.format(app=ep.label)
    config = catalog.BY_ID[component].config
    if catalog.SERVERAGENT in config:
        return ""
    if catalog.NAMING in config:
        return f"{component}: " + NAMING_NOTE.format(port="<port>")
    if catalog.TOMCAT in config:
        return f"{component}: " + TOMCAT_NOTE
    where = ", ".join(config) or "nothing (it listens on no port)"
    return f"{component}: its ports are configured in {where}, not ServerAgent.Config.xml"


class Result(Record):
    path: Path
    diff: str
    edits: list[serveragent.Edit]
    warnings: list[str]
    backup: Path | None  # None on a dry run


def pin(plan: Plan, targets: list[Target], *, port: int | None, within: PortRange | None,
        style: str | None, dry_run: bool) -> Result:
    ctx = HostContext(Path(plan.host.install_dir), plan.host.program_dir)
    path = ctx.find(catalog.SERVERAGENT_CONFIG)
    if path is None or not path.is_file():
        raise CefwError(f"{catalog.SERVERAGENT_CONFIG} not found under "
                        f"{plan.host.install_dir}: nothing to pin",
                        "point --install-dir at the CE install folder")
    ports, warnings = choose.choose(len(targets), plan.endpoints, port=port, within=within)
    wanted = dict(zip((t.component for t in targets), ports, strict=True))

    seen = Snapshot.read(path)
    doc = Document(seen.data, ctx.display(path), FIX)  # hostile XML refused here
    edits = serveragent.pin(doc, ctx, wanted, style)
    serveragent.verify(doc, ctx, wanted)
    diff = unified_diff(doc, doc.shown.replace("\\", "/"))
    backup = None if dry_run else replace_file(path, seen, doc.render())
    return Result(path, diff, edits, warnings, backup)


def unified_diff(doc: Document, name: str) -> str:
    before = doc.text.splitlines(keepends=True)
    after = doc.edited_text().splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, f"a/{name}", f"b/{name}")
    # Line endings are kept in the file; in the diff each line ends in a plain newline.
    return "".join(line.rstrip("\r\n") + "\n" for line in lines)


def report(result: Result, notes: list[str], dry_run: bool, out: IO[str]) -> None:
    verb = "would pin" if dry_run else "pinned"
    out.write(f"cefw: {verb} in {result.path}:\n")
    for edit in result.edits:
        out.write(f"  {edit.component}: TCP {edit.port} (line {edit.line}: {edit.how})\n")
    for warning in result.warnings:
        out.write(f"  warning: {warning}\n")
    for note in notes:
        out.write(f"  not pinned: {note}\n")
    if result.backup:
        out.write(f"Backup of the previous file: {result.backup}\n")
    names = ", ".join(e.component for e in result.edits)
    then = "Then" if not dry_run else "After the change,"
    out.write(
        f"{then} restart the Server Agent service (it restarts {names}) so they listen on "
        f"their new ports ({SERVICE_HINT}).\n"
        "Then run `cefw add` with the same inputs: each CE-<component>-TCP-dynamic rule "
        "(any port) becomes CE-<component>-TCP on its pinned port.\n")


def report_json(result: Result | None, notes: list[str], dry_run: bool, out: IO[str]) -> int:
    """`cefw pin --json`: what was (or, with --dry-run, would be) pinned; `result` None
    when nothing could be."""
    from ..render.json import dumps

    edits = result.edits if result else []
    out.write(dumps({
        "schema": "cefw.pin/1",
        "dry_run": dry_run,
        "file": str(result.path) if result else None,
        "pinned": [{"component": e.component, "protocol": "TCP", "port": e.port,
                    "line": e.line, "how": e.how} for e in edits],
        "warnings": result.warnings if result else [],
        "not_pinned": notes,
        "backup": str(result.backup) if result and result.backup else None,
        "diff": result.diff if result else "",
    }))
    return 0
