"""What the commands other than `cefw plan` do: add, remove, audit, restore, export,
report, why, diff, collect, site, pin, probe, examples, components. cli.py parses the
command line and imports this module only when one of them runs, so `cefw plan` (the
command run most, and in scripts) does not load their code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO, Any

from .cli import (
    EXIT_OK,
    _has_inputs,
    _inputs,
    _opened,
    _plan,
    _show,
    make_plan_from,
)
from .errors import CefwError, InputError


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

    return StateDir(args.state_dir, keep=getattr(args, "keep_snapshots", None))


def _guard(plan: Any, args: argparse.Namespace) -> Any:
    from .apply.operations import guard_for

    return guard_for(plan, args.allow_removals, args.allow_widening)


def _warn_refused(outcome: Any) -> None:
    if outcome.refused:  # the reasons are in the output (text, or `refused` in JSON)
        wanted = " and ".join(o for o in ("--allow-removals", "--allow-widening")
                              if o in outcome.refused)
        print(f"cefw: warning: a real run would be refused (exit 2, nothing changed) "
              f"without {wanted}: see why in the output", file=sys.stderr)


def cmd_add(args: argparse.Namespace, out: IO[str]) -> int:
    from .apply.operations import converge

    backend, state = _backend(args), _state(args)
    inputs, notes = _recalled_inputs(args, state, backend.name)
    plan = make_plan_from(inputs)
    _report_host(backend, plan.rules, dry_run=args.dry_run)
    outcome = converge(backend, plan.rules, state, dry_run=args.dry_run,
                       guard=_guard(plan, args), command="add")._replace(inputs=notes)
    _show(outcome, "change", args, out)
    _warn_refused(outcome)
    if not args.dry_run:
        _remember(args, inputs, state, backend.name)
    _restart_note(outcome, core="core" in plan.host.roles)
    _warn_findings(plan.findings)
    return EXIT_OK


def _report_host(backend: Any, rules: Any, *, dry_run: bool) -> None:
    """What `cefw audit` knows about the host, said before anything changes (stderr):
    firewall off, all inbound blocked, Group Policy overriding local rules, another
    table dropping the traffic, a network in a profile the rules do not cover, allow
    rules outside the group that undo cefw's scoping. These never stop the change: the
    rules cefw writes are right either way and needed once the cause is fixed; the admin
    is told first, in plain words, what will keep them from working."""
    from .apply.store import split

    backend.check_ready(write=not dry_run)  # not elevated / not root: exit 2 first
    found = backend.store_findings(split(rules, backend)[0])
    if not found:
        return
    high = sum(1 for f in found if f.severity == "high")
    print(f"cefw: before changing anything: {len(found)} thing(s) on this host keep CE's "
          f"rules from working as planned ({high} high):", file=sys.stderr)
    for item in found:
        print(f"  [{item.severity}] {item.code}: {item.message}", file=sys.stderr)


def cmd_remove(args: argparse.Namespace, out: IO[str]) -> int:
    from .apply.operations import converge
    from .plan.remembered import given

    # remove deletes the table whatever it holds: no CE hosts needed (--hook forward)
    backend, state = _backend(args, hosts=False), _state(args)
    core = None
    typed = given(args)
    inputs, _ = _recalled_inputs(args, state, backend.name)
    if _has_inputs(args):
        try:  # the plan only tells whether this is a CE server (for the restart note)
            core = "core" in make_plan_from(inputs).host.roles
        except InputError:  # remembered inputs gone since must not stop a removal
            if typed.get("example") or typed.get("install_dir") or typed.get("bundle"):
                raise
    outcome = converge(backend, [], state, dry_run=args.dry_run, command="remove",
                       wanted=None)
    _show(outcome, "change", args, out)
    _restart_note(outcome, core=core)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, out: IO[str]) -> int:
    from .apply.operations import audit
    from .platforms import default_name

    inputs, _ = _recalled_inputs(args, _state(args), args.backend or default_name())
    plan = make_plan_from(inputs)
    backend = _audit_backend(args)
    report = audit(backend, plan.rules, (*plan.findings, *_policy_findings(inputs, plan)))
    _show(report, "change", args, out)
    return report.exit_status


def _audit_backend(args: argparse.Namespace) -> Any:
    """With --bundle and no --backend: the firewall the bundle recorded on its host."""
    if not getattr(args, "bundle", None) or args.backend:
        return _backend(args)
    recorded = _opened(args).recorded_backend()
    if recorded is None:
        raise CefwError(
            f"the bundle {args.bundle} holds no firewall record: "
            f"{_opened(args).verified.manifest['firewall']['absent']}",
            "collect the bundle on the host itself (Export-CEHostBundle, or cefw collect on "
            "Windows), or pass --backend to audit this machine's firewall against the plan")
    return recorded


def _policy_findings(inputs: Any, plan: Any) -> list[Any]:
    """What the firewall rules Group Policy delivers (read from the registry the inputs
    name: live on Windows, a hive, .reg exports) do to the plan."""
    from .plan.make import registry_source
    from .platforms.windows.gpfas import delivered_findings

    return delivered_findings(registry_source(inputs), plan.rules)


def _recalled_inputs(args: argparse.Namespace, state: Any,
                     backend: str) -> tuple[Any, tuple[str, ...]]:
    """The inputs to plan from, and how they differ from those of the last successful
    `cefw add` on this backend. Given no input option, the remembered ones are reused
    (said on stderr)."""
    from .plan import remembered as memory

    found = memory.usable(state.read_json(memory.file_name(backend)))
    options = memory.given(args)
    if not options and found and not getattr(args, "bundle", None):
        memory.apply_to(args, found)
        options = found["options"]
        print(f"cefw: no inputs given: using those of the last successful `cefw add` "
              f"({found['time']}, from {state.path}): {memory.command_line(options)}",
              file=sys.stderr)
    inputs = _inputs(args)
    notes: tuple[str, ...] = ()
    if found:
        notes = tuple(memory.differences(found, options, inputs))
        if notes:
            print(f"cefw: inputs differ from the last successful `cefw add` ({found['time']}):"
                  + "".join(f"\n  {n}" for n in notes), file=sys.stderr)
    return inputs, notes


def _remember(args: argparse.Namespace, inputs: Any, state: Any, backend: str) -> None:
    """Keep the inputs of this successful add; failing to is a warning, not a failure:
    the firewall change is done."""
    import time

    from .errors import EnvironmentProblem
    from .plan import remembered as memory

    options = memory.given(args)
    if not options:
        return
    try:
        state.write_json(memory.file_name(backend), memory.record(
            options, inputs, time.strftime("%Y-%m-%d %H:%M:%S")))
    except EnvironmentProblem as exc:
        print(f"cefw: warning: the inputs were not remembered: {exc.problem}",
              file=sys.stderr)


def cmd_export(args: argparse.Namespace, out: IO[str]) -> int:
    from .platforms import EXPORTS, exporter

    if args.policy_store and args.format != "powershell":
        raise CefwError(f"--policy-store works with --format powershell only, not "
                        f"{args.format}", "drop --policy-store, or export PowerShell "
                        "(Open-NetGPO writes into the Group Policy object)")
    plan = _plan(args)
    export, module = EXPORTS[args.format], exporter(args.format)
    options = {"policy_store": args.policy_store, "targets": args.target,
               "destinations": args.destination, "site": _site(args)}
    if args.role:
        options["role"] = args.role
    if export.folder and args.output:
        return _export_folder(module, plan, options, args.output)
    _summary_needs_output(args, "the script")
    text = module.render(plan, **options)
    if export.encoding is None:
        return _write_binary(text, args, out)
    if args.output:
        _write_file(args.output, text, export.encoding, export.newline)
        left_out = module.left_out(plan)
        if args.json:
            _summary_json(out, "cefw.export/1", format=args.format, file=str(args.output),
                          planned=len(plan.rules), held=len(plan.rules) - len(left_out),
                          left_out=[{"rule": name, "reason": why} for name, why in left_out])
        else:
            print(_export_summary(args.output, len(plan.rules), left_out), file=sys.stderr)
    else:
        out.write(text)
    _export_findings(module, plan, options)
    return EXIT_OK


def _summary_needs_output(args: argparse.Namespace, what: str) -> None:
    """--json prints the summary of a file written with -o; without -o standard output
    holds the file itself, so the two cannot share it."""
    if args.json and not args.output:
        raise CefwError(f"--json prints the summary of what -o FILE wrote; without -o, "
                        f"{what} itself goes to standard output",
                        "add -o FILE, or drop --json")


def _summary_json(out: IO[str], schema: str, **fields: object) -> None:
    from .render.json import dumps

    out.write(dumps({"schema": schema, **fields}))


def _write_binary(data: bytes, args: argparse.Namespace, out: IO[str]) -> int:
    """A binary export (Registry.pol) goes to -o FILE or a pipe, never to a terminal."""
    if args.output:
        _write_file(args.output, data)
        if args.json:
            _summary_json(out, "cefw.export/1", format=args.format, file=str(args.output),
                          bytes=len(data))
        else:
            print(f"cefw: wrote {args.output} ({len(data)} bytes)", file=sys.stderr)
        return EXIT_OK
    buffer = getattr(out, "buffer", None)
    if buffer is None or getattr(out, "isatty", lambda: False)():
        raise CefwError(f"--format {args.format} writes a binary file, not text for a "
                        "terminal", "pass -o FILE (e.g. -o ce-servers.pol)")
    out.flush()
    buffer.write(data)
    buffer.flush()
    return EXIT_OK


def _export_summary(path: Path, planned: int, left_out: list[tuple[str, str]]) -> str:
    held = planned - len(left_out)
    text = f"cefw: wrote {path}: the script holds {held} of the plan's {planned} rule(s)"
    if not left_out:
        return text
    reasons: dict[str, list[str]] = {}
    for name, why in left_out:
        reasons.setdefault(why, []).append(name)
    lines = [f"{text}; {len(left_out)} left out:"]
    lines += [f"  {', '.join(names)}: {why}" for why, names in reasons.items()]
    return "\n".join(lines)


def _write_file(path: Path, text: str | bytes, encoding: str = "utf-8",
                newline: str | None = None) -> None:
    """Write an output file the user named; a folder that is not there is their mistake
    (exit 2 with a message), not a bug."""
    folder = path.parent
    if not folder.is_dir():
        raise InputError(str(path), "", f"the folder {folder} does not exist",
                         "create it first, or give -o a path in an existing folder")
    try:
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding=encoding, newline=newline)
    except OSError as exc:
        raise InputError(str(path), "", f"cannot write the file ({exc.strerror})",
                         "check the path and that you may write there") from None


def _report_date() -> str:
    """Today (UTC), or SOURCE_DATE_EPOCH's date: the reproducible-builds convention,
    so a report can be made again byte for byte (and tested against a golden file)."""
    from datetime import UTC, datetime

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return when.strftime("%Y-%m-%d")


def cmd_report(args: argparse.Namespace, out: IO[str]) -> int:
    from . import __version__
    from .plan.inputs import input_files, shown
    from .plan.make import make_plan
    from .render import report

    _summary_needs_output(args, "the HTML")
    inputs = _inputs(args)
    plan = make_plan(inputs)
    text = report.render(plan, inputs=input_files(inputs, plan), version=__version__,
                         generated=_report_date(),
                         install_shown=shown(Path(plan.host.install_dir)))
    if args.output:
        _write_file(args.output, text)
        if args.json:
            _summary_json(out, "cefw.report/1", file=str(args.output), rules=len(plan.rules),
                          listeners=len(plan.endpoints), findings=len(plan.findings))
        else:
            print(f"cefw: wrote {args.output} ({len(plan.rules)} rules, "
                  f"{len(plan.endpoints)} listeners, {len(plan.findings)} findings)",
                  file=sys.stderr)
    else:
        out.write(text)
    return EXIT_OK


def cmd_why(args: argparse.Namespace, out: IO[str]) -> int:
    from .plan.explain import explain

    found = explain(_plan(args), args.target)
    _show(found, "why", args, out)
    return found.exit_status


def _side(text: str, args: argparse.Namespace) -> Any:
    """One side of `cefw diff`: a plan JSON file, or an install folder read with the
    command line's other inputs (its --site, --program-dir: the same for both hosts)."""
    from .plan.compare import Side, load_plan_file
    from .plan.make import make_plan
    from .readers.context import Inputs

    path = Path(text)
    if path.is_dir():
        inputs = Inputs(install_dir=path, program_dir=args.program_dir, site=args.site)
        return Side(f"{text} (install folder)", make_plan(inputs).to_json())
    if not path.exists():
        raise InputError(text, "", "no such file or folder",
                         "give a plan saved with `cefw plan --json > plan.json`, or a "
                         "copied CE install folder")
    return Side(text, load_plan_file(path))


def cmd_diff(args: argparse.Namespace, out: IO[str]) -> int:
    from .plan.compare import Side, compare

    a = _side(args.a, args)
    if args.b:
        b = _side(args.b, args)
    else:
        plan = _plan(args)
        b = Side(f"this host ({plan.host.install_dir})", plan.to_json())
    found = compare(a, b)
    _show(found, "diff", args, out)
    return found.exit_status


def cmd_collect(args: argparse.Namespace, out: IO[str]) -> int:
    from .bundle.collect import HostFacts, collect, this_host

    if args.bundle:
        raise CefwError("cefw collect reads a host, not a bundle",
                        "drop --bundle (a bundle is already what collect writes)")
    live = sys.platform == "win32" and not (args.example or args.registry or args.hive)
    inputs = _inputs(args)
    addresses = _addresses(args.address)
    if live:
        facts = this_host()
        host = HostFacts(args.host_name or facts.name, addresses or facts.addresses)
    else:
        host = HostFacts(args.host_name or args.example, addresses)
    collected = collect(inputs, host, firewall=_live_firewall if live else None, live=live,
                        now=_now())
    _write_atomically(args.output, collected.data)
    members = collected.manifest["members"]
    firewall = collected.manifest["firewall"]
    if args.json:
        _summary_json(out, "cefw.collect/1", file=str(args.output), members=len(members) + 1,
                      bytes=len(collected.data), firewall_recorded=bool(firewall["member"]),
                      firewall_absent=firewall["absent"] or None)
        return EXIT_OK
    print(f"cefw: wrote {args.output} ({len(members) + 1} members, {len(collected.data):,} "
          f"bytes; firewall: {'recorded' if firewall['member'] else 'not recorded, '}"
          f"{firewall['absent'] or ''})", file=sys.stderr)
    return EXIT_OK


def _addresses(given: list[str]) -> tuple[str, ...]:
    from .addresses import AddressSyntaxError, canonical

    try:
        return canonical(given) if given else ()
    except AddressSyntaxError as exc:
        raise CefwError(f"--address: {exc}", "give IPv4 or IPv6 addresses") from None


def _live_firewall(registry: Any) -> dict[str, Any]:
    from .platforms import get_backend
    from .platforms.windows.recorded import record

    return record(get_backend("windows"), registry)


def _now() -> Any:
    """The collection time; SOURCE_DATE_EPOCH (reproducible builds' convention) fixes it."""
    from datetime import UTC, datetime

    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)


def _write_atomically(path: Path, data: bytes) -> None:
    """The whole file or nothing: written beside the target, then renamed over it."""
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    temp = ""
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except OSError as exc:
        if temp and os.path.exists(temp):
            os.unlink(temp)
        raise CefwError(f"cannot write {path}: {exc.strerror}",
                        "choose a folder you may write to (-o FILE)") from None


def cmd_site(args: argparse.Namespace, out: IO[str]) -> int:
    from .plan.fleet import plan_site
    from .plan.site import load

    _show(plan_site(load(args.site)), "site", args, out)
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
    if args.list:
        return _list_snapshots(state, backend.name, args, out)
    path = args.snapshot or state.latest_snapshot(backend.name)
    if path is None:
        raise CefwError(f"no snapshot for the {backend.name} backend in {state.path}",
                        "pass --snapshot FILE, or --state-dir where cefw saved them "
                        "(`cefw restore --list` shows them)")
    rules = load_snapshot(path)
    verb = "would put back" if args.dry_run else "putting back"
    print(f"cefw: {verb} the {len(rules)} rule(s) saved in {path}", file=sys.stderr)
    # The rules replaced are saved as a snapshot marked "restore": a plain restore skips
    # those, so running it twice puts back the same rules instead of undoing itself.
    outcome = converge(backend, rules, state, dry_run=args.dry_run, command="restore",
                       wanted="snapshot")
    _show(outcome, "change", args, out)
    _restart_note(outcome, core=None)
    return EXIT_OK


def _list_snapshots(state: Any, backend: str, args: argparse.Namespace, out: IO[str]) -> int:
    found = state.describe(backend)
    plain = state.latest_snapshot(backend)
    if args.format == "json":
        from .render.json import dumps

        out.write(dumps({"schema": "cefw.snapshots/1", "backend": backend,
                         "state_dir": str(state.path), "keep": state.keep,
                         "default": str(plain) if plain else None,
                         "snapshots": [s.to_json() for s in found]}))
        return EXIT_OK
    if not found:
        out.write(f"No snapshot for the {backend} backend in {state.path}.\n")
        return EXIT_OK
    out.write(f"Snapshots for {backend} in {state.path}, newest first (kept: {state.keep}); "
              "each holds the rules as they were before that command wrote:\n")
    for s in found:
        rules = f"{s.rules} rule(s)" if s.rules >= 0 else "unreadable"
        mark = "  <- plain `cefw restore` uses this" if s.path == plain else ""
        out.write(f"  {s.time}  before {s.command or '?':8} {rules:13} {s.path.name}{mark}\n")
    return EXIT_OK


def cmd_examples(args: argparse.Namespace, out: IO[str]) -> int:
    from .examples import describe_examples

    found = describe_examples()
    if args.json:
        from .render.json import dumps

        out.write(dumps({"schema": "cefw.examples/1",
                         "examples": [{"name": n, "description": d} for n, d in found]}))
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

        out.write(dumps({"schema": "cefw.components/1", "components": [{
            "id": c.id, "role": c.role, "program": c.program,
            "ports": [{"protocol": d.protocol, "port": d.port, "label": d.label}
                      for d in c.defaults],
            "dynamic": c.dynamic, "sources": list(c.sources),
            "configured_in": list(c.config)} for c, _ in rows]}))
        return EXIT_OK
    # The vendor's table: component, ports, Source (who connects); under each, where
    # its port is configured and its program under the install folder.
    out.write(f"{'Component':31} {'Role':5} {'Ports':27} Source\n")
    for c, ports in rows:
        where = ", ".join(c.config) or "listens on nothing"
        out.write(f"{c.id:31} {c.role:5} {ports:27} {', '.join(c.sources)}\n"
                  f"  configured in: {where}; program: {c.program}\n")
    return EXIT_OK


def cmd_pin(args: argparse.Namespace, out: IO[str]) -> int:
    from . import pin

    if getattr(args, "bundle", None):
        raise CefwError("cefw pin rewrites the host's ServerAgent.Config.xml, and a bundle "
                        "is a copy of it", "run cefw pin on the host (or on the install "
                        "folder itself: --install-dir), then collect a new bundle")
    plan = _plan(args)
    choice = pin.select(plan, args.components, repin=args.port is not None)
    if not choice.targets and args.json:
        return pin.report_json(None, choice.notes, args.dry_run, out)
    if not choice.targets:
        for note in choice.notes:
            out.write(f"cefw: not pinned: {note}\n")
        out.write("cefw: nothing to pin: no component listed picks its port at run time "
                  "from ServerAgent.Config.xml\n")
        return EXIT_OK
    if args.example and not args.install_dir and not args.dry_run:
        from .examples import ROOT

        raise CefwError(f"the bundled example {args.example!r} is part of cefw and is not "
                        "rewritten", f"copy {ROOT / args.example} and pass its install "
                        "folder with --install-dir, or add --dry-run")
    result = pin.pin(plan, choice.targets, port=args.port, within=args.within,
                     style=args.style, dry_run=args.dry_run)
    if args.json:
        return pin.report_json(result, choice.notes, args.dry_run, out)
    if args.dry_run:
        out.write(result.diff)
    pin.report(result, choice.notes, args.dry_run, out)
    return EXIT_OK


def cmd_probe(args: argparse.Namespace, out: IO[str]) -> int:
    from . import probe

    plan = probe.load_plan_json(args.plan_file) if args.plan_file else _plan(args).to_json()
    if args.target:
        targets = [probe.check_target(t) for t in args.target]
        where = "--target"
    else:
        site = args.site or (_inputs(args).site if args.example else None)
        targets, where = probe.targets_from_site(site)
    results, unprovable = probe.run(plan, targets, args.zone, expect_closed=args.expect_closed,
                                    timeout=args.timeout, concurrency=args.concurrency,
                                    progress=not args.json)
    if args.json:
        return probe.report_json(results, unprovable, out)
    who = f"as {args.zone} (--as)" if args.zone else "judged by this PC's own address"
    header = (f"Probing {', '.join(targets)} (from {where}), {who}: TCP connects, "
              f"{args.timeout:g} s timeout, {args.concurrency} at once")
    return probe.report(results, unprovable, header, out)


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
