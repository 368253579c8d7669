"""`cefw export --format aerleon`: the policy and definitions files, rendered by aerleon's
own generators (several targets, and aerleon's own `aclgen` reading the files), and
aerleon's AclCheck as the oracle: every flow the plan allows is accepted, the CE ports
from anyone else are denied, and nothing else is touched.

Hosts use 198.18.0.0/15 and 2001:db8::/32 only."""

from __future__ import annotations

import io
import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cefw.cli import main
from cefw.examples import load_example
from cefw.model import Plan, Rule
from cefw.plan.make import make_plan
from cefw.plan.site import load as load_site
from cefw.platforms.aerleon import export
from cefw.platforms.aerleon.policy import TERM_MAX, build, term_names

if os.environ.get("CEFW_REQUIRE_NETNS"):  # CI installs the extra: a skip would hide a gap
    import aerleon
aerleon = pytest.importorskip("aerleon", reason="the cefw[aerleon] extra is not installed")
yaml = pytest.importorskip("yaml")

from aerleon import api  # noqa: E402
from aerleon.lib import aclcheck, naming  # noqa: E402

SITE = """\
[zones]
servers = ["198.18.1.10", "198.18.1.11", "2001:db8:1::10"]
clients = ["198.18.20.0/24", "2001:db8:20::/64"]
"""
CE_HOST = ("198.18.1.10", "2001:db8:1::10")
SOURCES = {  # a host in each zone, and one in none
    "servers": ["198.18.1.11", "2001:db8:1::10"],
    "clients": ["198.18.20.7", "2001:db8:20::7"],
    "outsider": ["198.18.99.99", "2001:db8:99::99"],
}
TARGETS = ["ciscoasa", "juniper", "srx", "paloalto", "iptables", "nftables", "cisco",
           "arista", "openconfig"]


@pytest.fixture(scope="module")
def site_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("site") / "site.toml"
    path.write_text(SITE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def plan(site_file: Path) -> Plan:
    return make_plan(load_example("core-host")._replace(site=site_file))


def documents(plan: Plan, site_file: Path, targets=TARGETS):  # type: ignore[no-untyped-def]
    return export.documents(plan, site=load_site(site_file), targets=targets,
                            destinations=list(CE_HOST))


def check(docs, src: str, dst: str, port: int, proto: str) -> str:  # type: ignore[no-untyped-def]
    """aerleon's AclCheck: the action of the first term that surely matches, else ""."""
    definitions = naming.Naming()
    definitions.ParseDefinitionsObject(docs.definitions, "cefw")
    found = aclcheck.AclCheck.FromPolicyDict(docs.policy, definitions, src, dst, "any",
                                             port, proto)
    exact = found.ExactMatches()
    return exact[0].action if exact else ""


def _zone_of(rule: Rule, source: str) -> bool:
    address = ipaddress.ip_address(source)
    return any(address in ipaddress.ip_network(a) for a in rule.remote_addresses)


def test_aclcheck_accepts_the_plans_flows_and_denies_the_rest(plan: Plan,
                                                               site_file: Path) -> None:
    docs = documents(plan, site_file)
    counts = {"accept": 0, "deny": 0, "untouched": 0}
    with_ports = [r for r in plan.rules if r.local_ports]
    assert len(docs.terms) == len(with_ports) > 10
    for rule in with_ports:
        proto = rule.protocol.lower()
        for low, high in rule.local_ports:
            for port in sorted({low, (low + high) // 2, high}):
                for who, addresses in SOURCES.items():
                    for source in addresses:
                        dst = CE_HOST[":" in source]
                        want = "accept" if _zone_of(rule, source) else "deny"
                        assert check(docs, source, dst, port, proto) == want, (
                            rule.name, who, source, port)
                        counts[want] += 1
    # Not a CE port, or not a CE host, or the other protocol on a TCP-only port: the
    # policy says nothing, the device's own rules decide.
    ports = {p for r in with_ports for low, high in r.local_ports for p in (low, high)}
    free = next(p for p in range(20000, 30000) if p not in ports)
    tcp_only = next(p for r in with_ports if r.protocol == "TCP"
                    for p, _ in r.local_ports)
    for source in SOURCES["outsider"] + SOURCES["clients"]:
        dst = CE_HOST[":" in source]
        other = "198.18.1.99" if ":" not in source else "2001:db8:1::99"
        assert check(docs, source, dst, free, "tcp") == ""
        assert check(docs, source, other, tcp_only, "tcp") == ""
        assert check(docs, source, dst, tcp_only, "udp") == ""
        counts["untouched"] += 3
    assert counts["accept"] > 50 and counts["deny"] > 50, counts
    print(f"AclCheck: {counts}")


def test_dynamic_rules_are_left_out_with_a_finding(plan: Plan, site_file: Path) -> None:
    docs = documents(plan, site_file)
    dynamic = [r.name for r in plan.rules if not r.local_ports]
    assert dynamic and [s.rule.name for s in docs.skipped] == dynamic
    assert {r.name for r in docs.terms.values()}.isdisjoint(dynamic)
    found = export.findings(plan, site=load_site(site_file), destinations=list(CE_HOST))
    assert {f.code for f in found} == {"backend-cannot-enforce"}
    assert sorted(f.message.split(" is left out")[0] for f in found) == sorted(
        f"aerleon: rule {name}" for name in dynamic)


def test_every_target_renders_every_term(plan: Plan, site_file: Path) -> None:
    docs = documents(plan, site_file)
    from cefw.platforms.aerleon.targets import generate

    out = generate(docs)
    suffixes = {".asa", ".jcl", ".srx", ".xml", "", ".nft", ".acl", ".eacl", ".oacl"}
    assert {Path(name).suffix for name in out} == suffixes
    for name, text in out.items():
        if name.endswith(".oacl"):
            continue  # OpenConfig JSON holds no term names, only sequence ids
        for term in docs.terms:
            assert term in text, (name, term)
    # ports as the targets write them
    assert "eq 9905" in out["contact_expert.asa"]
    assert "--dport 40000:40199" in out["contact_expert"]
    assert "udp dport 40000-40199" in out["contact_expert.nft"]
    assert "198.18.20.0/24" in out["contact_expert.srx"]
    assert "2001:db8:20::/64" in out["contact_expert.xml"]  # mixed: IPv6 too
    assert "2001:db8:20::/64" in out["contact_expert"]  # iptables: the second, inet6 filter


def test_aerleons_own_nft_output_loads(plan: Plan, site_file: Path) -> None:
    """aerleon's nftables output is a script the kernel takes (checked with `nft -c`)."""
    import shutil

    from netns import Netns, unavailable

    reason = unavailable()
    if reason:
        if os.environ.get("CEFW_REQUIRE_NETNS"):
            pytest.fail(reason)
        pytest.skip(reason)
    from cefw.platforms.aerleon.targets import generate

    text = generate(documents(plan, site_file, ["nftables"]))["contact_expert.nft"]
    assert shutil.which("nft")
    ns = Netns(f"cefw-{os.getpid()}-aerl")
    try:
        ns.nft("-f", "-", input=text)
        assert "ce-deny-others-udp" in ns.ruleset()
    finally:
        ns.close()


def test_aclgen_reads_the_written_files_and_renders_the_same(site_file: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "aerleon"
    code, _, err = cli("export", "--format", "aerleon", "--example", "core-host", "--site",
                       str(site_file), "--destination", CE_HOST[0], "--destination",
                       CE_HOST[1], "--target", "ciscoasa,srx,paloalto,iptables,nftables",
                       "-o", str(out))
    assert code == 0, err
    assert "wrote 7 file(s)" in err and "CE-EmailServer-TCP-dynamic is left out" in err
    aclgen = Path(sys.executable).with_name("aclgen")
    ran = subprocess.run([str(aclgen), "--base_directory", str(out / "policies"),
                          "--definitions_directory", str(out / "def"),
                          "--output_directory", str(tmp_path / "aclgen")],
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    made = {p.name: p.read_text() for p in (tmp_path / "aclgen").rglob("*") if p.is_file()}
    ours = {p.name: p.read_text() for p in (out / "filters").iterdir()}
    assert made.keys() == ours.keys() and len(made) == 5
    for name in made:
        assert made[name] == ours[name], name


def test_names_fit_every_target_and_are_stable(plan: Plan, site_file: Path) -> None:
    docs = documents(plan, site_file)
    for term in docs.terms:
        assert len(term) <= TERM_MAX and term.startswith("ce-"), term
    assert "ce-tel-conn-srv-tsapi-tcp" in docs.terms or all(
        len(t) <= TERM_MAX for t in docs.terms)
    assert documents(plan, site_file).policy == docs.policy


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=30, unique=True))
def test_term_names_are_short_unique_and_plain(names: list[str]) -> None:
    terms = term_names(names)
    assert len(set(terms.values())) == len(names)
    for term in terms.values():
        assert len(term) <= TERM_MAX
        assert all(c.isascii() and (c.isalnum() or c == "-") for c in term), term
    assert term_names(names) == terms


def test_hostile_values_stay_yaml_strings() -> None:
    hostile = 'CE-Evil"\n- name: x\n#: {a: b} \u2028 \'q\' & *alias-TCP'
    rule = Rule(hostile, hostile + " display", "TCP", ((9905, 9905),), "C:\\x.exe",
                ("198.18.1.11",), ("domain",), ("Evil",))
    from cefw.model import Host
    from cefw.plan.site import NO_SITE

    plan = Plan(Host(("core",), "", "", ""), (), (rule,), ())
    files = export.render_files(plan, site=NO_SITE, destinations=["198.18.1.10"])
    policy = yaml.safe_load(files["policies/pol/contact_expert.yaml"])
    definitions = yaml.safe_load(files["def/contact_expert.yaml"])
    terms = policy["filters"][0]["terms"]
    assert [t["name"] for t in terms][1:] == ["ce-deny-others-tcp"]
    assert terms[0]["comment"].startswith(hostile)
    (service,) = [v for k, v in definitions["services"].items()]
    assert service == [{"port": 9905, "protocol": "tcp", "comment": hostile}]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        code = main(list(argv), out)
    finally:
        sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def test_cli_errors_are_plain_and_exit_2(site_file: Path) -> None:
    code, _, err = cli("export", "--format", "aerleon", "--example", "core-host", "--site",
                       str(site_file), "--target", "ciscoasa,fortinope")
    assert code == 2 and "unknown aerleon target(s): fortinope" in err
    code, _, err = cli("export", "--format", "aerleon", "--example", "core-host", "--site",
                       str(site_file), "--destination", "ce1.example")
    assert code == 2 and "--destination" in err and "Traceback" not in err
    empty = site_file.with_name("noservers.toml")
    empty.write_text('[zones]\nclients = ["198.18.20.0/24"]\n', encoding="utf-8")
    code, _, err = cli("export", "--format", "aerleon", "--example", "core-host", "--site",
                       str(empty))
    assert code == 2 and "pass --destination" in err


def test_stdout_export_without_target_never_imports_aerleon(site_file: Path) -> None:
    code = ("import sys; from cefw.cli import main; "
            f"rc = main(['export', '--format', 'aerleon', '--example', 'core-host', "
            f"'--site', {str(site_file)!r}]); "
            "assert 'aerleon' not in sys.modules and 'yaml' not in sys.modules; "
            "sys.exit(rc)")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert "# ==> def/contact_expert.yaml <==" in ran.stdout
    assert "# ==> policies/pol/contact_expert.yaml <==" in ran.stdout
    definitions = yaml.safe_load(ran.stdout.split("# ==> policies")[0])
    assert definitions["networks"]["CE_HOSTS"]["values"][0]["address"] == "198.18.1.10/32"


def test_without_the_extra_target_says_how_to_install(site_file: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aerleon", None)  # import aerleon -> ImportError
    code, _, err = cli("export", "--format", "aerleon", "--example", "core-host", "--site",
                       str(site_file), "--target", "ciscoasa")
    assert code == 2 and "pip install 'cefw[aerleon]'" in err


def test_api_generate_matches_render_files(plan: Plan, site_file: Path) -> None:
    docs = documents(plan, site_file, ["srx"])
    definitions = naming.Naming()
    definitions.ParseDefinitionsObject(docs.definitions, "x")
    assert api.Generate([docs.policy], definitions)["contact_expert.srx"] == \
        export.render_files(plan, site=load_site(site_file), targets=["srx"],
                            destinations=list(CE_HOST))["filters/contact_expert.srx"]
    assert build  # the builder is the one export uses
