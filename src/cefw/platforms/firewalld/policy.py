"""What cefw writes into firewalld, as data and as the XML firewalld loads:

    ipsets/ce-servers.xml, ce-servers6.xml, ce-clients.xml, ce-clients6.xml
        hash:net, one per site zone and address family (only those the rules use)
    policies/contact-expert.xml
        <policy target="CONTINUE" priority="-100">, ingress-zone ANY, egress-zone HOST:
        applied to every packet for this host before any zone sees it. For each CE port
        of each rule: an accept rich rule per source (a zone's ipset, an address, or
        anyone) at priority -2, then a drop rich rule at priority -1, so every accept
        comes before every drop (rules sharing a port add up) and both come before the
        zones. Packets no rule names continue to the zones: the admin's configuration.

Rich rules carry no names, so the policy's description lists cefw's rules, one JSON
line each (`cefw-rule {...}`): reading back, each listed rule is rebuilt from the rich
rules it should have, and anything else in the policy is drift.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Any, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from ...model import ANY, MANAGED_NOTE, Ports, Rule
from ...plan.site import Site, zones_for
from ...ports import format_range, merge

POLICY = "contact-expert"
PRIORITY = -100  # negative: before the zones
ACCEPT_PRIORITY, DROP_PRIORITY = -2, -1
INDEX = "cefw-rule "
FAMILIES = {"ipv4": ("inet", ""), "ipv6": ("inet6", "6")}  # rich-rule family -> ipset


class Entry(NamedTuple):
    """One cefw rule as the policy holds it."""

    name: str
    protocol: str  # "tcp" | "udp"
    ports: Ports
    sources: tuple[str, ...]  # (ANY,) | ("zone:servers", ...) | addresses

    def to_json(self) -> str:
        """One JSON object without a blank: firewalld folds the description's white
        space (line breaks included) into single blanks."""
        text = json.dumps({"name": self.name, "protocol": self.protocol,
                           "ports": [list(r) for r in self.ports],
                           "sources": list(self.sources)}, ensure_ascii=True,
                          separators=(",", ":"))
        return text.replace(" ", "\\u0020")


def ipset_name(zone: str, family: str) -> str:
    return f"ce-{zone}{FAMILIES[family][1]}"


def entries(rules: Sequence[Rule], site: Site) -> list[Entry]:
    out = []
    for rule in rules:
        remote = tuple(rule.remote_addresses)
        zones = None if remote == (ANY,) else zones_for(site, remote)
        sources = (ANY,) if remote == (ANY,) else (
            tuple(f"zone:{z}" for z in zones) if zones else remote)
        out.append(Entry(rule.name, rule.protocol.lower(), merge(rule.local_ports), sources))
    return out


def _family(address: str) -> str:
    return "ipv6" if ipaddress.ip_network(address, strict=False).version == 6 else "ipv4"


def ipsets(items: Sequence[Entry], site: Site) -> dict[str, tuple[str, tuple[str, ...]]]:
    """ipset name -> (family, addresses): each zone the entries name, per family."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for zone in dict.fromkeys(s[5:] for e in items for s in e.sources if s.startswith("zone:")):
        for family in FAMILIES:
            mine = tuple(a for a in site.zones.get(zone, ()) if _family(a) == family)
            if mine:
                out[ipset_name(zone, family)] = (family, mine)
    return out


class Rich(NamedTuple):
    """One rich rule, as firewall-cmd lists it and as the XML element that makes it."""

    text: str
    xml: str


def rich_rules(entry: Entry, sets: dict[str, tuple[str, tuple[str, ...]]]) -> list[Rich]:
    """The entry's accepts (per port range, per source), then its drops."""
    accepts: list[Rich] = []
    drops: list[Rich] = []
    for low, high in entry.ports:
        port = format_range((low, high))
        port_text = f'port port="{port}" protocol="{entry.protocol}"'
        port_xml = f'<port port="{port}" protocol="{entry.protocol}"/>'
        for family, source_text, source_xml in _sources(entry, sets):
            fam_text = f' family="{family}"' if family else ""
            accepts.append(Rich(
                f'rule priority="{ACCEPT_PRIORITY}"{fam_text}{source_text} {port_text} accept',
                f'<rule{fam_text} priority="{ACCEPT_PRIORITY}">{source_xml}{port_xml}'
                "<accept/></rule>"))
        drops.append(Rich(f'rule priority="{DROP_PRIORITY}" {port_text} drop',
                          f'<rule priority="{DROP_PRIORITY}">{port_xml}<drop/></rule>'))
    return accepts + drops


def _sources(entry: Entry, sets: dict[str, tuple[str, tuple[str, ...]]],
             ) -> list[tuple[str, str, str]]:
    """(family, text, xml) per source of the entry; family "" for anyone."""
    if entry.sources == (ANY,):
        return [("", "", "")]
    out = []
    for source in entry.sources:
        if source.startswith("zone:"):
            for family in FAMILIES:
                name = ipset_name(source[5:], family)
                if name in sets:
                    out.append((family, f' source ipset="{name}"',
                                f"<source ipset={quoteattr(name)}/>"))
        else:
            family = _family(source)
            out.append((family, f' source address="{source}"',
                        f"<source address={quoteattr(source)}/>"))
    return out


def policy_xml(items: Sequence[Entry], sets: dict[str, tuple[str, tuple[str, ...]]]) -> str:
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<policy target="CONTINUE" priority="{PRIORITY}">',
             "  <short>Contact Expert</short>",
             f"  <description>{escape(description(items))}</description>",
             '  <ingress-zone name="ANY"/>', '  <egress-zone name="HOST"/>']
    rich = [r for e in items for r in rich_rules(e, sets)]
    ordered = [r for r in rich if "<accept/>" in r.xml] + [r for r in rich if "<drop/>" in r.xml]
    lines += [f"  {r.xml}" for r in dict.fromkeys(ordered)]
    lines.append("</policy>")
    return "\n".join(lines) + "\n"


def ipset_xml(zone_set: str, family: str, addresses: Sequence[str]) -> str:
    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<ipset type="hash:net">',
             f"  <short>{escape(zone_set)}</short>",
             f"  <description>Contact Expert site zone ({family}). {escape(MANAGED_NOTE)}"
             "</description>",
             f'  <option name="family" value="{FAMILIES[family][0]}"/>']
    lines += [f"  <entry>{escape(a)}</entry>" for a in addresses]
    lines.append("</ipset>")
    return "\n".join(lines) + "\n"


def description(items: Sequence[Entry]) -> str:
    head = f"Contact Expert ports, written by cefw. {MANAGED_NOTE}"
    return "\n".join([head, *(INDEX + e.to_json() for e in items)])


def parse_description(text: str) -> list[Entry]:
    """The entries of a description as firewalld gives it back (its line breaks folded
    into blanks): each `cefw-rule ` followed by one JSON object."""
    out = []
    decoder = json.JSONDecoder()
    position = text.find(INDEX)
    while position >= 0:
        start = position + len(INDEX)
        try:
            data, end = decoder.raw_decode(text, start)
            out.append(Entry(str(data["name"]), str(data["protocol"]),
                             tuple((int(a), int(b)) for a, b in data["ports"]),
                             tuple(str(s) for s in data["sources"])))
        except (ValueError, KeyError, TypeError):
            end = start  # not what cefw wrote: the rule it stood for shows as drift
        position = text.find(INDEX, end)
    return out


def parse_info(text: str) -> dict[str, Any]:
    """`firewall-cmd --info-policy` / `--info-ipset` output -> {key: value}; "rich
    rules" as a list of lines, "entries" split on spaces."""
    info: dict[str, Any] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith("\t") and key == "rich rules":
            info[key].append(line.strip())
        elif line.startswith("  ") and ":" in line:
            key, _, value = line.strip().partition(":")
            value = value.strip()
            info[key] = [] if key == "rich rules" else value
    if "rich rules" in info:
        info["rich rules"] = [r for r in info["rich rules"] if r]
    return info
