"""Change sets and audits as plain text: short lines that paste into a change ticket."""

from __future__ import annotations

import io
from typing import IO

from ..apply.operations import AuditReport, Outcome
from ..apply.store import ChangeSet


def render(view: Outcome | AuditReport, **options: object) -> str:
    """The outcome of add / remove / restore, or an audit report."""
    out = io.StringIO()
    if isinstance(view, AuditReport):
        print_audit(view, out)
    else:
        print_outcome(view, out)
    return out.getvalue()

_VERB = {"create": "+ create", "update": "~ update", "delete": "- delete"}


def _changes(changes: ChangeSet, out: IO[str]) -> None:
    for change in changes.changes:
        mark = "  [widens]" if change.widens else ""
        out.write(f"  {_VERB[change.action]:9} {change.name}: {change.detail}{mark}\n")
    widening = changes.widening
    if widening:
        out.write(f"  [widens]: {len(widening)} change(s) let more hosts connect than "
                  "before\n")


def print_outcome(outcome: Outcome, out: IO[str]) -> None:
    changes = outcome.changes
    target = outcome.backend
    if outcome.dry_run:
        out.write(f"Dry run ({target}): nothing was written.\n")
    if outcome.inputs:
        out.write("Inputs differ from the last successful `cefw add`:\n"
                  + "".join(f"  {line}\n" for line in outcome.inputs))
    if not changes:
        out.write(f"In sync ({target}): nothing to change "
                  f"({len(changes.unchanged)} rule(s) already as planned).\n")
    else:
        verb = "Would change" if outcome.dry_run else "Changed"
        out.write(f"{verb} ({target}): {changes.summary()}\n")
        _changes(changes, out)
    if outcome.refused:
        out.write(f"Without the option named below, `cefw add` would REFUSE this change: "
                  f"{outcome.refused}\n")
    if outcome.preview:
        out.write("\nWhat would be sent:\n" + outcome.preview.rstrip("\n") + "\n")
    if outcome.skipped:
        # One line, not one paragraph per rule: `cefw audit` gives each reason in full.
        names = ", ".join(s.rule.name for s in outcome.skipped)
        out.write(f"Not enforced by {target} ({len(outcome.skipped)}): {names}. "
                  "`cefw audit` says why.\n")
    if outcome.snapshot:
        out.write(f"Rules before the change saved in {outcome.snapshot} "
                  "(cefw restore puts them back).\n")


# What the firewall is, by backend, for the audit's header.
_FIREWALL = {"windows": "Windows Firewall holds in the group Contact Expert",
             "nftables": "nftables holds in the table inet contact_expert"}


def print_audit(report: AuditReport, out: IO[str]) -> None:
    firewall = _FIREWALL.get(report.backend, f"{report.backend} holds")
    if report.in_sync:
        out.write(f"In sync ({report.backend}): the firewall holds the "
                  f"{len(report.changes.unchanged)} rule(s) of the plan as planned.\n")
    else:
        out.write("Drift between the plan (what CE's configuration needs) and the firewall "
                  f"(what {firewall}): {len(report.changes.changes)} difference(s); "
                  "`cefw add` makes the firewall hold the plan.\n")
        for change in report.changes.changes:
            mark = "  [widens]" if change.widens else ""
            out.write(f"  {change.drift:9} {change.name}: {change.detail}{mark}\n")
    if report.findings:
        out.write("Findings:\n")
        for f in report.findings:
            who = f" [{f.component}]" if f.component else ""
            out.write(f"  {f.severity:6} {f.code}{who}: {f.message}\n")
    out.write(f"Exit status {report.exit_status}: "
              f"{'attention needed' if report.exit_status else 'all good'}.\n")
