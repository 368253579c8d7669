"""One reader per CE source the vendor names, all of one shape:

    read(ctx: HostContext, inputs: Inputs) -> Reading

A reader finds nothing (EMPTY) when the components it serves are not installed, so the
planner runs them all, in this order, without knowing any of them. File formats are
parsed in formats/, registry values come through registry/.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import catalog
from ..model import Endpoint, Finding
from .context import EMPTY, HostContext, Inputs, Reading

__all__ = ["EMPTY", "READERS", "HostContext", "Inputs", "Reading", "discover"]

# (the source on the vendor page, the module that reads it)
READERS: tuple[tuple[str, str], ...] = (
    (catalog.SERVERAGENT, "serveragent"),
    (catalog.NAMING, "naming"),
    (catalog.GEOCAMPAIGN, "geocampaign"),
    (catalog.CHANNELS, "channels"),
    (catalog.TOMCAT, "tomcat"),
    (catalog.SERVERMANAGER, "servermanager"),
    (catalog.AGENTCLIENT, "agentclient"),
)


def reader(module: str) -> Callable[[HostContext, Inputs], Reading]:
    # __import__, not importlib.import_module: importlib's package costs start-up time
    return __import__(f"{__name__}.{module}", fromlist=["read"]).read  # type: ignore[no-any-return]


def discover(ctx: HostContext, inputs: Inputs) -> tuple[list[Endpoint], list[Finding]]:
    """Every reader's endpoints, in catalog order of their components (reader order kept
    within a component), and every reader's findings."""
    readings = [reader(module)(ctx, inputs) for _source, module in READERS]
    endpoints = [ep for r in readings for ep in r.endpoints]
    order = {c.id: i for i, c in enumerate(catalog.COMPONENTS)}
    endpoints.sort(key=lambda ep: order.get(ep.component, 999))
    return endpoints, [f for r in readings for f in r.findings]
