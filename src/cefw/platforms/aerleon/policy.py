"""The plan as aerleon's two documents, built as plain data (the dicts aerleon's
Generate API takes) and written as YAML (the files its `aclgen` reads):

    definitions   networks: CE_SERVERS, CE_CLIENTS (the site's zones), CE_HOSTS (the CE
                  servers the rules protect); services: one per rule (its ports)
    policy        one filter: one accept term per rule (its zones -> CE_HOSTS, its
                  ports), then per protocol one closing term dropping the CE ports to
                  CE_HOSTS from everyone else. Traffic to other ports and hosts is not
                  mentioned: the device's own rules (or its default) decide it.

Rules without a port (a program that picks its port at run time) cannot be written on a
network device: they are left out, each with a finding.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ...apply.store import Skipped
from ...model import ANY, Finding, Plan, Rule
from ...plan.site import ZONES, Site, zones_for
from ...ports import format_range, merge

NAME = "contact_expert"  # the policy's file name: aclgen names its outputs after it
TERM_MAX = 24  # aerleon's shortest term-name limit (iptables); every target accepts it
HOSTS = "CE_HOSTS"
DENY_TERM = "ce-deny-others"

# Target -> the header options cefw writes for it: filter names and zones are the
# device's, so these are starting points the network team edits in the policy file.
# `mixed`: IPv4 and IPv6 in one filter where the target has it; iptables is IPv4 only
# (ip6tables takes a second filter, added when the plan has IPv6 addresses); a custom
# chain (iptables) or an accept-by-default chain (nftables) leaves other traffic to the
# host's own rules, the way cefw's own nftables table does.
HEADERS: dict[str, str] = {
    "ciscoasa": "contact-expert",
    "cisco": "contact-expert mixed",
    "cisconx": "contact-expert mixed",
    "ciscoxr": "contact-expert mixed",
    "arista": "contact-expert mixed",
    "juniper": "contact-expert mixed",
    "juniperevo": "contact-expert mixed ingress",
    "srx": "from-zone untrust to-zone trust mixed",
    "paloalto": "from-zone untrust to-zone trust mixed",
    "openconfig": "contact-expert mixed",
    "nokiasrl": "contact-expert mixed",
    "packetfilter": "contact-expert mixed",
    "iptables": "contact-expert inet",
    "nftables": "mixed forward -10 ACCEPT",
}
DEFAULT_TARGETS = ("ciscoasa", "juniper", "srx", "paloalto", "iptables", "nftables")
IPV6_ONLY = {"iptables": "contact-expert6 inet6"}  # targets with one family per filter


class Documents(NamedTuple):
    definitions: dict[str, Any]
    policy: dict[str, Any]
    terms: dict[str, Rule]  # term name -> the rule it stands for
    skipped: list[Skipped]
    destinations: tuple[str, ...]
    destinations_from: str


def build(plan: Plan, site: Site, destinations: tuple[str, ...], destinations_from: str,
          targets: Sequence[str] = DEFAULT_TARGETS) -> Documents:
    kept = [r for r in plan.rules if r.local_ports]
    skipped = [Skipped(r, "aerleon", "it names no port (its program picks its ports at run "
                       "time) and a network device cannot match a program. Pin a static "
                       "port to have it enforced") for r in plan.rules if not r.local_ports]
    networks: dict[str, Any] = {}
    for zone in ZONES:
        if site.zones.get(zone):
            networks[zone_network(zone)] = _values(site.zones[zone], f"site zone '{zone}'")
    networks[HOSTS] = _values(destinations, "CE server" if destinations_from == "--destination"
                              else "CE server (site zone 'servers')")
    services: dict[str, Any] = {}
    protocols: dict[str, str] = {}  # service -> its protocol
    accepts: list[dict[str, Any]] = []
    names = term_names(r.name for r in kept)
    terms: dict[str, Rule] = {}
    for rule in kept:
        term = names[rule.name]
        terms[term] = rule
        service = term.upper().replace("-", "_")
        protocols[service] = rule.protocol.lower()
        services[service] = [{"port": _port(r), "protocol": rule.protocol.lower(),
                              "comment": rule.name} for r in merge(rule.local_ports)]
        body: dict[str, Any] = {"name": term, "comment": _comment(rule)}
        source = _source(rule, site, term, networks)
        if source:
            body["source-address"] = source
        body.update({"destination-address": HOSTS, "destination-port": service,
                     "protocol": rule.protocol.lower(), "action": "accept"})
        accepts.append(body)
    filters = []
    if accepts:
        closing = [_deny(protocol, [s for s, p in protocols.items() if p == protocol])
                   for protocol in sorted(set(protocols.values()))]
        filters.append(_filter(targets, HEADERS, [*accepts, *closing]))
        has_v6 = any(":" in a for v in networks.values() for item in v["values"]
                     for a in [item["address"]])
        second = [t for t in targets if t in IPV6_ONLY]
        if has_v6 and second:
            filters.append(_filter(second, IPV6_ONLY, [*accepts, *closing]))
    definitions = {"networks": networks, "services": services}
    policy = {"filename": NAME, "filters": filters}
    return Documents(definitions, policy, terms, skipped, destinations, destinations_from)


def _deny(protocol: str, services: list[str]) -> dict[str, Any]:
    """The closing term of one protocol: its CE ports on the CE hosts, from anyone the
    accepts above did not let through, dropped. One per protocol: a term's ports apply
    to each of its protocols, so one term for both would drop UDP on the TCP ports."""
    return {"name": f"{DENY_TERM}-{protocol}",
            "comment": f"Contact Expert {protocol.upper()} ports on the CE hosts, from "
                       "anyone not allowed above: dropped",
            "destination-address": HOSTS, "destination-port": " ".join(services),
            "protocol": protocol, "action": "deny"}


def _filter(targets: Sequence[str], headers: dict[str, str],
            terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {"header": {"targets": {t: headers[t] for t in targets},
                       "comment": "Contact Expert: written by cefw from CE's configuration; "
                                  "regenerate with cefw export --format aerleon"},
            "terms": terms}


def _port(ports: tuple[int, int]) -> int | str:
    return ports[0] if ports[0] == ports[1] else format_range(ports)


def zone_network(zone: str) -> str:
    return f"CE_{zone.upper()}"


def _values(addresses: Iterable[str], comment: str) -> dict[str, Any]:
    return {"values": [{"address": a if "/" in a else _host(a), "comment": comment}
                       for a in addresses]}


def _host(address: str) -> str:
    return f"{address}/128" if ":" in address else f"{address}/32"


def _source(rule: Rule, site: Site, term: str, networks: dict[str, Any]) -> str:
    """The networks of the rule's sources: the zones whose addresses together are
    exactly the rule's, else a network of its own; "" for any address."""
    if rule.remote_addresses == (ANY,):
        return ""
    zones = zones_for(site, rule.remote_addresses)
    if zones:
        return " ".join(zone_network(z) for z in zones)
    own = f"{term.upper().replace('-', '_')}_SOURCES"
    networks[own] = _values(rule.remote_addresses, f"sources of {rule.name}")
    return own


def _comment(rule: Rule) -> str:
    return f"{rule.name}: {rule.display_name}"


# ---------------------------------------------------------------- term names


def term_names(rule_names: Iterable[str]) -> dict[str, str]:
    """Rule name -> a term name every aerleon target accepts: lower case letters, digits
    and '-', at most TERM_MAX characters, unique, the same for the same rule name in
    every run (so the device's rule names are stable too). Long component names are
    shortened word by word (TelephonyConnectorServer.TSAPI -> tel-conn-srv-tsapi)."""
    out: dict[str, str] = {}
    taken = {f"{DENY_TERM}-tcp", f"{DENY_TERM}-udp"}
    for name in rule_names:
        term = short_name(name)
        if term in taken:
            term = _with_hash(term, name)
        taken.add(term)
        out[name] = term
    return out


_WORDS = {
    "telephony": "tel", "connector": "conn", "server": "srv", "service": "svc",
    "recorder": "rec", "manager": "mgr", "campaign": "cmp", "dialer": "dial",
    "license": "lic", "naming": "name", "factory": "fact", "contact": "ct",
    "router": "rtr", "email": "mail", "webservice": "web", "agent": "agt",
}


def short_name(rule_name: str) -> str:
    base = re.sub(r"^CE-", "", rule_name)
    words = [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", base, re.ASCII)]
    plain = "-".join(["ce", *words])
    if len(plain) <= TERM_MAX:
        return plain
    short = "-".join(["ce", *(_WORDS.get(w, w) for w in words)])
    return short if len(short) <= TERM_MAX else _with_hash(short, rule_name)


def _with_hash(term: str, rule_name: str) -> str:
    digest = hashlib.sha256(rule_name.encode("utf-8")).hexdigest()[:4]
    return f"{term[:TERM_MAX - 5].rstrip('-')}-{digest}"


# ---------------------------------------------------------------- YAML text


def findings(documents: Documents) -> list[Finding]:
    return [s.finding() for s in documents.skipped]


def yaml_text(data: Any, header: Sequence[str] = ()) -> str:
    """Block-style YAML of dicts, lists, strings and ints. Every string is written as
    a JSON string (a valid YAML double-quoted scalar), so no value from a config file
    can become a key, a list or a comment."""
    lines = [f"# {_CONTROL.sub(' ', line)}" for line in header]
    _emit(data, 0, lines)
    return "\n".join(lines) + "\n"


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_BREAKS = re.compile(r"[\x7f-\x9f\u2028\u2029\ufeff]")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _key(key: str) -> str:
    """Keys cefw chooses (aerleon's words, CE_ names) plainly; anything else quoted."""
    return key if _PLAIN_KEY.fullmatch(key) else _scalar(key)


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"not a YAML scalar cefw writes: {value!r}")
    if isinstance(value, int):
        return str(value)
    # JSON escapes the C0 controls; YAML also breaks lines at NEL, LS and PS.
    return _BREAKS.sub(lambda m: f"\\u{ord(m.group()):04x}",
                       json.dumps(value, ensure_ascii=False))


def _emit(data: Any, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{_key(key)}:")
                _emit(value, indent + 1, lines)
            else:
                empty = "{}" if isinstance(value, dict) else "[]"
                shown = empty if isinstance(value, (dict, list)) else _scalar(value)
                lines.append(f"{pad}{_key(key)}: {shown}")
        return
    for item in data:
        if isinstance(item, dict) and item:
            sub: list[str] = []
            _emit(item, indent + 1, sub)
            first = sub[0].lstrip()
            lines.append(f"{pad}- {first}")
            lines.extend(sub[1:])
        else:
            lines.append(f"{pad}- {_scalar(item)}")
