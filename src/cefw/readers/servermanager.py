"""Tools\\ServerManager\\ServerManager.Config.xml (ce-formats.md section 3):
`<Listener Port="9997"/>`."""

from __future__ import annotations

from collections.abc import Iterator

from .. import catalog
from ..host import HostContext, Reading
from ..xmlsafe import Node
from .common import file_port

FIX = "correct ServerManager.Config.xml: <ServerManagerConfig><Listener Port=\"9997\"/>"


def _listeners(root: Node) -> Iterator[tuple[Node, str]]:
    nodes = [root] if root.is_("Listener") else []
    for node in nodes + list(root.iter("Listener")):
        yield node, "Port"


def read(ctx: HostContext) -> Reading:
    return file_port(ctx, "ServerManager", catalog.SERVERMANAGER_CONFIG, FIX, _listeners)
