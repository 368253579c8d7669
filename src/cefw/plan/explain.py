"""`cefw why PORT|RULE|COMPONENT`: the chain from a port to its rule, read off a Plan.

port -> listener -> where its port came from (file, line and element; registry value;
vendor default) -> the vendor's "Source" -> the site zone -> the rule, or why there is
no rule (loopback only, disabled, empty zone). Nothing is read here: the plan already
holds every link; this only picks the listeners asked about and follows them.
"""

from __future__ import annotations

import re

from .. import catalog
from ..errors import InputError
from ..model import ANY, Endpoint, Finding, Plan, Rule, Zone
from ..ports import format_ports
from ..record import Record
from .policy import rule_name

_PORT = re.compile(r"^(?:(tcp|udp)[/ :])?(\d{1,5})(?:/(tcp|udp))?$", re.I)


class Link(Record):
    """One listener and everything that follows from it."""

    endpoint: Endpoint
    rule: Rule | None
    no_rule: str  # why there is no rule ("" when there is one)
    findings: tuple[Finding, ...]

    def to_json(self) -> dict[str, object]:
        return {"endpoint": self.endpoint.to_json(),
                "rule": self.rule.name if self.rule else None,
                "no_rule": self.no_rule,
                "zones": [catalog.SOURCE_ZONES.get(s, s) for s in self.endpoint.sources],
                "findings": [f.code for f in self.findings]}


class Explanation(Record):
    target: str
    kind: str  # "port" | "rule" | "component"
    links: tuple[Link, ...]
    rules: tuple[Rule, ...]  # the rules involved, in plan order
    zones: tuple[Zone, ...] = ()  # the site file's zones, for showing them as written

    def to_json(self) -> dict[str, object]:
        return {"schema": "cefw.why/1", "target": self.target, "kind": self.kind,
                "listeners": [link.to_json() for link in self.links],
                "rules": [r.to_json() for r in self.rules]}

    @property
    def exit_status(self) -> int:
        return 0 if self.links else 1


def explain(plan: Plan, target: str) -> Explanation:
    """The listeners `target` names: a port ("9998", "udp/40010", "9998/tcp"), a rule
    name or a component id (case-insensitive). An unknown name is the user's mistake:
    InputError with the nearest names."""
    match = _PORT.match(target.strip())
    if match:
        protocol = (match.group(1) or match.group(3) or "").upper()
        port = int(match.group(2))
        eps = [ep for ep in plan.endpoints
               if any(lo <= port <= hi for lo, hi in ep.ports)
               and (not protocol or ep.protocol == protocol)]
        return _explanation(plan, target, "port", eps)
    wanted = target.strip().lower()
    for rule in plan.rules:
        if rule.name.lower() == wanted:
            eps = [ep for ep in plan.endpoints if _rule_for(plan, ep) == rule]
            return _explanation(plan, target, "rule", eps)
    components = {c.lower(): c for c in (*catalog.BY_ID, *(ep.component for ep in
                                                            plan.endpoints))}
    if wanted in components:
        eps = [ep for ep in plan.endpoints if ep.component == components[wanted]]
        return _explanation(plan, target, "component", eps)
    from difflib import get_close_matches

    names = [r.name for r in plan.rules] + sorted(set(components.values()))
    close = get_close_matches(target, names, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise InputError("", "", f"{target!r} is not a port, a rule of this plan or a CE "
                     "component", f"{hint}give a port (9998, udp/40010), a rule name "
                     "(see `cefw plan`) or a component (see `cefw components`)")


def _explanation(plan: Plan, target: str, kind: str, eps: list[Endpoint]) -> Explanation:
    links = tuple(_link(plan, ep) for ep in eps)
    involved = {link.rule.name for link in links if link.rule}
    return Explanation(target, kind, links,
                       tuple(r for r in plan.rules if r.name in involved), plan.zones)


def _rule_for(plan: Plan, ep: Endpoint) -> Rule | None:
    """The rule policy.build made for this listener: same component, protocol, program
    and dynamic-ness (its name may carry a -2 when a component runs from two paths)."""
    if not ep.needs_rule:
        return None
    base = rule_name(ep.component, ep.protocol, ep.dynamic)
    for rule in plan.rules:
        if (rule.program == ep.program and rule.protocol == ep.protocol
                and ep.component in rule.components
                and (rule.name == base or rule.name.startswith(base + "-"))
                and (not rule.local_ports) == ep.dynamic):
            return rule
    return None


def _link(plan: Plan, ep: Endpoint) -> Link:
    rule = _rule_for(plan, ep)
    about = _findings_about(plan, ep)
    if rule is not None:
        return Link(ep, rule, "", about)
    if not ep.enabled:
        why = "the server is configured with Enabled=\"false\": it does not run"
    elif ep.loopback_only:
        why = (f"it listens on {ep.bind or 'loopback'} only: nothing from the network "
               "can reach it")
    elif any(f.code == "empty-zone" for f in about):
        why = ("the site file's zone for its Source is empty (nobody): the rule is left "
               "out")
    else:
        why = "no rule was made for it (see the findings)"
    return Link(ep, None, why, about)


def _findings_about(plan: Plan, ep: Endpoint) -> tuple[Finding, ...]:
    """The component's findings that concern this listener: not those naming another of
    its listeners (a Tomcat application), no dynamic-port one for a fixed port."""
    others = {o.label for o in plan.endpoints
              if o.component == ep.component and o.label and o.label != ep.label}
    return tuple(f for f in plan.findings if f.component == ep.component
                 and not (f.code == "dynamic-port" and not ep.dynamic)
                 and not any(f"({label})" in f.message or f"'{label}'" in f.message
                             for label in others))


def describe_rule(rule: Rule, who: str = "") -> str:
    """`who`: the remote side as people read it (zones as written); default the rule's
    own addresses."""
    ports = format_ports(rule.local_ports, "any port (the port is picked at run time)")
    if rule.remote_addresses == (ANY,):
        who = "any address"
    who = who or ", ".join(rule.remote_addresses)
    return f"{rule.name}: {rule.protocol} {ports} from {who}; profiles {', '.join(rule.profiles)}"
