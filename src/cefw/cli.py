"""The `cefw` command line: one COMMANDS table (name -> help, arguments, what runs) and
one VIEWS table (output format -> the render module, imported by name when used).

argparse, not click/typer: those cost 45-95 ms to import here, and `cefw plan` must
start in under 4x a bare `python -c pass` (bench/bench_plan.py). Everything heavy
(rich, regipy, the platforms) is imported by the command that needs it.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .errors import CefwError
from .record import Record

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2
EXIT_INTERNAL = 70  # a bug in cefw (EX_SOFTWARE); CEFW_DEBUG=1 shows the traceback

# --format NAME -> the module under cefw.render that shows it, by what is shown: a Plan,
# or the outcome of a change / an audit (their "table" is the plain-text change list).
VIEWS: dict[str, dict[str, str]] = {
    "table": {"plan": "table", "change": "changes", "why": "why", "diff": "diff",
              "site": "site"},
    "json": {"plan": "json", "change": "json", "why": "json", "diff": "json",
             "site": "json"},
    "csv": {"plan": "csv"},
    "markdown": {"plan": "markdown"},
}
# platforms.EXPORTS, without importing it
EXPORT_FORMATS = ("powershell", "netsh", "nft", "registry-pol", "aerleon")

EPILOG_INPUTS = """\
inputs (all commands that read a host):
  --install-dir DIR    the CE install folder, live or a copy (holds Servers, Services,
                       Tomcat); found automatically on Windows
  --registry FILE      a .reg export (regedit / reg export), repeatable
  --hive FILE          an offline SOFTWARE hive (C:\\Windows\\System32\\config\\SOFTWARE)
  --channels FILE      recording channels exported from CE Web Admin (CSV or JSON)
  --site FILE          who may connect: [zones] servers = [...], clients = [...]
  --example NAME       a bundled example host (core-host, agent-pc, recorder-host)
  --bundle FILE        a host's bundle (cefw collect, Export-CEHostBundle) in place of
                       the options above
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse builds a formatter for every add_argument, and the stock one imports
    shutil (with bz2 and lzma, ~5 ms) to ask the terminal width: ask os directly."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         (width or terminal_width(80)) - 2)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """Descriptions wrap to the terminal (an 80-column console shows them whole);
        indented lines (the examples, the inputs list) stay as written."""
        import textwrap

        return "\n".join(
            line if line[:1].isspace() or len(line) <= width
            else textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent)
            for line in text.splitlines())


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
    g.add_argument("--bundle", type=Path, metavar="FILE",
                   help="a host's bundle (cefw collect, Export-CEHostBundle) in place of "
                   "--install-dir, --registry, --hive, --channels and --example")


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
                   help="lock, snapshots, remembered inputs (default: "
                   "%%ProgramData%%\\cefw on Windows, /var/lib/cefw as root; env "
                   "CEFW_STATE_DIR)")
    g.add_argument("--keep-snapshots", type=_positive(int), metavar="N",
                   help="snapshots kept per backend, older ones are deleted (default 20; "
                   "env CEFW_KEEP_SNAPSHOTS)")
    g = p.add_argument_group("gateway (nftables on a Linux router in front of the CE servers)")
    g.add_argument("--hook", choices=("input", "forward"), default="input",
                   help="input: protect this host (default); forward: judge the packets "
                   "this router forwards to the CE servers (table inet contact_expert_fwd)")
    _add_destination(g)


def _args_plan(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_format(p, "plan")
    _add_wide(p)


def _add_wide(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wide", action="store_true",
                   help="table: every column, full program paths and addresses, the full "
                   "place each port came from (the default fits 80 and 120 columns)")


def _args_change(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    _add_backend(p)
    p.add_argument("--dry-run", action="store_true",
                   help="show what would change and write nothing")
    _add_format(p, "change")


def _args_add(p: argparse.ArgumentParser) -> None:
    _args_change(p)
    g = p.add_argument_group("guard rails (refused unless asked for)")
    g.add_argument("--allow-removals", action="store_true",
                   help="delete rules even when the plan finds no CE component or would "
                   "delete more than half of the group")
    g.add_argument("--allow-widening", action="store_true",
                   help="let a rule admit more remote addresses or profiles than it does now")


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
    p.add_argument("--role", choices=("core", "agent"),
                   help="registry-pol: the rules of CE servers (core) or agent PCs (agent); "
                   "default: the host's role")
    _add_summary_json(p, "what was written (rules held, left out and why)")


def _add_summary_json(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true",
                   help=f"with -o FILE: print {what} as JSON on standard output")
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
                   help="snapshot to restore (default: the newest not written by a restore)")
    p.add_argument("--list", action="store_true",
                   help="list the snapshots (time, command, rules), newest first; change "
                   "nothing")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would change and write nothing")
    _add_format(p, "change")


def _port_range(text: str) -> tuple[int, int]:
    from .ports import PortSyntaxError, parse_range

    try:
        return parse_range(text)
    except PortSyntaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    from .ports import PortSyntaxError, parse_port

    try:
        return parse_port(text)
    except PortSyntaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _args_pin(p: argparse.ArgumentParser) -> None:
    p.add_argument("components", nargs="*", metavar="COMPONENT",
                   help="components to pin (default: every one with a dynamic port)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--port", type=_port, metavar="N", help="this port (one component)")
    which.add_argument("--range", type=_port_range, metavar="A-B", dest="within",
                       help="choose free ports in A-B (default 9920-9989)")
    p.add_argument("--style", choices=("port", "arguments"),
                   help="for a server the file gives no port at all: a Port attribute or "
                   "-ORBListenEndpoints in <Arguments> (default: as the file's other servers)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the change as a unified diff and write nothing")
    p.add_argument("--json", action="store_true",
                   help="what was (or would be) pinned as JSON, the diff included")
    _add_inputs(p)


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
        return value
    return parse


def _args_probe(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="zone", choices=("clients", "servers"),
                   help="who this PC is in the site file (default: judged by its own "
                   "address against each rule's remote addresses)")
    p.add_argument("--target", action="extend", nargs="+", default=[], metavar="ADDRESS",
                   help="CE server(s) to probe (default: the site file's servers zone)")
    p.add_argument("--plan", type=Path, metavar="FILE", dest="plan_file",
                   help="a plan written by `cefw plan --json` instead of the inputs")
    p.add_argument("--expect-closed", action="store_true",
                   help="also try the ports this PC must not reach (expected: filtered)")
    p.add_argument("--timeout", type=_positive(float), default=1.5, metavar="SECONDS",
                   help="per connect (default 1.5)")
    p.add_argument("--concurrency", type=_positive(int), default=64, metavar="N",
                   help="connects at once (default 64)")
    p.add_argument("--json", action="store_true", help="results as JSON")
    _add_inputs(p)


def _args_report(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    p.add_argument("--output", "-o", type=Path, metavar="FILE",
                   help="write the HTML file here (default: standard output)")
    _add_summary_json(p, "what the report holds (rules, listeners, findings)")


def _args_why(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="PORT|RULE|COMPONENT",
                   help="a port (9998, udp/40010), a rule name or a component id")
    _add_inputs(p)
    _add_format(p, "why")


def _args_diff(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="a plan saved with `cefw plan --json`, or a "
                   "copied CE install folder")
    p.add_argument("b", metavar="B", nargs="?",
                   help="the same (default: the plan of the host the inputs name)")
    _add_inputs(p)
    _add_format(p, "diff")


def _args_collect(p: argparse.ArgumentParser) -> None:
    _add_inputs(p)
    p.add_argument("--output", "-o", type=Path, metavar="FILE", required=True,
                   help="the bundle to write (e.g. ce-core-01.cefw.zip)")
    p.add_argument("--host-name", metavar="NAME",
                   help="the host's name (default: this machine's when collecting live, "
                   "the example's name for --example)")
    p.add_argument("--address", action="append", default=[], metavar="ADDR",
                   help="the host's address, repeatable (default: this machine's when "
                   "collecting live)")
    _add_summary_json(p, "what the bundle holds (members, bytes, firewall recorded)")


def _args_site(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("plan",),
                   help="plan: a plan for every host and group of the site inventory")
    p.add_argument("--site", type=Path, metavar="FILE", required=True,
                   help="the site file with [[hosts]] and [[groups]] (docs/site.md)")
    _add_format(p, "site")


def _args_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="as JSON")


# -- inputs ----------------------------------------------------------------------------

def _inputs(args: argparse.Namespace) -> Any:
    from .readers.context import Inputs

    if getattr(args, "bundle", None):
        return _bundle_inputs(args)
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


BUNDLE_REPLACES = ("install_dir", "registry", "hive", "channels", "example")


def _bundle_inputs(args: argparse.Namespace) -> Any:
    """The bundle stands for the host: options that name the host's files too are a
    contradiction, refused (--site and --program-dir still apply)."""
    given = [f"--{k.replace('_', '-')}" for k in BUNDLE_REPLACES if getattr(args, k, None)]
    if given:
        raise CefwError(f"--bundle holds the host's files: {', '.join(given)} cannot be "
                        "given with it", "drop them, or drop --bundle")
    return _opened(args).inputs(site=args.site, program_dir=args.program_dir)


def _opened(args: argparse.Namespace) -> Any:
    """The bundle of --bundle (given, or remembered from the last add), verified whole and
    expanded into a private folder on first use; removed when the command ends."""
    if getattr(args, "opened", None) is None:
        from contextlib import ExitStack

        from .bundle.expand import opened

        args.cleanup = ExitStack()  # closed by main() when the command ends
        args.opened = args.cleanup.enter_context(opened(args.bundle))
    return args.opened


def make_plan_from(inputs: Any) -> Any:
    from .plan.make import make_plan

    return make_plan(inputs)


def _plan(args: argparse.Namespace) -> Any:
    return make_plan_from(_inputs(args))


def _has_inputs(args: argparse.Namespace) -> bool:
    return bool(args.example or args.install_dir or args.bundle or sys.platform == "win32")


def _show(view: Any, kind: str, args: argparse.Namespace, out: IO[str]) -> None:
    """Render `view` (a Plan, an Outcome, an AuditReport) in the chosen --format."""
    # __import__, not importlib.import_module: importlib's package costs start-up time
    module = __import__(f"cefw.render.{VIEWS[args.format][kind]}", fromlist=["render"])
    tty = bool(getattr(out, "isatty", lambda: False)())
    # A terminal gets its own width; a file or pipe (a change ticket) COLUMNS, else a
    # generous 180.
    options = {"width": terminal_width(180) if tty else _columns(180), "color": tty,
               "wide": bool(getattr(args, "wide", False))}
    if hasattr(module, "write"):  # a renderer that writes as it goes (json: any size)
        module.write(view, out, **options)
    else:
        out.write(module.render(view, **options))


def _columns(fallback: int) -> int:
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return fallback


# -- commands --------------------------------------------------------------------------

def cmd_plan(args: argparse.Namespace, out: IO[str]) -> int:
    _show(_plan(args), "plan", args, out)
    return EXIT_OK


def _lazy(name: str) -> Callable[[argparse.Namespace, IO[str]], int]:
    """A command of commands.py, imported when it runs (not for `cefw plan`)."""
    def run(args: argparse.Namespace, out: IO[str]) -> int:
        return getattr(__import__("cefw.commands", fromlist=[name]), name)(args, out)  # type: ignore[no-any-return]

    run.__name__ = name
    return run


class Command(Record):
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
        "make the firewall hold the plan (new rules first, old ones removed last)",
        "Make the firewall hold the plan in the group \"Contact Expert\": create the "
        "missing rules and update changed ones in place first, then remove the group's "
        "rules that are not in the plan (and duplicates), so CE traffic is never blocked. "
        "Nothing outside the group is touched; a second run with nothing changed writes "
        "nothing. "
        "Refused unless asked for: deleting rules while the plan finds no CE component or "
        "more than half of the group (--allow-removals), letting more hosts connect "
        "(--allow-widening). Given no input option, the inputs of the last successful "
        "add are reused.",
        ["cefw add --dry-run --site site.toml", "cefw add --site site.toml",
         "cefw add --dry-run --backend nftables --example core-host"],
        _args_add, _lazy("cmd_add")),
    "remove": Command(
        "delete every rule of cefw's group, nothing else",
        "Delete every rule of the group \"Contact Expert\" (Windows) or the table "
        "inet contact_expert (nftables). Other rules are never read for change.",
        ["cefw remove --dry-run", "cefw remove --backend nftables"],
        _args_change, _lazy("cmd_remove")),
    "audit": Command(
        "compare the firewall with the plan (exit 1 on drift)",
        "Drift between the plan and the firewall (missing, changed, extra, duplicate "
        "rules), the plan's findings and the firewall's own state. Exit 0 in sync, 1 drift "
        "or a high-severity finding, 2 error.",
        ["cefw audit --site site.toml", "cefw audit --json > audit.json"],
        _args_audit, _lazy("cmd_audit")),
    "export": Command(
        "write the plan as a PowerShell, netsh or nft script, or a Registry.pol",
        "Scripts to review and run by hand or hand to a change board. Every value from a "
        "config file is quoted. registry-pol writes a Group Policy Registry.pol holding "
        "the rules of one role (CE servers or agent PCs).",
        ["cefw export --format powershell --site site.toml > ce.ps1",
         "cefw export --format powershell --policy-store 'CORP\\CE Servers'",
         "cefw export --format netsh > ce-rules.cmd",
         "cefw export --format nft > contact_expert.nft",
         "cefw export --format registry-pol --role core -o ce-servers.pol",
         "cefw export --format aerleon --site site.toml -o aerleon/",
         "cefw export --format aerleon --site site.toml --target ciscoasa,srx,paloalto "
         "-o aerleon/"],
        _args_export, _lazy("cmd_export")),
    "restore": Command(
        "put back the rules saved before an earlier change",
        "Put back the rules of cefw's group as they were before a change (cefw saves "
        "them before every change): by default the newest snapshot not written by a "
        "restore, so a second plain restore changes nothing (the rules a restore replaces "
        "are saved too, marked restore: --list shows them).",
        ["cefw restore --list", "cefw restore --dry-run", "cefw restore --snapshot FILE"],
        _args_restore, _lazy("cmd_restore")),
    "examples": Command("list the bundled example hosts", "List the bundled example hosts.",
                        ["cefw examples", "cefw examples --json"], _args_list,
                        _lazy("cmd_examples")),
    "components": Command(
        "list the CE components cefw knows",
        "List the CE components cefw knows, their default ports and programs.",
        ["cefw components", "cefw components --json"], _args_list, _lazy("cmd_components")),
    "pin": Command(
        "give dynamic-port components a static port in ServerAgent.Config.xml",
        "Choose free static ports (not used by any listener of the plan, not a CE port of "
        "the vendor table, outside Windows' dynamic range 49152-65535 unless asked) and "
        "write them into ServerAgent.Config.xml, changing nothing else in the file. A "
        "backup is kept beside it; the file is replaced atomically and only if nobody "
        "changed it meanwhile. Then restart the Server Agent service and run cefw add.",
        ["cefw pin --dry-run --example core-host",
         "cefw pin --install-dir 'D:\\CE' --site site.toml",
         "cefw pin AgentFactory --port 9930 --install-dir 'D:\\CE'",
         "cefw pin --range 9950-9959 --dry-run"],
        _args_pin, _lazy("cmd_pin")),
    "probe": Command(
        "connect to the CE servers' ports from this PC: open, refused or filtered",
        "From the PC it runs on, connect to every TCP port the plan says this PC may reach "
        "on the CE servers (with --expect-closed also those it must not reach) and report "
        "open / refused / filtered per component and port. Exit 0 when everything is as "
        "planned, 1 on any mismatch (each named with what to check), 2 on bad input. UDP "
        "ports are listed as not provable by a connect.",
        ["cefw probe --example core-host --site site.toml --as clients",
         "cefw probe --plan plan.json --target 10.0.1.10 --expect-closed",
         "cefw probe --install-dir ./ce-copy --site site.toml --json"],
        _args_probe, _lazy("cmd_probe")),
    "report": Command(
        "write the plan as one HTML file for the change board",
        "One self-contained HTML file: the host, cefw's version, the date and each input "
        "file with its SHA-256; a diagram of who connects to which component on which "
        "port; the rules, the listeners with where each port came from, and the findings "
        "with what to do. No script and no external request; prints well.",
        ["cefw report -o ce-ports.html",
         "cefw report --example core-host -o ce-ports.html"],
        _args_report, _lazy("cmd_report")),
    "why": Command(
        "explain a port, a rule or a component: from the config file to the rule",
        "The chain in a few lines: the port, the listener, the file, line and element "
        "(or registry value, or vendor default) it came from, the vendor's Source "
        "column, the site zone and the rule; or why there is no rule (loopback only, "
        "disabled, an empty zone). Exit 1 when nothing in the plan matches a port.",
        ["cefw why 9998 --example core-host", "cefw why udp/40010 --example core-host",
         "cefw why CE-WebService-TCP-dynamic --example core-host",
         "cefw why WebService --example core-host"],
        _args_why, _lazy("cmd_why")),
    "diff": Command(
        "compare two plans (exit 1 when they differ)",
        "Rules added, removed and changed, listeners whose port moved, findings new and "
        "gone, between two plans: HA primary against secondary, before against after an "
        "upgrade. A and B are plans saved with `cefw plan --json` or copied install "
        "folders; without B, A is compared with the plan of the host the inputs name. "
        "Exit 0 when they are the same, 1 when they differ, 2 on bad input.",
        ["cefw plan --json > before.json", "cefw diff before.json",
         "cefw diff primary.json secondary.json",
         "cefw diff ./primary-copy ./secondary-copy --site site.toml --json"],
        _args_diff, _lazy("cmd_diff")),
    "collect": Command(
        "write everything cefw reads from a host into one bundle file",
        "Collect the host's CE configuration files, a listing of its installed programs, "
        "the registry values cefw reads (both views), the channel export and, on a live "
        "Windows host, the rules of the group \"Contact Expert\" and the firewall state, "
        "into one zip with a manifest (docs/bundle.md). Every command then takes "
        "--bundle FILE in place of the host.",
        ["cefw collect -o ce-core-01.cefw.zip",
         "cefw collect --example core-host -o core-host.cefw.zip",
         "cefw collect --install-dir ./ce-copy --registry ce.reg --channels channels.csv "
         "--host-name ce-core-01 --address 10.0.1.10 -o ce-core-01.cefw.zip",
         "cefw plan --bundle ce-core-01.cefw.zip --site site.toml"],
        _args_collect, _lazy("cmd_collect")),
    "site": Command(
        "plan every host and group of a site inventory, and check them together",
        "A plan for each [[hosts]] and [[groups]] entry of the site file, from its bundle "
        "(identical plans once), and the findings across hosts: CE servers of one role "
        "on different ports, components no zone covers, groups whose members install CE "
        "in different folders, entries without a bundle (docs/site.md).",
        ["cefw site plan --site site.toml",
         "cefw site plan --site site.toml --json > site-plan.json"],
        _args_site, _lazy("cmd_site")),
}


def _examples(title: str, lines: list[str]) -> str:
    return f"{title}:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


def _argparse_messages_as_written() -> None:
    """argparse passes each of its messages through gettext, and CPython ships no
    message catalog for it, so every lookup finds nothing, only after importing locale
    and searching the locale folders: 2-3 ms of `cefw plan`'s start-up, most of building
    the parser. Its messages read exactly the same without the lookup. (cefw's own
    messages are English, so a catalog installed by hand would only mix languages.)"""
    argparse._ = str  # type: ignore[attr-defined]
    argparse.ngettext = lambda singular, plural, n: singular if n == 1 else plural  # type: ignore[attr-defined]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only`, that one command's sub-parser only (building all
    eight costs ~4 ms, a tenth of the start-up budget: argparse asks gettext for every
    heading of every sub-parser). The command list of `cefw --help` needs them all."""
    _argparse_messages_as_written()
    raw = _Formatter
    parser = argparse.ArgumentParser(
        prog="cefw", formatter_class=raw,
        description="Least-privilege firewall rules for a Contact Expert host, read from "
        "CE's own configuration.",
        epilog=_examples("examples", [
            "cefw plan --example core-host              # what a bundled CE server needs",
            "cefw plan --install-dir 'D:\\CE' --site site.toml --format markdown",
            "cefw add --dry-run --site site.toml        # what would change, no writes",
            "cefw add --site site.toml                  # make the firewall hold the plan",
            "cefw audit --json                          # drift + findings, exit 1 if any",
            "cefw export --format powershell > ce-rules.ps1",
        ]) + "\n" + EPILOG_INPUTS)
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        if only is not None and only != name:
            continue
        p = sub.add_parser(name, help=command.help, description=command.description,
                           formatter_class=raw, epilog=_examples("examples", command.examples))
        command.arguments(p)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The command word: the first argument that is not an option (the top-level parser
    has no option that takes a value). None when the top-level help may be asked for."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first not in COMMANDS or "-h" in argv[:argv.index(first)] or \
            "--help" in argv[:argv.index(first)]:
        return None
    return first


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
        try:
            status = COMMANDS[args.command].run(args, stream)
            stream.flush()  # a closed pipe shows here, inside the try, not at exit
        finally:
            if getattr(args, "cleanup", None) is not None:
                args.cleanup.close()  # a bundle opened for the run is removed now
        return status
    except CefwError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("cefw: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `cefw plan | head -1`: the reader has all it wanted. Point stdout at devnull
        # so the interpreter's own flush at exit finds nothing to complain about.
        from contextlib import suppress

        with suppress(OSError, ValueError):  # stdout may be no file (tests: StringIO)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # writing the output: a full disk, a closed device
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            return _internal_error(exc)
        print(f"cefw: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        print("  fix: free space on the disk the output goes to, or write it elsewhere",
              file=sys.stderr)
        if args.command in CHANGES and not getattr(args, "dry_run", False):
            # The output comes after the change: exit 2 would claim nothing changed.
            print("  the firewall may have been changed: `cefw audit` shows how it is",
                  file=sys.stderr)
            return EXIT_DRIFT
        return EXIT_ERROR
    except Exception as exc:  # a bug: say so plainly; the traceback only on request
        return _internal_error(exc)


CHANGES = ("add", "remove", "restore")  # the commands that may write to a firewall


def _internal_error(exc: BaseException) -> int:
    """A bug: said plainly; the traceback only on request (CEFW_DEBUG=1)."""
    if os.environ.get("CEFW_DEBUG"):
        raise exc
    print(f"cefw: internal error: {type(exc).__name__}: {exc}\n"
          "  this is a bug in cefw; run again with CEFW_DEBUG=1 for details and report "
          "it", file=sys.stderr)
    return EXIT_INTERNAL

