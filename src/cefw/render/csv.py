"""The plan as CSV: one row per listener, joined with the rule that opens it (for
spreadsheets and fleet inventories). Findings are a separate table: `--format json`."""

from __future__ import annotations

import csv
import io

from ..model import Plan
from ..ports import format_ports
from . import rows

HEADERS = ("component", "label", "protocol", "ports", "dynamic", "enabled", "loopback_only",
           "bind", "sources", "rule", "remote_addresses", "program", "origin_kind",
           "origin_path", "origin_where")


def render(plan: Plan, **options: object) -> str:
    rule_of = {}
    for rule in plan.rules:
        for component in rule.components:
            rule_of.setdefault((component, rule.protocol, not rule.local_ports,
                                rule.program), rule)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADERS)
    for ep in plan.endpoints:
        rule = rule_of.get((ep.component, ep.protocol, ep.dynamic, ep.program)) \
            if ep.needs_rule else None
        writer.writerow((
            ep.component, ep.label, ep.protocol, format_ports(ep.ports, ""),
            str(ep.dynamic).lower(), str(ep.enabled).lower(), str(ep.loopback_only).lower(),
            ep.bind, " ".join(ep.sources), rule.name if rule else "",
            rows.addresses(rule) if rule else "", ep.program, ep.origin.kind,
            ep.origin.path, ep.origin.where,
        ))
    return out.getvalue()
