"""The files a plan was made from, each with its SHA-256: the report's header names them
so a change board can tell which configuration it approved.

The plan knows where each port came from (Endpoint.origin); the command line knows the
files it was given (Inputs). This joins the two, after the plan is made: data still flows
one way, and a renderer is handed the list, never a path to open.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..model import Plan
from ..readers.context import HostContext, Inputs
from ..record import Record


class InputFile(Record):
    role: str  # "site file", "registry export", "install folder", ...
    path: str  # as shown: install-relative for CE's files, else as given
    sha256: str  # "" for a folder (a Tomcat web application)

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def input_files(inputs: Inputs, plan: Plan) -> list[InputFile]:
    """The given files (site, registry exports, hive, channels) and every file of the
    install folder a port was read from, in a stable order."""
    out: list[InputFile] = []
    given = [("site file", inputs.site), *(("registry export", p) for p in inputs.registry),
             ("registry hive", inputs.hive), ("recording channels", inputs.channels)]
    for role, path in given:
        if path is not None:
            out.append(InputFile(role, shown(path), sha256(path) if path.is_file() else ""))
    ctx = HostContext(Path(plan.host.install_dir), plan.host.program_dir)
    seen: set[str] = set()
    for ep in plan.endpoints:
        if ep.origin.kind != "file" or ep.origin.path.lower() in seen:
            continue
        seen.add(ep.origin.path.lower())
        local = ctx.find(ep.origin.path)
        digest = sha256(local) if local is not None and local.is_file() else ""
        out.append(InputFile("install folder", ep.origin.path, digest))
    return out


def shown(path: Path) -> str:
    """A bundled example's file by its place among the examples (the same on every
    machine); any other file as it was given."""
    from ..examples import ROOT

    try:
        return "examples/" + path.resolve().relative_to(ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)
