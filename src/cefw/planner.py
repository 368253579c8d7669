"""From inputs to a Plan: locate the host, run every reader, apply the policy.

Data flows one way: readers -> endpoints -> policy -> rules; findings collect on the way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from . import catalog, policy
from .errors import InputError
from .findings import finding
from .host import DEFAULT_PROGRAM_DIR, HostContext, Reading, roles_of
from .model import SEVERITIES, Endpoint, Finding, Host, Plan
from .registry import NoRegistry, Offline, Source
from .site import NO_SITE, Site
from .site import load as load_site


class Inputs(NamedTuple):
    install_dir: Path | None = None
    program_dir: str | None = None
    registry: tuple[Path, ...] = ()
    hive: Path | None = None
    channels: Path | None = None
    site: Path | None = None
    found_by: str = "--install-dir"  # how install_dir was chosen, for the plan's header


def make_plan(inputs: Inputs) -> Plan:
    install_dir, found_by = _install_dir(inputs)
    site = load_site(inputs.site) if inputs.site else NO_SITE
    program_dir, notes = _program_dir(inputs, site, install_dir)
    ctx = HostContext(install_dir, program_dir, _registry(inputs))
    endpoints, findings = discover(ctx, inputs.channels)
    rules, rule_findings = policy.build(endpoints, site)
    findings = [*notes, *findings, *rule_findings]
    findings += policy.endpoint_findings(endpoints, findings)
    components = installed_components(ctx)
    host = Host(roles_of(components), str(install_dir), program_dir, found_by, components)
    return Plan(host, tuple(endpoints), tuple(rules), tuple(_sorted(findings)))


def discover(ctx: HostContext, channels: Path | None) -> tuple[list[Endpoint], list[Finding]]:
    """Every reader, in catalog order of the components they serve."""
    from .readers import agentclient, geocampaign, naming, serveragent, servermanager

    installed = ctx.installed()
    readings: list[Reading] = []
    if set(installed) & _served_by(catalog.SERVERAGENT):
        sa = serveragent.read(ctx)
        readings += [sa.reading, serveragent.defaults_for_unconfigured(ctx, sa, installed)]
    if "NamingService" in installed:
        readings.append(naming.read(ctx))
    readings.append(geocampaign.read(ctx))
    readings.append(_recordings(ctx, channels, installed))
    tomcat = tomcat_program(ctx)
    if tomcat:
        from .readers import tomcat as tomcat_reader

        readings.append(tomcat_reader.read(ctx, ctx.program(tomcat)))
    if "ServerManager" in installed:
        readings.append(servermanager.read(ctx))
    if "AgentClientApp" in installed:
        readings.append(agentclient.read(ctx))

    endpoints = [ep for r in readings for ep in r.endpoints]
    order = {c.id: i for i, c in enumerate(catalog.COMPONENTS)}
    endpoints.sort(key=lambda ep: order.get(ep.component, 999))  # stable: reader order kept
    return endpoints, [f for r in readings for f in r.findings]


def _served_by(source: str) -> set[str]:
    return {c.id for c in catalog.COMPONENTS if source in c.config}


def _recordings(ctx: HostContext, channels: Path | None, installed: tuple[str, ...]) -> Reading:
    recorders = [cid for cid in installed if catalog.CHANNELS in catalog.BY_ID[cid].config]
    if channels is None:
        return Reading([], [finding(
            "channels-missing", cid,
            f"{cid} is installed but no recording channel export was given: its Control "
            "(TCP) and Media (UDP) ports are unknown and get no rule. Export Recording > "
            "Channels from CE Web Admin and pass it with --channels FILE.")
            for cid in recorders])
    from .readers import channels as channels_reader

    programs = {cid: ctx.program(catalog.BY_ID[cid].program)
                for cid in ("TelephonyRecorder.CMAPI", "TelephonyRecorder.SIP")}
    return channels_reader.read(channels, installed, programs)


def tomcat_program(ctx: HostContext) -> str | None:
    """The Tomcat service program: the catalog's tomcat8.exe, or the tomcatN.exe of
    another Tomcat major release (not tomcatNw.exe, the tray monitor)."""
    web = catalog.BY_ID["WebService"]
    if ctx.exists(web.program):
        return web.program
    folder = ctx.find(r"Tomcat\bin")
    if folder is None or not folder.is_dir():
        return None
    for entry in sorted(folder.iterdir()):
        name = entry.name.lower()
        if name.startswith("tomcat") and name.endswith(".exe") and name[6:-4].isdigit():
            return f"Tomcat\\bin\\{entry.name}"
    return None


def installed_components(ctx: HostContext) -> tuple[str, ...]:
    found = set(ctx.installed())
    if tomcat_program(ctx):
        found.add("WebService")
    return tuple(c.id for c in catalog.COMPONENTS if c.id in found)


def _sorted(findings: list[Finding]) -> list[Finding]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: rank[f.severity])  # stable within a severity


def _registry(inputs: Inputs) -> Source:
    if inputs.registry or inputs.hive:
        sources = []
        if inputs.hive:
            from .readers.hive import load_hive

            sources.append(load_hive(inputs.hive))
        from .readers.regfile import load_reg

        sources += [load_reg(p) for p in inputs.registry]
        return Offline(sources)
    if sys.platform == "win32":
        from .readers.winlive import LiveRegistry

        return LiveRegistry()
    return NoRegistry()


def _program_dir(inputs: Inputs, site: Site, install_dir: Path) -> tuple[str, list[Finding]]:
    if inputs.program_dir:
        return inputs.program_dir, []
    if site.program_dir:
        return site.program_dir, []
    if sys.platform == "win32":
        return str(install_dir), []
    return DEFAULT_PROGRAM_DIR, [finding(
        "program-dir-assumed", "",
        f"the rules bind programs under {DEFAULT_PROGRAM_DIR}, the vendor's default install "
        f"directory, because {install_dir} is a copy. If CE lives elsewhere on the Windows "
        "host, pass --program-dir or set [host] program_dir in the site file.")]


def _install_dir(inputs: Inputs) -> tuple[Path, str]:
    if inputs.install_dir is not None:
        path = inputs.install_dir
        if not path.is_dir():
            what = "does not exist" if not path.exists() else "is not a folder"
            raise InputError(str(path), "", f"the install directory {what}",
                             "pass --install-dir with the CE install folder (the one that "
                             "holds Servers, Services and Tomcat), or a copy of it")
        return path, inputs.found_by
    if sys.platform == "win32":
        from .locate import find_install_dir

        return find_install_dir()
    raise InputError("", "", "no install directory: on this system cefw cannot look for CE "
                     "itself", "pass --install-dir DIR (a copy of the CE install folder), "
                     "or try the bundled example: cefw plan --example core-host")
