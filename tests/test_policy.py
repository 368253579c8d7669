"""The policy: endpoints + site zones -> rules (stable names, merged ports, remote
scope), and the findings about listeners (dynamic ports, port conflicts)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cefw import catalog
from cefw.model import ANY, DEFAULT_PROFILES, GROUP, MANAGED_NOTE, Endpoint, Origin
from cefw.plan import policy
from cefw.plan.site import NO_SITE, Site

SERVERS = ("10.0.1.10", "10.0.1.11")
CLIENTS = ("10.20.0.0/16",)
SITE = Site({"servers": SERVERS, "clients": CLIENTS}, ("domain", "private"), "", "site.toml")
FILE = Origin("file", r"Services\ServerAgent\ServerAgent.Config.xml", "line 5")


def ep(component: str, *ranges: tuple[int, int], protocol: str = "TCP", **kw) -> Endpoint:
    c = catalog.BY_ID[component]
    return Endpoint(component, protocol, tuple(ranges), kw.pop("program", f"C:\\CE\\{c.program}"),
                    c.sources, kw.pop("origin", FILE), **kw)


def names(rules) -> list[str]:
    return [r.name for r in rules]


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def site(servers=SERVERS, clients=CLIENTS, profiles=("domain", "private")) -> Site:
    zones = {}
    if servers is not None:
        zones["servers"] = servers
    if clients is not None:
        zones["clients"] = clients
    return Site(zones, profiles, "", "site.toml")


# --- rules -------------------------------------------------------------------------------

def test_one_rule_per_component_and_protocol_with_merged_ports():
    rules, findings = policy.build([
        ep("UCMARecorderService", (9971, 9971), label="recorder port"),
        ep("UCMARecorderService", (9100, 9100), label="application port"),
        ep("UCMARecorderService", (9101, 9101)),
    ], SITE)
    [rule] = rules
    assert rule.name == "CE-UCMARecorderService-TCP"
    assert rule.local_ports == ((9100, 9101), (9971, 9971))
    assert rule.display_name == "Contact Expert - UCMARecorderService (TCP 9100-9101,9971)"
    assert (rule.group, rule.direction, rule.action, rule.enabled) == (GROUP, "in", "allow",
                                                                      True)
    assert rule.protocol == "TCP"
    assert rule.program == r"C:\CE\Services\UCMARecorderService\UCMARecorderService.exe"
    assert rule.remote_addresses == SERVERS
    assert rule.profiles == ("domain", "private")
    assert rule.components == ("UCMARecorderService",)
    assert MANAGED_NOTE in rule.description
    assert findings == []


def test_protocols_get_their_own_rules():
    rules, _ = policy.build([ep("TelephonyRecorder.CMAPI", (7001, 7001)),
                             ep("TelephonyRecorder.CMAPI", (40000, 40099), protocol="UDP")],
                            SITE)
    assert [(r.name, r.protocol, r.local_ports) for r in rules] == [
        ("CE-TelephonyRecorder.CMAPI-TCP", "TCP", ((7001, 7001),)),
        ("CE-TelephonyRecorder.CMAPI-UDP", "UDP", ((40000, 40099),))]


def test_dynamic_listener_gets_a_program_bound_rule_without_ports():
    rules, _ = policy.build([ep("EmailServer", dynamic=True)], SITE)
    [rule] = rules
    assert rule.name == "CE-EmailServer-TCP-dynamic"
    assert rule.local_ports == ()
    assert rule.program == r"C:\CE\Servers\EmailServer\EmailServer.exe"
    assert rule.display_name == "Contact Expert - EmailServer (TCP dynamic ports)"


def test_static_and_dynamic_of_one_component_are_two_rules():
    rules, _ = policy.build([ep("WebService", (8080, 8080)), ep("WebService", dynamic=True)],
                            SITE)
    assert [(r.name, r.local_ports) for r in rules] == [
        ("CE-WebService-TCP", ((8080, 8080),)), ("CE-WebService-TCP-dynamic", ())]


def test_disabled_and_loopback_only_listeners_get_no_rule():
    rules, findings = policy.build([
        ep("RuleServer", (9907, 9907), enabled=False),
        ep("WebService", (8005, 8005), loopback_only=True, bind="127.0.0.1"),
        ep("EmailServer", dynamic=True, enabled=False),
    ], SITE)
    assert rules == []
    assert findings == []


def test_rule_names_are_stable_when_ports_change():
    before, _ = policy.build([ep("DialerServer", (9905, 9905))], SITE)
    after, _ = policy.build([ep("DialerServer", (9915, 9915)),
                             ep("DialerServer", (9916, 9920))], SITE)
    assert names(before) == names(after) == ["CE-DialerServer-TCP"]
    assert after[0].local_ports == ((9915, 9920),)
    assert all(str(p) not in after[0].name for p in (9915, 9916, 9920))


def test_one_component_from_two_programs_gets_a_second_rule():
    rules, _ = policy.build([ep("DialerServer", (9905, 9905), program=r"D:\B\Dialer.exe"),
                             ep("DialerServer", (9906, 9906), program=r"C:\A\Dialer.exe")],
                            SITE)
    assert [(r.name, r.program) for r in rules] == [
        ("CE-DialerServer-TCP", r"C:\A\Dialer.exe"), ("CE-DialerServer-TCP-2", r"D:\B\Dialer.exe")]


def test_rules_follow_catalog_order():
    rules, _ = policy.build([ep("ServerManager", (9997, 9997)), ep("DialerServer", (9905, 9905)),
                             ep("ServerAgent", (9998, 9998))], SITE)
    assert names(rules) == ["CE-ServerAgent-TCP", "CE-DialerServer-TCP", "CE-ServerManager-TCP"]


def test_profiles_come_from_the_site():
    rules, _ = policy.build([ep("DialerServer", (9905, 9905))],
                            site(profiles=("domain", "private", "public")))
    assert rules[0].profiles == ("domain", "private", "public")
    rules, _ = policy.build([ep("DialerServer", (9905, 9905))], NO_SITE)
    assert rules[0].profiles == DEFAULT_PROFILES


# --- remote scope ------------------------------------------------------------------------

def test_remote_addresses_are_the_union_of_the_component_sources_zones():
    rules, findings = policy.build([ep("DialerServer", (9905, 9905)),  # server
                                    ep("NamingService", (9999, 9999))], SITE)  # server, client
    by_name = {r.name: r for r in rules}
    assert by_name["CE-DialerServer-TCP"].remote_addresses == SERVERS
    assert by_name["CE-NamingService-TCP"].remote_addresses == SERVERS + CLIENTS
    assert findings == []


def test_overlapping_zones_are_canonicalised():
    rules, _ = policy.build([ep("NamingService", (9999, 9999))],
                            site(servers=("10.20.1.5", "10.0.1.10"), clients=("10.20.0.0/16",)))
    assert rules[0].remote_addresses == ("10.0.1.10", "10.20.0.0/16")


def test_no_site_leaves_every_rule_open_with_one_finding():
    rules, findings = policy.build([ep("DialerServer", (9905, 9905)),
                                    ep("NamingService", (9999, 9999)),
                                    ep("EmailServer", dynamic=True)], NO_SITE)
    assert all(r.remote_addresses == (ANY,) for r in rules)
    [finding] = findings
    assert (finding.code, finding.severity, finding.component) == ("unscoped-rule", "medium",
                                                                   "")
    assert "3 rules" in finding.message and "--site" in finding.message


def test_a_zone_missing_from_the_site_opens_only_the_rules_that_need_it():
    rules, findings = policy.build([ep("DialerServer", (9905, 9905)),
                                    ep("NamingService", (9999, 9999)),
                                    ep("TelephonyServer", (9911, 9911))],
                                   site(clients=None))
    scope = {r.name: r.remote_addresses for r in rules}
    assert scope == {"CE-DialerServer-TCP": SERVERS, "CE-NamingService-TCP": (ANY,),
                     "CE-TelephonyServer-TCP": (ANY,)}
    [finding] = findings
    assert finding.code == "unscoped-rule"
    assert "'clients'" in finding.message
    assert "CE-NamingService-TCP" in finding.message and "CE-TelephonyServer-TCP" in \
        finding.message
    assert "CE-DialerServer-TCP" not in finding.message


def test_an_empty_zone_means_nobody():
    rules, findings = policy.build([ep("DialerServer", (9905, 9905)),
                                    ep("NamingService", (9999, 9999))],
                                   site(servers=()))
    assert [(r.name, r.remote_addresses) for r in rules] == [("CE-NamingService-TCP", CLIENTS)]
    [finding] = findings
    assert (finding.code, finding.component) == ("empty-zone", "DialerServer")
    assert "'servers'" in finding.message


def test_both_zones_empty_leaves_out_every_rule():
    rules, findings = policy.build([ep("NamingService", (9999, 9999))],
                                   site(servers=(), clients=()))
    assert rules == []
    assert codes(findings) == ["empty-zone"]


def test_a_zone_of_any_opens_to_any():
    rules, findings = policy.build([ep("NamingService", (9999, 9999))],
                                   site(clients=(ANY,)))
    assert rules[0].remote_addresses == (ANY,)
    # The site said so: not an unscoped rule, but a zone open to everyone (issue 9).
    assert [f.code for f in findings] == ["zone-open-to-all"]


# --- findings about listeners ------------------------------------------------------------

def test_dynamic_port_finding_once_per_component_with_a_rule():
    endpoints = [ep("EmailServer", dynamic=True), ep("EmailServer", dynamic=True, bind="10.0.0.1"),
                 ep("ChatServer", dynamic=True, enabled=False),
                 ep("AgentFactory", dynamic=True)]
    findings = policy.endpoint_findings(endpoints)
    assert [(f.code, f.component) for f in findings] == [("dynamic-port", "EmailServer"),
                                                         ("dynamic-port", "AgentFactory")]
    assert "CE-EmailServer-TCP-dynamic" in findings[0].message


def test_dynamic_port_finding_once_per_listener_with_its_label():
    """policy owns `dynamic-port`: one finding per dynamic listener (a Tomcat application
    is named), none for a disabled or loopback-only one, none twice."""
    endpoints = [ep("WebService", dynamic=True)._replace(label="StatisticsServer"),
                 ep("WebService", dynamic=True)._replace(label="StatisticsServer"),
                 ep("WebService", dynamic=True)._replace(label="AgentObjects"),
                 ep("WebService", dynamic=True)._replace(label="HTTP", loopback_only=True)]
    findings = policy.endpoint_findings(endpoints)
    assert [f.message.split(" picks")[0] for f in findings] == [
        "WebService (StatisticsServer)", "WebService (AgentObjects)"]
    # No documented way to pin a web application: said, not advised (as `cefw pin` says).
    assert all("cannot be pinned" in f.message for f in findings)
    connector = policy.endpoint_findings([ep("WebService", dynamic=True)._replace(label="HTTP")])
    assert "<Connector port>" in connector[0].message


def test_port_conflict_between_two_components():
    dialer = ep("DialerServer", (9905, 9905))
    campaign = ep("CampaignServer", (9900, 9910),
                  origin=Origin("file", "x.xml", "line 9, Server/@Port"))
    [conflict] = policy.endpoint_findings([dialer, campaign])
    assert (conflict.code, conflict.severity) == ("port-conflict", "high")
    assert conflict.component in ("DialerServer", "CampaignServer")
    assert "TCP 9905" in conflict.message
    assert "DialerServer" in conflict.message and "CampaignServer" in conflict.message
    assert "x.xml: line 9, Server/@Port" in conflict.message


@pytest.mark.parametrize(("a", "b"), [
    # one listener said twice: a Port attribute and the ORB endpoint of the same server
    (ep("DialerServer", (9905, 9905)), ep("DialerServer", (9905, 9905))),
    # another protocol
    (ep("DialerServer", (9905, 9905)), ep("CampaignServer", (9905, 9905), protocol="UDP")),
    # a disabled server does not listen
    (ep("DialerServer", (9905, 9905)), ep("CampaignServer", (9905, 9905), enabled=False)),
    # two different specific addresses
    (ep("DialerServer", (9905, 9905), bind="10.0.1.10"),
     ep("CampaignServer", (9905, 9905), bind="10.0.1.11")),
    # adjacent, not overlapping
    (ep("DialerServer", (9905, 9905)), ep("CampaignServer", (9906, 9910))),
    # dynamic listeners have no port to clash on
    (ep("EmailServer", dynamic=True), ep("ChatServer", dynamic=True)),
])
def test_no_conflict(a, b):
    assert "port-conflict" not in codes(policy.endpoint_findings([a, b]))


@pytest.mark.parametrize(("a", "b"), [
    (ep("DialerServer", (9905, 9905), bind="10.0.1.10"), ep("CampaignServer", (9905, 9905))),
    (ep("DialerServer", (9905, 9905), bind="10.0.1.10"),
     ep("CampaignServer", (9905, 9905), bind="10.0.1.10")),
    (ep("WebService", (8005, 8005), loopback_only=True, bind="127.0.0.1"),
     ep("DialerServer", (8005, 8005), bind="127.0.0.1")),
])
def test_conflict_when_binds_overlap(a, b):
    assert codes(policy.endpoint_findings([a, b])) == ["port-conflict"]


def test_two_channels_of_one_recorder_on_one_port_conflict():
    a = ep("TelephonyRecorder.CMAPI", (7001, 7001), label="channel A")
    b = ep("TelephonyRecorder.CMAPI", (7001, 7001), label="channel B")
    [conflict] = policy.endpoint_findings([a, b])
    assert "channel A" in conflict.message and "channel B" in conflict.message


def test_each_conflicting_pair_is_reported_once():
    endpoints = [ep("DialerServer", (9905, 9905)), ep("DialerServer", (9906, 9906)),
                 ep("CampaignServer", (9900, 9910)), ep("RuleServer", (9906, 9906))]
    pairs = sorted(tuple(sorted(c for c in ("DialerServer", "CampaignServer", "RuleServer")
                                if c in f.message))
                   for f in policy.endpoint_findings(endpoints))
    assert pairs == [("CampaignServer", "DialerServer"), ("CampaignServer", "RuleServer"),
                     ("DialerServer", "RuleServer")]


def test_many_channels_conflicts_found_by_the_sweep():
    endpoints = [ep("TelephonyRecorder.CMAPI", (p, p), label=f"channel {p}")
                 for p in range(20000, 22000)]
    endpoints.append(ep("TelephonyRecorder.SIP", (21000, 21001), label="channel clash"))
    findings = policy.endpoint_findings(endpoints)
    assert len(findings) == 2
    assert all("channel clash" in f.message for f in findings)
    assert {("channel 21000" in f.message, "channel 21001" in f.message) for f in findings} \
        == {(True, False), (False, True)}


# --- property: names stable, every port covered ----------------------------------------

COMPONENTS = ["DialerServer", "NamingService", "EmailServer", "TelephonyRecorder.SIP"]
endpoint_st = st.builds(
    lambda c, proto, ranges, dynamic, enabled, loop: ep(
        c, *(() if dynamic else ranges), protocol=proto, dynamic=dynamic, enabled=enabled,
        loopback_only=loop),
    st.sampled_from(COMPONENTS), st.sampled_from(["TCP", "UDP"]),
    st.lists(st.tuples(st.integers(1, 65000), st.integers(0, 50)).map(
        lambda t: (t[0], t[0] + t[1])), min_size=1, max_size=3),
    st.booleans(), st.booleans(), st.booleans())


@given(st.lists(endpoint_st, max_size=12), st.integers(1, 500))
def test_rules_cover_every_listener_and_names_ignore_ports(endpoints, shift):
    rules, _ = policy.build(endpoints, SITE)
    by_name = {r.name: r for r in rules}
    assert len(by_name) == len(rules)
    for e in endpoints:
        name = policy.rule_name(e.component, e.protocol, e.dynamic)
        if not e.needs_rule:
            continue
        rule = by_name[name]
        assert rule.protocol == e.protocol and rule.program == e.program
        if e.dynamic:
            assert rule.local_ports == ()
        for low, high in e.ports:
            assert any(a <= low and high <= b for a, b in rule.local_ports)
    for r in rules:  # no rule is wider than its listeners
        wanted = [p for e in endpoints if e.needs_rule and not e.dynamic
                  and policy.rule_name(e.component, e.protocol, False) == r.name
                  for p in e.ports]
        from cefw.ports import merge

        assert r.local_ports == merge(wanted)
    moved = [e._replace(ports=tuple((a + shift, b + shift) for a, b in e.ports))
             for e in endpoints]
    assert names(policy.build(moved, SITE)[0]) == names(rules)
