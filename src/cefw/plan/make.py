"""From inputs to a Plan: locate the host, run every reader, apply the policy.

Data flows one way: readers -> endpoints -> policy -> rules; findings collect on the way.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    with _collector_paused():
        return _make_plan(inputs)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while planning, back as it was after. A plan is
    tuples and strings that reference counting frees; collection passes over the growing
    heap find nothing to free and made a large plan's cost grow faster than its size
    (200,000 channels: twice the time per channel of 2,000; bench/bench_plan.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _make_plan(inputs: Inputs) -> Plan:
    install_dir, found_by = _install_dir(inputs)
    site = load_site(inputs.site) if inputs.site else NO_SITE
    program_dir, notes = _program_dir(inputs, site, install_dir)
    ctx = HostContext(install_dir, program_dir, _registry(inputs))
    endpoints, findings = discover(ctx, inputs)
    rules, rule_findings = policy.build(endpoints, site)
    findings = [*notes, *findings, *rule_findings, *policy.endpoint_findings(endpoints)]
    components = ctx.installed()
    host = Host(roles_of(components), str(install_dir), program_dir, found_by, components)
    return Plan(host, tuple(endpoints), tuple(rules), tuple(_sorted(findings)))


def _sorted(findings: list[Finding]) -> list[Finding]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: rank[f.severity])  # stable within a severity


def _registry(inputs: Inputs) -> Source:
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
        from ..platforms.windows.locate import find_install_dir

        return find_install_dir()
    raise InputError("", "", "no install directory: on this system cefw cannot look for CE "
                     "itself", "pass --install-dir DIR (a copy of the CE install folder), "
                     "or try the bundled example: cefw plan --example core-host")
