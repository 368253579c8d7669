"""Tools\\ServerManager\\ServerManager.Config.xml (docs/ce-formats.md):
`<Listener Port="9997"/>`."""

from __future__ import annotations

from collections.abc import Iterator

from .. import catalog
from ..formats.xmlsafe import Node
from .common import file_port
from .context import HostContext, Inputs, Reading

FIX = "correct ServerManager.Config.xml: <ServerManagerConfig><Listener Port=\"9997\"/>"


def _listeners(root: Node) -> Iterator[tuple[Node, str]]:
    nodes = [root] if root.is_("Listener") else []
    for node in nodes + list(root.iter("Listener")):
        yield node, "Port"


def read(ctx: HostContext, inputs: Inputs) -> Reading:
    return file_port(ctx, "ServerManager", catalog.SERVERMANAGER_CONFIG, FIX, _listeners)
