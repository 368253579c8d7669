"""Servers\\AgentClientApp.Net\\AgentClientApp.config.xml (ce-formats.md section 3): a
.NET appSettings file, `<add key="ListenPort" value="19960"/>`."""

from __future__ import annotations

from collections.abc import Iterator

from .. import catalog
from ..host import HostContext, Reading
from ..xmlsafe import Node
from .common import file_port

FIX = ("correct AgentClientApp.config.xml: <configuration><appSettings>"
       "<add key=\"ListenPort\" value=\"19960\"/>")


def _listen_port(root: Node) -> Iterator[tuple[Node, str]]:
    for settings in root.iter("appSettings"):
        for add in settings.find_all("add"):
            if (add.get("key") or "").strip().lower() == "listenport":
                yield add, "value"


def read(ctx: HostContext) -> Reading:
    return file_port(ctx, "AgentClientApp", catalog.AGENTCLIENT_CONFIG, FIX, _listen_port)
