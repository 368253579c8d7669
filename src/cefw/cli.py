"""The `cefw` command line: one COMMANDS table (name -> help, arguments, what runs) and
one VIEWS table (output format -> the render module, imported by name when used).

argparse, not click/typer: those cost 45-95 ms to import here, and `cefw plan` must
start in under 4x a bare `python -c pass` (bench/bench_plan.py). Everything heavy
(rich, regipy, the platforms) is imported by the command that needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import IO, Any, NamedTuple

from .errors import CefwError, InputError

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
EXIT_INTERNAL = 70  # a bug in cefw (EX_SOFTWARE); CEFW_DEBUG=1 shows the traceback

# --format NAME -> the module under cefw.render that shows it, by what is shown: a Plan,
# or the outcome of a change / an audit (their "table" is the plain-text change list).
VIEWS: dict[str, dict[str, str]] = {
    "table": {"plan": "table", "change": "changes"},
    "json": {"plan": "json", "change": "json"},
    "csv": {"plan": "csv"},
    "markdown": {"plan": "markdown"},
}
# platforms.EXPORTS, without importing it
EXPORT_FORMATS = ("powershell", "netsh", "nft", "aerleon")

EPILOG_INPUTS = """\
inputs (all commands that read a host):
  --install-dir DIR    the CE install folder, live or a copy (holds Servers, Services,
                       Tomcat); found automatically on Windows
  --registry FILE      a .reg export (regedit / reg export), repeatable
  --hive FILE          an offline SOFTWARE hive (C:\\Windows\\System32\\config\\SOFTWARE)
  --channels FILE      recording channels exported from CE Web Admin (CSV or JSON)
  --site FILE          who may connect: [zones] servers = [...], clients = [...]
  --example NAME       a bundled example host (core-host, agent-pc, recorder-host)
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse builds a formatter for every add_argument, and the stock one imports
    shutil (with bz2 and lzma, ~5 ms) to ask the terminal width: ask os directly."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         (width or terminal_width(80)) - 2)


def terminal_width(fallback: int) -> int:
    """COLUMNS, else the terminal's width, else `fallback` (a file or a pipe)."""
    try:
        return int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
    except (ValueError, OSError):
        return fallback


# -- arguments -------------------------------------------------------------------------

def _add_inputs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs")
    g.add_argument("--install-dir", type=Path, metavar="DIR",
                   help="CE install folder (live or a copy)")
    g.add_argument("--program-dir", metavar="WINDIR",
                   help="where CE is installed on the Windows host, for rule programs "
                   "(default: the install dir on Windows; for a copy, the site file's "
                   "[host] program_dir or the vendor default)")
    g.add_argument("--registry", type=Path, action="append", default=[], metavar="FILE",
                   help=".reg export holding the TAO and GeoCampaign values (repeatable)")
    g.add_argument("--hive", type=Path, metavar="FILE", help="offline SOFTWARE hive file")
    g.add_argument("--channels", type=Path, metavar="FILE",
                   help="recording channels export (CSV or JSON)")
    g.add_argument("--site", type=Path, metavar="FILE", help="site file with [zones]")
    g.add_argument("--example", metavar="NAME",
                   help="use a bundled example host (see `cefw examples`)")


def _add_format(p: argparse.ArgumentParser, kind: str) -> None:
    choices = tuple(name for name, by_kind in VIEWS.items() if kind in by_kind)
    p.add_argument("--format", "-f", choices=choices, default="table",
                   help=f"output format (default table; one of {', '.join(choices)})")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   help="same as --format json")


def _add_backend(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("firewall")
    g.add_argument("--backend", choices=("windows", "nftables", "firewalld"), default=None,
                   help="firewall to use (default: windows on Windows, nftables elsewhere)")
    g.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="lock and snapshots (default: %%ProgramData%%\\cefw on Windows, "
                   "/var/lib/cefw as root; env CEFW_STATE_DIR)")
    g = p.add_argument_group("gateway (nftables on a Linux router in front of the CE servers)")
    g.add_argument("--hook", choices=("input", "forward"), default="input",
                   help="input: protect this host (default); forward: judge the packets "
                   "this router forwards to the CE servers (table inet contact_expert_fwd)")
    _add_destination(g)


def _args_plan(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_format(p, "plan")


def _args_change(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_backend(p)
    p.add_argument("--dry-run", action="store_true", help="print the change set and write nothing")
    _add_format(p, "change")


def _args_audit(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_backend(p)
    _add_format(p, "change")


def _args_export(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    p.add_argument("--format", "-f", choices=EXPORT_FORMATS, required=True)
    p.add_argument("--policy-store", metavar="DOMAIN\\GPO",
                   help="PowerShell: write into this Group Policy object (Open-NetGPO)")
    p.add_argument("--output", "-o", type=Path, metavar="FILE",
                   help="write to FILE instead of standard output (aerleon: a folder)")
    g = p.add_argument_group("aerleon (network devices)")
    g.add_argument("--target", metavar="LIST", type=_comma_list, default=[],
                   help="render the ACLs for these aerleon targets too (comma-separated: "
                   "ciscoasa,srx,paloalto,iptables,nftables,...; needs cefw[aerleon])")
    _add_destination(g)


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_destination(g: Any) -> None:
    g.add_argument("--destination", metavar="ADDRESS", action="append", default=[],
                   help="a CE server the rules protect, on a router or network firewall "
                   "(repeatable; default: the site file's servers zone)")


def _args_restore(p: argparse.ArgumentParser) -> None:
    _add_backend(p)
    p.add_argument("--snapshot", type=Path, metavar="FILE",
                   help="snapshot to restore (default: the newest in the state folder)")
    p.add_argument("--dry-run", action="store_true", help="print the change set only")
    _add_format(p, "change")


def _args_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="as JSON")


# -- inputs ----------------------------------------------------------------------------

def _inputs(args: argparse.Namespace) -> Any:
    from .readers.context import Inputs

    given = {k: v for k, v in (
        ("install_dir", args.install_dir), ("program_dir", args.program_dir),
        ("registry", tuple(args.registry)), ("hive", args.hive),
        ("channels", args.channels), ("site", args.site)) if v}
    if not args.example:
        return Inputs(**given)
    from .examples import load_example

    # Options given on the command line win over the example's own files.
    base = load_example(args.example)
    if "install_dir" in given:
        given["found_by"] = "--install-dir"
    return base._replace(**given)


def _plan(args: argparse.Namespace) -> Any:
    from .plan.make import make_plan

    return make_plan(_inputs(args))


def _has_inputs(args: argparse.Namespace) -> bool:
    return bool(args.example or args.install_dir or sys.platform == "win32")


def _show(view: Any, kind: str, args: argparse.Namespace, out: IO[str]) -> None:
    """Render `view` (a Plan, an Outcome, an AuditReport) in the chosen --format."""
    module = import_module(f".render.{VIEWS[args.format][kind]}", __package__)
    tty = bool(getattr(out, "isatty", lambda: False)())
    # A terminal gets its own width; a file or pipe (a change ticket) a generous one.
    out.write(module.render(view, width=terminal_width(180) if tty else 180, color=tty))


# -- commands --------------------------------------------------------------------------

def cmd_plan(args: argparse.Namespace, out: IO[str]) -> int:
    _show(_plan(args), "plan", args, out)
    return EXIT_OK


def _backend(args: argparse.Namespace, hosts: bool = True) -> Any:
    """The chosen backend; in gateway mode (--hook forward) with the CE servers'
    addresses, which `hosts=False` skips (remove deletes the table whatever it holds)."""
    from .platforms import default_name, get_backend

    name = args.backend or default_name()
    if name == "firewalld" and args.hook == "input":
        from .plan.site import NO_SITE  # the zones become firewalld ipsets

        return get_backend(name, site=_site(args) if hasattr(args, "example") else NO_SITE)
    if args.hook == "input":
        return get_backend(name)
    if name != "nftables":
        raise CefwError(f"--hook forward is a mode of the nftables backend, not of {name}",
                        "add --backend nftables (on the Linux router in front of the CE "
                        "servers)")
    destinations: tuple[str, ...] = ()
    if hosts:
        from .plan.site import NO_SITE, ce_hosts

        site = _site(args) if hasattr(args, "example") else NO_SITE
        destinations, _ = ce_hosts(site, args.destination)
    return get_backend(name, hook="forward", destinations=destinations)


def _state(args: argparse.Namespace) -> Any:
    from .apply.state import StateDir

    return StateDir(args.state_dir)


def cmd_add(args: argparse.Namespace, out: IO[str]) -> int:
    from .apply.operations import converge

    plan = _plan(args)
    backend = _backend(args)
    outcome = converge(backend, plan.rules, _state(args), dry_run=args.dry_run)
    _show(outcome, "change", args, out)
    _restart_note(outcome, core="core" in plan.host.roles)
    _warn_findings(plan.findings)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, out: IO[str]) -> int:
    from .apply.operations import converge

    core = None
    if _has_inputs(args):
        try:  # the plan only tells whether this is a CE server (for the restart note)
            core = "core" in _plan(args).host.roles
        except InputError:
            if args.example or args.install_dir:
                raise
    outcome = converge(_backend(args, hosts=False), [], _state(args), dry_run=args.dry_run)
    _show(outcome, "change", args, out)
    _restart_note(outcome, core=core)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, out: IO[str]) -> int:
    from .apply.operations import audit

    plan = _plan(args)
    report = audit(_backend(args), plan.rules, plan.findings)
    _show(report, "change", args, out)
    return report.exit_status


def cmd_export(args: argparse.Namespace, out: IO[str]) -> int:
    from .platforms import EXPORTS, exporter

    plan = _plan(args)
    export, module = EXPORTS[args.format], exporter(args.format)
    options = {"policy_store": args.policy_store, "targets": args.target,
               "destinations": args.destination, "site": _site(args)}
    if export.folder and args.output:
        return _export_folder(module, plan, options, args.output)
    text = module.render(plan, **options)
    if args.output:
        args.output.write_text(text, encoding=export.encoding, newline=export.newline)
        print(f"cefw: wrote {args.output} ({len(plan.rules)} rules)", file=sys.stderr)
    else:
        out.write(text)
    _export_findings(module, plan, options)
    return EXIT_OK


def _site(args: argparse.Namespace) -> Any:
    from .plan.site import NO_SITE, load

    path = _inputs(args).site
    return load(path) if path else NO_SITE


def _export_folder(module: Any, plan: Any, options: dict[str, Any], folder: Path) -> int:
    """An export of several files (aerleon's policy, definitions, ACLs) into `folder`."""
    files = module.render_files(plan, **options)
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    print(f"cefw: wrote {len(files)} file(s) under {folder}", file=sys.stderr)
    _export_findings(module, plan, options)
    return EXIT_OK


def _export_findings(module: Any, plan: Any, options: dict[str, Any]) -> None:
    """What an export leaves out, said on standard error (the file says it too)."""
    for found in getattr(module, "findings", lambda *_, **__: [])(plan, **options):
        print(f"cefw: {found.message}", file=sys.stderr)


def cmd_restore(args: argparse.Namespace, out: IO[str]) -> int:
    from .apply.operations import converge
    from .apply.state import load_snapshot

    backend = _backend(args)
    state = _state(args)
    path = args.snapshot or state.latest_snapshot(backend.name)
    if path is None:
        raise CefwError(f"no snapshot for the {backend.name} backend in {state.path}",
                        "pass --snapshot FILE, or --state-dir where cefw saved them")
    rules = load_snapshot(path)
    verb = "would restore" if args.dry_run else "restoring"
    print(f"cefw: {verb} {len(rules)} rule(s) from {path}", file=sys.stderr)
    outcome = converge(backend, rules, state, dry_run=args.dry_run)
    _show(outcome, "change", args, out)
    _restart_note(outcome, core=None)
    return EXIT_OK


def cmd_examples(args: argparse.Namespace, out: IO[str]) -> int:
    from .examples import describe_examples

    found = describe_examples()
    if args.json:
        from .render.json import dumps

        out.write(dumps({"examples": [{"name": n, "description": d} for n, d in found]}))
        return EXIT_OK
    for name, description in found:
        out.write(f"{name:15} {description}\n")
    return EXIT_OK


def cmd_components(args: argparse.Namespace, out: IO[str]) -> int:
    from . import catalog

    rows = []
    for c in catalog.COMPONENTS:
        ports = ", ".join(f"{d.protocol} {d.port}" for d in c.defaults) or (
            "dynamic" if c.dynamic else "per channel" if catalog.CHANNELS in c.config
            else "none")
        rows.append((c, ports))
    if args.json:
        from .render.json import dumps

        out.write(dumps({"components": [{
            "id": c.id, "role": c.role, "program": c.program,
            "ports": [{"protocol": d.protocol, "port": d.port, "label": d.label}
                      for d in c.defaults],
            "dynamic": c.dynamic, "sources": list(c.sources),
            "configured_in": list(c.config)} for c, _ in rows]}))
        return EXIT_OK
    for c, ports in rows:
        out.write(f"{c.id:32} {c.role:5} {ports:28} {c.program}\n")
    return EXIT_OK


def _restart_note(outcome: Any, core: bool | None) -> None:
    """The vendor's note, after a change written to Windows Firewall on a host that is (or
    may be: remove and restore do not always know) a CE application server."""
    if outcome.applied and outcome.backend == "windows" and core is not False:
        from .catalog import RESTART_NOTE

        print(RESTART_NOTE, file=sys.stderr)


def _warn_findings(findings: Any) -> None:
    high = [f for f in findings if f.severity == "high"]
    if high:
        codes = ", ".join(sorted({f.code for f in high}))
        print(f"cefw: {len(high)} high-severity finding(s) ({codes}): see `cefw plan` or "
              "`cefw audit`", file=sys.stderr)


class Command(NamedTuple):
    help: str  # one line, for `cefw --help`
    description: str
    examples: list[str]
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, IO[str]], int]


COMMANDS: dict[str, Command] = {
    "plan": Command(
        "show the rules the host's configuration calls for",
        "Read the host's CE configuration and show its listeners, the rules they need and "
        "the findings. Changes nothing.",
        ["cefw plan --example core-host",
         "cefw plan --example core-host --format json | jq '.rules[].name'",
         "cefw plan --install-dir ./ce-copy --registry ce.reg --channels channels.csv "
         "--site site.toml --format markdown"],
        _args_plan, cmd_plan),
    "add": Command(
        "make the firewall group hold the plan (creates/updates first)",
        "Make the group \"Contact Expert\" hold exactly the planned rules: create missing "
        "ones, update changed ones in place, then delete stale and duplicate ones. Nothing "
        "outside the group is touched; a second run with nothing changed writes nothing.",
        ["cefw add --dry-run --site site.toml", "cefw add --site site.toml",
         "cefw add --dry-run --backend nftables --example core-host"],
        _args_change, cmd_add),
    "remove": Command(
        "delete every rule of cefw's group, nothing else",
        "Delete every rule of the group \"Contact Expert\" (Windows) or the table "
        "inet contact_expert (nftables). Other rules are never read for change.",
        ["cefw remove --dry-run", "cefw remove --backend nftables"],
        _args_change, cmd_remove),
    "audit": Command(
        "compare the firewall with the plan (exit 1 on drift)",
        "Drift between the plan and the firewall (missing, changed, extra, duplicate "
        "rules), the plan's findings and the firewall's own state. Exit 0 in sync, 1 drift "
        "or a high-severity finding, 2 error.",
        ["cefw audit --site site.toml", "cefw audit --json > audit.json"],
        _args_audit, cmd_audit),
    "export": Command(
        "write the plan as a PowerShell, netsh or nft script",
        "Scripts to review and run by hand or hand to a change board. Every value from a "
        "config file is quoted.",
        ["cefw export --format powershell --site site.toml > ce.ps1",
         "cefw export --format powershell --policy-store 'CORP\\CE Servers'",
         "cefw export --format netsh > ce-rules.cmd",
         "cefw export --format nft > contact_expert.nft",
         "cefw export --format aerleon --site site.toml -o aerleon/",
         "cefw export --format aerleon --site site.toml --target ciscoasa,srx,paloalto "
         "-o aerleon/"],
        _args_export, cmd_export),
    "restore": Command(
        "put back the rules saved before an earlier change",
        "Make the group hold a snapshot cefw saved before a change (the newest one by "
        "default).",
        ["cefw restore --dry-run", "cefw restore --snapshot FILE"],
        _args_restore, cmd_restore),
    "examples": Command("list the bundled example hosts", "List the bundled example hosts.",
                        ["cefw examples", "cefw examples --json"], _args_list, cmd_examples),
    "components": Command(
        "list the CE components cefw knows",
        "List the CE components cefw knows, their default ports and programs.",
        ["cefw components", "cefw components --json"], _args_list, cmd_components),
}


def _examples(title: str, lines: list[str]) -> str:
    return f"{title}:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only`, the arguments of that one command only (building
    all eight sub-parsers costs ~10 ms, a tenth of the start-up budget)."""
    raw = _Formatter
    parser = argparse.ArgumentParser(
        prog="cefw", formatter_class=raw,
        description="Least-privilege firewall rules for a Contact Expert host, read from "
        "CE's own configuration.",
        epilog=_examples("examples", [
            "cefw plan --example core-host              # what a bundled CE server needs",
            "cefw plan --install-dir 'D:\\CE' --site site.toml --format markdown",
            "cefw add --dry-run --site site.toml        # what would change, no writes",
            "cefw add --site site.toml                  # make the group hold the plan",
            "cefw audit --json                          # drift + findings, exit 1 if any",
            "cefw export --format powershell > ce-rules.ps1",
        ]) + "\n" + EPILOG_INPUTS)
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.description,
                           formatter_class=raw, epilog=_examples("examples", command.examples))
        if only is None or only == name:
            command.arguments(p)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The command word: the first argument that is not an option (the top-level parser
    has no option that takes a value)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: list[str] | None = None, out: IO[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    if args.version:
        from . import __version__

        stream.write(f"cefw {__version__}\n")
        return EXIT_OK
    if not args.command:
        parser.print_help(stream)
        return EXIT_ERROR
    try:
        return COMMANDS[args.command].run(args, stream)
    except CefwError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("cefw: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug: say so plainly; the traceback only on request
        if os.environ.get("CEFW_DEBUG"):
            raise
        print(f"cefw: internal error: {type(exc).__name__}: {exc}\n"
              "  this is a bug in cefw; run again with CEFW_DEBUG=1 for details and report "
              "it", file=sys.stderr)
        return EXIT_INTERNAL
