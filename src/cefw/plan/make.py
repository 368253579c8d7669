"""From inputs to a Plan: locate the host, run every reader, apply the policy.

Data flows one way: readers -> endpoints -> policy -> rules; findings collect on the way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import catalog
from ..errors import InputError
from ..findings import finding
from ..model import SEVERITIES, Finding, Host, Plan
from ..readers import discover
from ..readers.context import DEFAULT_PROGRAM_DIR, HostContext, Inputs, roles_of
from ..registry import NoRegistry, Offline, Source
from . import policy
from .site import NO_SITE, Site
from .site import load as load_site

__all__ = ["Inputs", "make_plan"]


def make_plan(inputs: Inputs) -> Plan:
    install_dir, found_by = _install_dir(inputs)
    site = load_site(inputs.site) if inputs.site else NO_SITE
    program_dir, notes = _program_dir(inputs, site, install_dir)
    ctx = HostContext(install_dir, program_dir, registry_source(inputs))
    _refuse_configuration_only(ctx)
    endpoints, findings = discover(ctx, inputs)
    rules, rule_findings = policy.build(endpoints, site)
    findings = [*notes, *findings, *rule_findings, *policy.endpoint_findings(endpoints)]
    components = ctx.installed()
    shown = getattr(inputs.bundle, "install_dir", None) or str(install_dir)
    host = Host(roles_of(components), shown, program_dir, found_by, components)
    return Plan(host, tuple(endpoints), tuple(rules), tuple(_sorted(findings)))


CONFIGURATION = (catalog.SERVERAGENT_CONFIG, r"Tomcat\conf\server.xml",
                 catalog.SERVERMANAGER_CONFIG, catalog.AGENTCLIENT_CONFIG)


def _refuse_configuration_only(ctx: HostContext) -> None:
    """A copy with CE's configuration but none of its program files would plan no rule
    (components are found by their program files: the configuration lists servers that
    are not installed, e.g. the vendor's default ServerAgent.Config.xml): refuse it and
    say what to copy, rather than plan nothing quietly."""
    if ctx.installed():
        return
    found = [c for c in CONFIGURATION if ctx.exists(c)]
    if found:
        example = catalog.BY_ID["DialerServer"].program
        raise InputError(
            str(ctx.install_dir), "",
            f"CE configuration found ({', '.join(found)}) but no CE program file: cefw "
            f"finds components by their program files ({example}, ...), so this copy "
            "would plan no rule",
            "copy the program files too (the whole install folder), or at least each "
            "component's .exe at its place (an empty file of that name is enough: cefw "
            "only checks that it exists; `cefw components` lists them)")


def _sorted(findings: list[Finding]) -> list[Finding]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: rank[f.severity])  # stable within a severity


def registry_source(inputs: Inputs) -> Source:
    """The registry the inputs name: a bundle's, hive and .reg files, else the live one on
    Windows."""
    if inputs.bundle is not None:
        return inputs.bundle.registry()  # type: ignore[attr-defined, no-any-return]
    if inputs.registry or inputs.hive:
        sources = []
        if inputs.hive:
            from ..registry.hive import load_hive

            sources.append(load_hive(inputs.hive))
        from ..registry.regfile import load_reg

        sources += [load_reg(p) for p in inputs.registry]
        return Offline(sources)
    if sys.platform == "win32":
        from ..registry.live import LiveRegistry

        return LiveRegistry()
    return NoRegistry()


def _program_dir(inputs: Inputs, site: Site, install_dir: Path) -> tuple[str, list[Finding]]:
    if inputs.program_dir:
        return _windows_dir(inputs.program_dir, "--program-dir", ""), []
    if site.program_dir:
        return _windows_dir(site.program_dir, site.path, "[host] program_dir"), []
    if sys.platform == "win32":
        return str(install_dir), []
    return DEFAULT_PROGRAM_DIR, [finding(
        "program-dir-assumed", "",
        f"the rules bind programs under {DEFAULT_PROGRAM_DIR}, the vendor's default install "
        f"directory, because {install_dir} is a copy. If CE lives elsewhere on the Windows "
        "host, pass --program-dir or set [host] program_dir in the site file.")]


def _windows_dir(value: str, path: str, where: str) -> str:
    """Rules name programs by their full Windows path: the folder must be one (a drive
    or a UNC share), or every rule would name a program Windows never runs."""
    import re

    if not re.match(r"^([A-Za-z]:[\\/]|\\\\[^\\]+\\[^\\]+)", value):
        raise InputError(path, where, f"{value!r} is not an absolute Windows path",
                         "give the folder CE is installed in on the Windows host, e.g. "
                         "'C:\\Program Files (x86)\\Geomant\\Contact Expert' or 'D:\\CE'")
    return value


def install_dir(inputs: Inputs) -> tuple[Path, str]:
    """The install folder the inputs name (or, on Windows, the one found), and how."""
    return _install_dir(inputs)


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
        from ..platforms.windows.locate import find_install_dir

        return find_install_dir()
    raise InputError("", "", "no install directory: on this system cefw cannot look for CE "
                     "itself", "pass --install-dir DIR (a copy of the CE install folder), "
                     "or try the bundled example: cefw plan --example core-host")
