"""Build a Contact Expert host in tmp_path from a compact description.

    host = ce_host(
        components=["ServerAgent", "DialerServer"],          # catalog ids: program files
        files={r"Services\\ServerAgent\\ServerAgent.Config.xml": sa_config(
            '<Server Name="DialerServer" Path="..\\..\\Servers\\DialerServer\\DialerServer.exe"'
            ' Port="9905" />')},
        registry={TAO_WOW: {"TaoNamingServiceOptions": expand_sz("-ORBEndpoint iiop://:9999")}},
        channels="Channel,Recorder,ControlPort,MediaPort\\nA,CMAPI,7001,40000-40099\\n",
        site='[zones]\\nservers = ["10.0.1.10"]\\n',
    )
    plan = host.plan()                 # cefw.plan.make.make_plan on the built tree
    ctx = host.context()               # a HostContext for calling one reader

Paths are install-relative Windows paths; `path_case` rewrites every path part (e.g.
str.lower) to check that lookups ignore case, as Windows does. A .reg export is written
the way regedit writes it: "Windows Registry Editor Version 5.00" as UTF-16LE with a BOM
and CRLF, or REGEDIT4 as cp1252 (`registry_version=4`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape

from cefw import catalog
from cefw.model import Plan
from cefw.plan.make import Inputs, make_plan
from cefw.readers.context import HostContext
from cefw.registry import NoRegistry, Offline
from cefw.registry.regfile import load_reg

PROGRAM_DIR = r"C:\Program Files (x86)\Geomant\Contact Expert"
SA_CONFIG = catalog.SERVERAGENT_CONFIG
SM_CONFIG = catalog.SERVERMANAGER_CONFIG
AC_CONFIG = catalog.AGENTCLIENT_CONFIG
TAO_WOW = r"SOFTWARE\WOW6432Node\ACE\TAO"  # the 32-bit view in a 64-bit export
TAO_PLAIN = r"SOFTWARE\ACE\TAO"  # the same key in a 32-bit export (reg export /reg:32)
GEO = catalog.GEOCAMPAIGN_KEY
GEO_WOW = r"SOFTWARE\WOW6432Node\Geomant Call Center Solutions\GeoCampaign"


# -- .reg export text ---------------------------------------------------------------------

class Raw(str):
    """Value data written verbatim after `=` (hex(2):..., dword:..., -)."""


def expand_sz(text: str, *, ansi: bool = False) -> Raw:
    """REG_EXPAND_SZ as regedit exports it: hex(2): and the NUL-terminated bytes, UTF-16LE
    (version 5) or ANSI (REGEDIT4), wrapped with a trailing backslash like regedit."""
    data = (text + "\x00").encode("cp1252" if ansi else "utf-16-le")
    items = [f"{b:02x}" for b in data]
    lines = [",".join(items[i:i + 25]) for i in range(0, len(items), 25)]
    return Raw("hex(2):" + ",\\\r\n  ".join(lines))


def dword(number: int) -> Raw:
    return Raw(f"dword:{number:08x}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reg_export(keys: Mapping[str, Mapping[str, str | int]], *, version: int = 5,
               comment: str = "") -> str:
    """{key under HKLM: {value name: data}}: a str is REG_SZ, an int a DWORD, a Raw is
    written as is."""
    lines = ["REGEDIT4" if version == 4 else "Windows Registry Editor Version 5.00", ""]
    if comment:
        lines += [f"; {comment}", ""]
    for key, values in keys.items():
        lines.append(f"[HKEY_LOCAL_MACHINE\\{key}]")
        for name, data in values.items():
            if isinstance(data, Raw):
                shown = str(data)
            elif isinstance(data, int):
                shown = dword(data)
            else:
                shown = _quote(data)
            lines.append(f"{_quote(name)}={shown}")
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def reg_bytes(text: str, version: int = 5) -> bytes:
    """Encode export text as regedit does: v5 UTF-16LE with BOM, REGEDIT4 cp1252."""
    if version == 4:
        return text.encode("cp1252")
    return b"\xff\xfe" + text.encode("utf-16-le")


# -- ServerAgent.Config.xml ---------------------------------------------------------------

def sa_config(*servers: str, agent: str = '<Agent Port="9998" />', bom: bool = False) -> str:
    """A ServerAgent.Config.xml around the given <Server> elements (section 2 layout)."""
    body = "\n".join(f"    {s}" for s in servers)
    text = ('<?xml version="1.0" encoding="utf-8"?>\n<ServerAgentConfig>\n'
            f"  {agent}\n  <Servers>\n{body}\n  </Servers>\n</ServerAgentConfig>\n")
    return ("\ufeff" if bom else "") + text


def server(name: str, *, port: str | None = None, args: str | None = None,
           endpoints: Iterable[str] = (), path: str | None = None,
           enabled: str | None = None) -> str:
    """One <Server> element; `path` defaults to the catalog program of `name`, written
    relative to the Server Agent's folder as CE does."""
    if path is None:
        component = catalog.by_name(name)
        path = "..\\..\\" + component.program if component else ""
    attrs = f'Name="{name}"' + (f' Path="{path}"' if path else "")
    if port is not None:
        attrs += f' Port="{port}"'
    if enabled is not None:
        attrs += f' Enabled="{enabled}"'
    children = ([f"<Arguments>{escape(args)}</Arguments>"] if args is not None else []) + [
        f"<Endpoint {e} />" for e in endpoints]
    if not children:
        return f"<Server {attrs} />"
    inner = "".join(f"\n      {c}" for c in children)
    return f"<Server {attrs}>{inner}\n    </Server>"


# -- the host -----------------------------------------------------------------------------

class BuiltHost(NamedTuple):
    install_dir: Path
    registry: tuple[Path, ...]
    channels: Path | None
    site: Path | None

    def inputs(self, **overrides: object) -> Inputs:
        fields: dict[str, object] = {
            "install_dir": self.install_dir, "program_dir": PROGRAM_DIR,
            "registry": self.registry, "channels": self.channels, "site": self.site,
        }
        fields.update(overrides)
        return Inputs(**fields)  # type: ignore[arg-type]

    def plan(self, **overrides: object) -> Plan:
        return make_plan(self.inputs(**overrides))

    def context(self, program_dir: str = PROGRAM_DIR) -> HostContext:
        registry = (Offline([load_reg(p) for p in self.registry]) if self.registry
                    else NoRegistry())
        return HostContext(self.install_dir, program_dir, registry)

    def path(self, relative: str) -> Path:
        return self.install_dir.joinpath(*relative.split("\\"))


def _write(root: Path, relative: str, content: str | bytes,
           path_case: Callable[[str], str]) -> Path:
    target = root.joinpath(*(path_case(p) for p in relative.replace("/", "\\").split("\\")))
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8", newline="")
    return target


def build_host(base: Path, *, components: Iterable[str] = (),
               files: Mapping[str, str | bytes] | None = None,
               registry: Mapping[str, Mapping[str, str | int]] | str | bytes | None = None,
               registry_version: int = 5,
               extra_registry: Iterable[str | bytes] = (),
               channels: str | bytes | None = None, channels_name: str = "channels.csv",
               site: str | None = None,
               path_case: Callable[[str], str] = str) -> BuiltHost:
    """Write the host under `base`: `install/` with a program file for each component id
    and the given files; `registry*.reg`, the channels export and `site.toml` beside it."""
    install = base / "install"
    install.mkdir(parents=True)
    for cid in components:
        _write(install, catalog.BY_ID[cid].program, b"MZ", path_case)
    for relative, content in (files or {}).items():
        _write(install, relative, content, path_case)

    reg_paths = []
    exports = ([] if registry is None else [registry]) + list(extra_registry)
    for n, export in enumerate(exports):
        if isinstance(export, Mapping):
            export = reg_export(export, version=registry_version)
        data = export if isinstance(export, bytes) else reg_bytes(export, registry_version)
        path = base / f"registry{n or ''}.reg"
        path.write_bytes(data)
        reg_paths.append(path)

    channels_path = None
    if channels is not None:
        channels_path = base / channels_name
        if isinstance(channels, bytes):
            channels_path.write_bytes(channels)
        else:
            channels_path.write_text(channels, encoding="utf-8", newline="")
    site_path = None
    if site is not None:
        site_path = base / "site.toml"
        site_path.write_text(site, encoding="utf-8")
    return BuiltHost(install, tuple(reg_paths), channels_path, site_path)


# -- small assertions helpers -------------------------------------------------------------

def codes(findings: Iterable) -> list[str]:
    return [f.code for f in findings]


def of(items: Iterable, component: str) -> list:
    """Endpoints, rules or findings of one component."""
    out = []
    for item in items:
        owner = getattr(item, "component", None)
        if owner is None:
            owner = item.components[0] if item.components else ""
        if owner == component:
            out.append(item)
    return out
