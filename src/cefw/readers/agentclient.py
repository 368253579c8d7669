"""Servers\\AgentClientApp.Net\\AgentClientApp.config.xml (docs/ce-formats.md): a
.NET appSettings file, `<add key="ListenPort" value="19960"/>`."""

from __future__ import annotations

from collections.abc import Iterator

from .. import catalog
from ..formats.xmlsafe import Node
from .common import file_port
from .context import HostContext, Inputs, Reading

FIX = ("correct AgentClientApp.config.xml: <configuration><appSettings>"
       "<add key=\"ListenPort\" value=\"19960\"/>")


def _listen_port(root: Node) -> Iterator[tuple[Node, str]]:
    for settings in root.iter("appSettings"):
        for add in settings.find_all("add"):
            if (add.get("key") or "").strip().lower() == "listenport":
                yield add, "value"


def read(ctx: HostContext, inputs: Inputs) -> Reading:
    return file_port(ctx, "AgentClientApp", catalog.AGENTCLIENT_CONFIG, FIX, _listen_port)
