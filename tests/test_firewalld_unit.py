"""firewalld's documents without a daemon: the policy XML (well-formed whatever a rule
name holds), the description index (read back after firewalld folds its white space),
and `firewall-cmd --info-*` parsing. The daemon itself: test_firewalld_netns.py."""

from __future__ import annotations

import re

from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st

from cefw.model import ANY, Rule
from cefw.plan.site import Site
from cefw.platforms.firewalld.policy import (
    Entry,
    description,
    entries,
    ipset_xml,
    ipsets,
    parse_description,
    parse_info,
    policy_xml,
)

SITE = Site({"servers": ("198.18.1.10", "2001:db8:1::10"), "clients": ("198.18.20.0/24",)},
            ("domain",), "", "site.toml")


def rule(name: str, remote: tuple[str, ...], ports=((9905, 9905),), protocol="TCP") -> Rule:
    return Rule(name, name, protocol, ports, "C:\\x.exe", remote, ("domain",), ("X",))


def test_rules_become_zone_ipsets_addresses_or_anyone() -> None:
    items = entries([rule("A", ("198.18.1.10", "2001:db8:1::10")),
                     rule("B", ("198.18.1.10", "198.18.20.0/24", "2001:db8:1::10")),
                     rule("C", (ANY,)), rule("D", ("198.18.99.1",))], SITE)
    assert [e.sources for e in items] == [("zone:servers",), ("zone:servers", "zone:clients"),
                                          (ANY,), ("198.18.99.1",)]
    sets = ipsets(items, SITE)
    assert sets == {"ce-servers": ("ipv4", ("198.18.1.10",)),
                    "ce-servers6": ("ipv6", ("2001:db8:1::10",)),
                    "ce-clients": ("ipv4", ("198.18.20.0/24",))}
    xml = policy_xml(items, sets)
    root = ElementTree.fromstring(xml.encode())
    verdicts = [next(iter(r.findall("*")[-1:])).tag for r in root.findall("rule")]
    assert verdicts.index("drop") == verdicts.count("accept")  # every accept first
    assert root.get("priority") == "-100" and root.get("target") == "CONTINUE"
    assert [e.get("name") for e in root.findall("ingress-zone")] == ["ANY"]
    assert [e.get("name") for e in root.findall("egress-zone")] == ["HOST"]
    ElementTree.fromstring(ipset_xml("ce-servers", "ipv4", ["198.18.1.10"]).encode())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=6, unique=True))
def test_the_index_survives_firewalld_folding_its_white_space(names: list[str]) -> None:
    items = [Entry(n, "tcp", ((1, 2),), ("zone:servers",)) for n in names]
    text = description(items)
    folded = re.sub(r"\s+", " ", text)  # what --get-description gives back
    assert parse_description(folded) == items
    xml = policy_xml(items, {})
    assert ElementTree.fromstring(xml.encode()).find("description") is not None


def test_a_name_that_looks_like_an_index_line_stays_a_name() -> None:
    items = [Entry('x cefw-rule {"name":"evil"} "<&>', "udp", ((40000, 40099),), (ANY,))]
    assert parse_description(description(items)) == items
    assert parse_description("cefw-rule {broken cefw-rule ") == []


def test_info_output_is_parsed() -> None:
    info = parse_info("contact-expert (active)\n  priority: -100\n  target: CONTINUE\n"
                      "  services: \n  rich rules: \n\trule priority=\"-1\" port port=\"1\" "
                      "protocol=\"tcp\" drop\n")
    assert info == {"priority": "-100", "target": "CONTINUE", "services": "",
                    "rich rules": ['rule priority="-1" port port="1" protocol="tcp" drop']}
    assert parse_info("ce-servers\n  type: hash:net\n  entries: 198.18.1.10 198.18.2.0/24\n"
                      )["entries"].split() == ["198.18.1.10", "198.18.2.0/24"]
