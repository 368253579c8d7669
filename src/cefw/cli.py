"""The `cefw` command line.

argparse, not click/typer: those cost 45-95 ms to import here, and `cefw plan` must
start in under 4x a bare `python -c pass` (bench/bench_plan.py). Everything heavy
(rich, regipy, backends) is imported by the command that needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO

from .errors import CefwError, InputError

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
EXIT_INTERNAL = 70  # a bug in cefw (EX_SOFTWARE); CEFW_DEBUG=1 shows the traceback

PLAN_FORMATS = ("table", "json", "csv", "markdown")
CHANGE_FORMATS = ("table", "json")
EXPORT_FORMATS = ("powershell", "netsh", "nft")

RESTART_NOTE = (
    "Note (vendor): on a CE application server, restart the entire application server "
    "for the firewall change to take effect.")

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
        if width is None:
            try:
                width = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
            except (ValueError, OSError):
                width = 80
            width -= 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _examples(title: str, lines: list[str]) -> str:
    return f"{title}:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


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


def _add_format(p: argparse.ArgumentParser, choices: tuple[str, ...]) -> None:
    p.add_argument("--format", "-f", choices=choices, default="table",
                   help=f"output format (default table; one of {', '.join(choices)})")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   help="same as --format json")


def _add_backend(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("firewall")
    g.add_argument("--backend", choices=("windows", "nftables"), default=None,
                   help="firewall to use (default: windows on Windows, nftables elsewhere)")
    g.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="lock and snapshots (default: %%ProgramData%%\\cefw on Windows, "
                   "/var/lib/cefw as root; env CEFW_STATE_DIR)")


def _args_plan(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_format(p, PLAN_FORMATS)


def _args_change(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_backend(p)
    p.add_argument("--dry-run", action="store_true", help="print the change set and write nothing")
    _add_format(p, CHANGE_FORMATS)


def _args_audit(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_backend(p)
    _add_format(p, CHANGE_FORMATS)


def _args_export(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    p.add_argument("--format", "-f", choices=EXPORT_FORMATS, required=True)
    p.add_argument("--policy-store", metavar="DOMAIN\\GPO",
                   help="PowerShell: write into this Group Policy object (Open-NetGPO)")
    p.add_argument("--output", "-o", type=Path, metavar="FILE",
                   help="write to FILE instead of standard output")


def _args_restore(p: argparse.ArgumentParser) -> None:
    _add_backend(p)
    p.add_argument("--snapshot", type=Path, metavar="FILE",
                   help="snapshot to restore (default: the newest in the state folder)")
    p.add_argument("--dry-run", action="store_true", help="print the change set only")
    _add_format(p, CHANGE_FORMATS)


def _args_none(p: argparse.ArgumentParser) -> None:
    pass


# name: (one-line help, description, examples, arguments)
SPECS = {
    "plan": (
        "show the rules the host's configuration calls for",
        "Read the host's CE configuration and show its listeners, the rules they need and "
        "the findings. Changes nothing.",
        ["cefw plan --example core-host",
         "cefw plan --example core-host --format json | jq '.rules[].name'",
         "cefw plan --install-dir ./ce-copy --registry ce.reg --channels channels.csv "
         "--site site.toml --format markdown"],
        _args_plan),
    "add": (
        "converge the firewall group to the plan (creates/updates first)",
        "Make the group \"Contact Expert\" hold exactly the planned rules: create missing "
        "ones, update changed ones in place, then delete stale and duplicate ones. Nothing "
        "outside the group is touched; a second run with nothing changed writes nothing.",
        ["cefw add --dry-run --site site.toml", "cefw add --site site.toml",
         "cefw add --backend nftables --example core-host --json"],
        _args_change),
    "remove": (
        "delete every rule of cefw's group, nothing else",
        "Delete every rule of the group \"Contact Expert\" (Windows) or the table "
        "inet contact_expert (nftables). Other rules are never read for change.",
        ["cefw remove --dry-run", "cefw remove --backend nftables"],
        _args_change),
    "audit": (
        "compare the firewall with the plan (exit 1 on drift)",
        "Drift between plan and firewall (missing, changed, extra, duplicate rules), the "
        "plan's findings and the firewall's own state. Exit 0 in sync, 1 drift or a "
        "high-severity finding, 2 error.",
        ["cefw audit --site site.toml", "cefw audit --json > audit.json"],
        _args_audit),
    "export": (
        "write the plan as a PowerShell, netsh or nft script",
        "Scripts to review and run by hand or hand to a change board. Every value from a "
        "config file is quoted.",
        ["cefw export --format powershell --site site.toml > ce.ps1",
         "cefw export --format powershell --policy-store 'CORP\\CE Servers'",
         "cefw export --format netsh > ce-rules.cmd",
         "cefw export --format nft > contact_expert.nft"],
        _args_export),
    "restore": (
        "put back the rules saved before an earlier change",
        "Converge the group to a snapshot cefw saved before a change (the newest one by "
        "default).",
        ["cefw restore --dry-run", "cefw restore --snapshot FILE"],
        _args_restore),
    "examples": ("list the bundled example hosts", "List the bundled example hosts.",
                 ["cefw examples"], _args_none),
    "components": ("list the CE components cefw knows",
                   "List the CE components cefw knows, their default ports and programs.",
                   ["cefw components"], _args_none),
}


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
            "cefw add --site site.toml                  # converge the group to the plan",
            "cefw audit --json                          # drift + findings, exit 1 if any",
            "cefw export --format powershell > ce-rules.ps1",
        ]) + "\n" + EPILOG_INPUTS)
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (helptext, description, examples, add_args) in SPECS.items():
        p = sub.add_parser(name, help=helptext, description=description,
                           formatter_class=raw, epilog=_examples("examples", examples))
        if only is None or only == name:
            add_args(p)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The command word: the first argument that is not an option (the top-level parser
    has no option that takes a value)."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in SPECS else None


# -- inputs ----------------------------------------------------------------------------

def _inputs(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .planner import Inputs

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


def _plan(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .planner import make_plan

    return make_plan(_inputs(args))


def _has_inputs(args: argparse.Namespace) -> bool:
    return bool(args.example or args.install_dir or sys.platform == "win32")


# -- commands --------------------------------------------------------------------------

def cmd_plan(args: argparse.Namespace, out: IO[str]) -> int:
    plan = _plan(args)
    if args.format == "json":
        from .render.jsonout import dumps

        out.write(dumps(plan.to_json()))
    elif args.format == "csv":
        from .render import csvout

        out.write(csvout.render(plan))
    elif args.format == "markdown":
        from .render import markdown

        out.write(markdown.render(plan))
    else:
        from .render import table

        table.render(plan, out)
    return EXIT_OK


def _backend(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .backends import default_name, get_backend

    return get_backend(args.backend or default_name())


def _state(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .state import StateDir

    return StateDir(args.state_dir)


def cmd_add(args: argparse.Namespace, out: IO[str]) -> int:
    from .operations import converge

    plan = _plan(args)
    backend = _backend(args)
    outcome = converge(backend, plan.rules, _state(args), dry_run=args.dry_run)
    _print_outcome(outcome, args.format, out, core="core" in plan.host.roles)
    _warn_findings(plan.findings)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, out: IO[str]) -> int:
    from .operations import converge

    core = None
    if _has_inputs(args):
        try:  # the plan only tells whether this is a CE server (for the restart note)
            core = "core" in _plan(args).host.roles
        except InputError:
            if args.example or args.install_dir:
                raise
    outcome = converge(_backend(args), [], _state(args), dry_run=args.dry_run)
    _print_outcome(outcome, args.format, out, core=core)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, out: IO[str]) -> int:
    from .operations import audit

    plan = _plan(args)
    report = audit(_backend(args), plan.rules, plan.findings)
    if args.format == "json":
        from .render.jsonout import dumps

        out.write(dumps(report.to_json()))
    else:
        from .render import changes

        changes.print_audit(report, out)
    return report.exit_status


def cmd_export(args: argparse.Namespace, out: IO[str]) -> int:
    plan = _plan(args)
    core = "core" in plan.host.roles
    if args.format == "powershell":
        from .render import powershell

        text = powershell.render(plan.rules, policy_store=args.policy_store, restart_note=core)
    elif args.format == "netsh":
        from .render import netsh

        text = netsh.render(plan.rules, restart_note=core)
    else:
        from .backends.nft_table import render_script

        text = render_script(plan.rules)
    if args.output:
        args.output.write_text(text, encoding="utf-8-sig" if args.format == "powershell"
                               else "utf-8", newline="\r\n" if args.format != "nft" else "\n")
        print(f"cefw: wrote {args.output} ({len(plan.rules)} rules)", file=sys.stderr)
    else:
        out.write(text)
    return EXIT_OK


def cmd_restore(args: argparse.Namespace, out: IO[str]) -> int:
    from .operations import converge
    from .state import load_snapshot

    backend = _backend(args)
    state = _state(args)
    path = args.snapshot or state.latest_snapshot(backend.name)
    if path is None:
        raise CefwError(f"no snapshot for the {backend.name} backend in {state.path}",
                        "pass --snapshot FILE, or --state-dir where cefw saved them")
    rules = load_snapshot(path)
    print(f"cefw: restoring {len(rules)} rule(s) from {path}", file=sys.stderr)
    outcome = converge(backend, rules, state, dry_run=args.dry_run)
    _print_outcome(outcome, args.format, out, core=None)
    return EXIT_OK


def cmd_examples(args: argparse.Namespace, out: IO[str]) -> int:
    from .examples import describe_examples

    for name, description in describe_examples():
        out.write(f"{name:15} {description}\n")
    return EXIT_OK


def cmd_components(args: argparse.Namespace, out: IO[str]) -> int:
    from . import catalog

    for c in catalog.COMPONENTS:
        ports = ", ".join(f"{d.protocol} {d.port}" for d in c.defaults) or (
            "dynamic" if c.dynamic else "per channel" if catalog.CHANNELS in c.config
            else "none")
        out.write(f"{c.id:32} {c.role:5} {ports:28} {c.program}\n")
    return EXIT_OK


def _print_outcome(outcome, fmt: str, out: IO[str], core: bool | None) -> None:  # type: ignore[no-untyped-def]
    if fmt == "json":
        from .render.jsonout import dumps

        out.write(dumps(outcome.to_json()))
    else:
        from .render import changes

        changes.print_outcome(outcome, out)
    if outcome.applied and outcome.backend == "windows" and core is not False:
        print(RESTART_NOTE if core else
              "Note (vendor): if this is a CE application server, restart it for the "
              "firewall change to take effect.", file=sys.stderr)


def _warn_findings(findings) -> None:  # type: ignore[no-untyped-def]
    high = [f for f in findings if f.severity == "high"]
    if high:
        codes = ", ".join(sorted({f.code for f in high}))
        print(f"cefw: {len(high)} high-severity finding(s) ({codes}): see `cefw plan` or "
              "`cefw audit`", file=sys.stderr)


COMMANDS = {"plan": cmd_plan, "add": cmd_add, "remove": cmd_remove, "audit": cmd_audit,
            "export": cmd_export, "restore": cmd_restore, "examples": cmd_examples,
            "components": cmd_components}


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
        return COMMANDS[args.command](args, stream)
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
