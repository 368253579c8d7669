"""`cefw why`: port -> listener -> file and line (or registry value, or vendor default)
-> the vendor's Source -> zone -> rule, or why there is no rule."""

from __future__ import annotations

import io
import json

from cefw.cli import main
from cefw.plan.explain import explain
from cehost import SA_CONFIG, sa_config, server


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_a_port_from_a_file_line_to_its_rule() -> None:
    status, text = run("why", "9998", "--example", "core-host")
    assert status == 0
    lines = text.splitlines()
    assert lines[0] == "TCP 9998: ServerAgent"
    assert r"Services\ServerAgent\ServerAgent.Config.xml: line 4, Agent/@Port" in text
    assert "Source:    server (the vendor's column) -> site zone(s) servers" in text
    assert ("rule:      CE-ServerAgent-TCP: TCP 9998 from servers (10.0.1.10, 10.0.1.11, "
            "10.0.1.20)") in text
    assert len(lines) <= 6  # a few lines


def test_a_port_inside_a_range_and_a_protocol() -> None:
    status, text = run("why", "udp/40010", "--example", "core-host")
    assert status == 0
    assert text.startswith("UDP 40000-40099: TelephonyRecorder.CMAPI (channel Avaya-1)")
    assert "channels.csv: line 2, channel 'Avaya-1', MediaPort" in text
    assert "CE-TelephonyRecorder.CMAPI-UDP: UDP 40000-40199" in text
    assert run("why", "tcp/40010", "--example", "core-host")[0] == 1  # UDP only


def test_a_registry_value() -> None:
    text = run("why", "9999", "--example", "core-host")[1]
    assert "registry value HKLM\\SOFTWARE\\WOW6432Node\\ACE\\TAO\\TaoNamingServiceOptions" in text
    assert "registry.reg line 6" in text


def test_loopback_only_has_no_rule_and_says_why() -> None:
    status, text = run("why", "8005", "--example", "core-host")
    assert status == 0
    assert "no rule:   it listens on localhost only" in text
    assert "rule:      CE-" not in text
    assert "dynamic-port" not in text  # the findings about other Tomcat listeners stay out


def test_a_dynamic_rule_and_a_component() -> None:
    text = run("why", "CE-AgentFactory-TCP-dynamic", "--example", "core-host")[1]
    assert text.startswith("TCP dynamic: AgentFactory")
    assert "any port (the port is picked at run time)" in text
    assert "dynamic-port" in text
    text = run("why", "webservice", "--example", "core-host")[1]  # any case
    assert sum(line.startswith("TCP ") for line in text.splitlines()) == 4


def test_disabled_and_empty_zone_and_vendor_default(ce_host) -> None:  # type: ignore[no-untyped-def]
    host = ce_host(
        components=["ServerAgent", "DialerServer", "RuleServer", "NamingService"],
        files={SA_CONFIG: sa_config(server("DialerServer", port="9905", enabled="false"),
                                    server("RuleServer", port="9907"))},
        site='[zones]\nservers = []\nclients = ["198.18.0.0/16"]\n')
    plan = host.plan()
    dialer = explain(plan, "9905").links[0]
    assert dialer.rule is None and "Enabled=\"false\"" in dialer.no_rule
    rule = explain(plan, "RuleServer").links[0]
    assert rule.rule is None and "empty" in rule.no_rule
    naming = explain(plan, "NamingService").links[0]
    assert naming.endpoint.origin.kind == "default"
    from cefw.render.why import render

    assert "the vendor table's default for NamingService" in render(explain(plan, "9999"))


def test_nothing_on_a_port_exits_1_and_a_typo_exits_2(capsys) -> None:  # type: ignore[no-untyped-def]
    status, text = run("why", "1234", "--example", "core-host")
    assert status == 1 and "No CE listener on port 1234" in text
    status, _ = run("why", "DialrServer", "--example", "core-host")
    assert status == 2
    err = capsys.readouterr().err
    assert "did you mean DialerServer" in err and "Traceback" not in err


def test_json() -> None:
    status, text = run("why", "9998", "--example", "core-host", "--json")
    data = json.loads(text)
    assert status == 0 and data["schema"] == "cefw.why/1"
    assert data["listeners"][0]["rule"] == "CE-ServerAgent-TCP"
    assert data["rules"][0]["local_ports"] == [[9998, 9998]]
