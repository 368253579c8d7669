"""`cefw export --format registry-pol`: the file read back by an independent reader
(Samba's PReg parser, Debian python3-samba, run by the system Python since the venv
cannot import it), every rule string checked field by field against the grammar of
[MS-GPFAS] 2.2.2.19 written out here from the specification (not from cefw's writer),
hostile values refused, and Group Policy rules read back for audit (.reg and hive)."""

from __future__ import annotations

import io
import ipaddress
import json
import re
import subprocess
from pathlib import Path

import pytest

from cefw.cli import main
from cefw.errors import CefwError, InputError
from cefw.examples import load_example
from cefw.model import ANY, Host, Plan, Rule
from cefw.plan.make import make_plan
from cefw.platforms.windows import gpfas, registry_pol
from cefw.registry import Offline
from cefw.registry.hive import load_hive
from cefw.registry.regfile import load_reg
from hivewriter import build_hive, dword, sz
from regwriter import reg_text

SYSTEM_PYTHON = "/usr/bin/python3"
KEY = r"Software\Policies\Microsoft\WindowsFirewall\FirewallRules"
CE = r"C:\Program Files (x86)\Geomant\Contact Expert"

SAMBA_READ = r"""
import json, sys
from samba.dcerpc import preg
from samba.ndr import ndr_unpack
pol = ndr_unpack(preg.file, open(sys.argv[1], "rb").read())
out = {"signature": pol.header.signature, "version": pol.header.version, "entries": []}
for e in pol.entries:
    out["entries"].append({"key": e.keyname, "value": e.valuename, "type": e.type,
                           "size": e.size, "data": e.data})
print(json.dumps(out))
"""

# Samba writes a file (with a block rule and AllowLocalPolicyMerge = 0) for cefw to read.
SAMBA_WRITE = r"""
import sys
from samba.dcerpc import preg
from samba.ndr import ndr_pack
entries = []
for key, name, kind, data in [
    (sys.argv[2], "Block-CE", 1, sys.argv[3]),
    (r"Software\Policies\Microsoft\WindowsFirewall\DomainProfile", "AllowLocalPolicyMerge",
     4, 0)]:
    e = preg.entry()
    e.keyname, e.valuename, e.type, e.data = key, name, kind, data
    entries.append(e)
pol = preg.file()
pol.header.signature, pol.header.version = "PReg", 1
pol.num_entries = len(entries)
pol.entries = entries
open(sys.argv[1], "wb").write(ndr_pack(pol))
"""


def samba(script: str, *args: str) -> str:
    done = subprocess.run([SYSTEM_PYTHON, "-c", script, *args], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- the grammar, from [MS-GPFAS] 2.2.2 (independent of gpfas.py) -----------------------
ADDRV4 = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
ONCE = {"Action", "Dir", "Protocol", "App", "Svc", "Name", "Desc", "EmbedCtxt", "Active"}
KNOWN = ONCE | {"Profile", "LPort", "LPort2_10", "RA4", "RA6"}


def _v4(value: str) -> ipaddress.IPv4Network:
    """ADDRESSV4-RANGE-VAL (single) or ADDRESSV4-SUBNET-VAL (2.2.2.9, 2.2.2.10)."""
    m = re.fullmatch(rf"({ADDRV4})(?:/(\d{{1,2}}))?", value)
    assert m, f"RA4 {value!r} is not ADDRV4 or ADDRV4/V4PREFIX-LENGTH"
    if m.group(2) is not None:
        assert int(m.group(2)) < 32, "V4PREFIX-LENGTH MUST be less than 32"
    return ipaddress.IPv4Network(value)


def _v6(value: str) -> ipaddress.IPv6Network:
    address, _, prefix = value.partition("/")
    ipaddress.IPv6Address(address)  # ADDRV6: an RFC 4291 address
    if prefix:
        assert re.fullmatch(r"\d{1,3}", prefix) and int(prefix) < 128  # 2.2.2.12
    return ipaddress.IPv6Network(value)


def check_grammar(text: str) -> dict[str, list[str]]:
    """Parse a rule string by the grammar; assert every rule of it; the tokens."""
    assert text.endswith("|"), "every FIELD ends in '|'"
    version, *fields = text[:-1].split("|")
    m = re.fullmatch(r"v(\d{1,3})\.(\d{1,3})", version)
    assert m and (int(m.group(1)), int(m.group(2))) >= (2, 10), "v2.10 or later"
    tokens: dict[str, list[str]] = {}
    protocol = None
    for field in fields:
        assert all(ord(c) >= 32 for c in field), "no control characters"
        key, eq, value = field.partition("=")
        assert eq and key in KNOWN and value, f"field {field!r}"
        tokens.setdefault(key, []).append(value)
        if key == "Action":
            assert value in ("Allow", "Block", "ByPass")  # 2.2.2.5
        elif key == "Dir":
            assert value in ("In", "Out")  # 2.2.2.4
        elif key == "Active":
            assert value in ("TRUE", "FALSE")  # 2.2.2.14
        elif key == "Profile":
            assert value in ("Domain", "Private", "Public")  # 2.2.2.1
        elif key == "Protocol":
            assert re.fullmatch(r"\d{1,3}", value) and int(value) <= 255
            protocol = int(value)
        elif key == "LPort":  # PORT-VAL = SINGLEPORT (2.2.2.2)
            assert protocol in (6, 17), "LPort only after Protocol=6 or 17"
            assert re.fullmatch(r"\d{1,5}", value) and int(value) <= 65535
        elif key == "LPort2_10":  # PORT-RANGE-VAL = BEGINPORT "-" ENDPORT
            assert protocol in (6, 17)
            m = re.fullmatch(r"(\d{1,5})-(\d{1,5})", value)
            assert m and int(m.group(1)) <= int(m.group(2)) <= 65535
        elif key == "RA4":
            _v4(value)
        elif key == "RA6":
            _v6(value)
    for key in ONCE:
        assert len(tokens.get(key, [])) <= 1, f"{key}= MUST appear at most once"
    return tokens


def assert_matches(rule: Rule, text: str) -> None:
    """Field by field: the string says what the rule says."""
    t = check_grammar(text)
    assert t["Action"] == ["Allow"] and t["Dir"] == ["In"] and t["Active"] == ["TRUE"]
    assert t["Protocol"] == [{"TCP": "6", "UDP": "17"}[rule.protocol]]
    assert t["Profile"] == [p.capitalize() for p in rule.profiles]
    ports = [(int(p), int(p)) for p in t.get("LPort", [])]
    ports += [tuple(int(x) for x in r.split("-")) for r in t.get("LPort2_10", [])]
    assert sorted(ports) == sorted(rule.local_ports)
    remote = t.get("RA4", []) + t.get("RA6", [])
    if rule.remote_addresses == (ANY,):
        assert remote == []
    else:
        assert sorted(remote) == sorted(rule.remote_addresses)
        assert all("/32" not in a and "/128" not in a for a in remote), "a host is bare"
    assert t.get("App", [""]) == [rule.program] if rule.program else "App" not in t
    assert t["Name"] == [rule.display_name]
    assert t["EmbedCtxt"] == ["Contact Expert"]


def rule(name: str = "CE-X-TCP", **fields: object) -> Rule:
    base = {"name": name, "display_name": "Contact Expert - X", "protocol": "TCP",
            "local_ports": ((9905, 9905), (9100, 9199)), "program": rf"{CE}\X.exe",
            "remote_addresses": ("198.18.0.10", "198.18.4.0/22", "2001:db8::5",
                                 "2001:db8:1::/48"),
            "profiles": ("domain", "private"), "components": ("DialerServer",)}
    base.update(fields)
    return Rule(**base)  # type: ignore[arg-type]


# -- the file, read by Samba -----------------------------------------------------------

def test_core_host_round_trips_through_samba(tmp_path: Path) -> None:
    out = tmp_path / "ce-servers.pol"
    status = main(["export", "--format", "registry-pol", "--example", "core-host",
                   "-o", str(out)], io.StringIO())
    assert status == 0
    plan = make_plan(load_example("core-host"))
    read = json.loads(samba(SAMBA_READ, str(out)))
    assert read["signature"] == "PReg" and read["version"] == 1
    entries = read["entries"]
    assert [e["value"] for e in entries] == [r.name for r in plan.rules]
    assert len(entries) == 27
    for entry, planned in zip(entries, plan.rules, strict=True):
        assert entry["key"] == KEY and entry["type"] == 1  # REG_SZ
        assert not entry["value"].startswith("**")  # never **DelVals and the like
        assert entry["size"] == 2 * (len(entry["data"]) + 1)  # UTF-16LE with its NUL
        assert entry["data"] == gpfas.rule_string(planned)
        assert_matches(planned, entry["data"])
    # Our own reader agrees with Samba's, entry by entry.
    ours = registry_pol.decode(out.read_bytes())
    assert [(e.key, e.value, registry_pol.sz(e)) for e in ours] == [
        (e["key"], e["value"], e["data"]) for e in entries]


def test_ports_addresses_and_profiles_field_by_field(tmp_path: Path) -> None:
    rules = [rule(),
             rule("CE-Y-UDP", protocol="UDP", local_ports=((40000, 40199),),
                  remote_addresses=(ANY,), profiles=("domain", "private", "public")),
             rule("CE-Z-TCP-dynamic", local_ports=(), remote_addresses=("198.18.0.10",),
                  profiles=("public",))]
    path = tmp_path / "x.pol"
    path.write_bytes(registry_pol.encode(registry_pol.entries_for(rules)))
    entries = json.loads(samba(SAMBA_READ, str(path)))["entries"]
    for entry, planned in zip(entries, rules, strict=True):
        assert_matches(planned, entry["data"])
    first = entries[0]["data"]
    assert "|LPort=9905|" in first and "|LPort2_10=9100-9199|" in first
    assert "|RA4=198.18.0.10|" in first and "|RA4=198.18.4.0/22|" in first
    assert "|RA6=2001:db8::5|" in first and "|RA6=2001:db8:1::/48|" in first
    assert "LPort" not in entries[2]["data"]  # a program rule for dynamic ports
    assert "RA4" not in entries[1]["data"] and "Profile=Public" in entries[1]["data"]


@pytest.mark.parametrize(("field", "value", "token"), [
    ("program", r"C:\CE|Evil\x.exe", "App"),
    ("display_name", "Contact Expert - X|Action=Block", "Name"),
    ("description", "two\nlines", "Desc"),
    ("program", "C:\\CE\\tab\there.exe", "App"),
])
def test_values_the_grammar_cannot_carry_are_refused(field: str, value: str,
                                                     token: str) -> None:
    with pytest.raises(InputError) as refused:
        gpfas.rule_string(rule(**{field: value}))
    assert refused.value.path == "rule CE-X-TCP" and refused.value.where == token


def test_cli_refuses_a_pipe_in_the_program_dir(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.pol"
    status = main(["export", "--format", "registry-pol", "--example", "core-host",
                   "--program-dir", r"C:\CE|Action=Block", "-o", str(out)], io.StringIO())
    err = capsys.readouterr().err
    assert status == 2 and "rule CE-ServerAgent-TCP: App" in err and "'|'" in err
    assert "Traceback" not in err and not out.exists()


def test_rule_ids_must_be_printable_ascii() -> None:
    with pytest.raises(InputError, match="259 printable ASCII"):
        registry_pol.entries_for([rule("CE-Caf\u00e9-TCP")])


def test_binary_is_never_written_to_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    class Terminal(io.StringIO):
        buffer = io.BytesIO()

        def isatty(self) -> bool:
            return True

    status = main(["export", "--format", "registry-pol", "--example", "core-host"],
                  Terminal())
    assert status == 2 and "pass -o FILE" in capsys.readouterr().err
    assert Terminal.buffer.getvalue() == b""


def test_one_file_per_role(tmp_path: Path) -> None:
    agent = tmp_path / "agents.pol"
    assert main(["export", "--format", "registry-pol", "--example", "agent-pc", "-o",
                 str(agent)], io.StringIO()) == 0
    names = [e.value for e in registry_pol.decode(agent.read_bytes())]
    plan = make_plan(load_example("agent-pc"))
    assert names == [r.name for r in plan.rules] and names
    # The core host's file for the agent role holds none of its server rules.
    empty = tmp_path / "none.pol"
    assert main(["export", "--format", "registry-pol", "--example", "core-host",
                 "--role", "agent", "-o", str(empty)], io.StringIO()) == 0
    assert registry_pol.decode(empty.read_bytes()) == []
    both = Plan(Host(("core", "agent"), "", "", ""), (), (rule(),), ())
    with pytest.raises(CefwError, match="one role") as refused:
        registry_pol.render(both)
    assert "--role core" in refused.value.fix
    assert registry_pol.decode(registry_pol.render(both, role="core"))[0].value == "CE-X-TCP"


def test_damaged_files_are_refused_by_our_reader() -> None:
    good = registry_pol.encode(registry_pol.entries_for([rule()]))
    for bad in (b"NotPReg\x01", good[:-10], good[:8] + b"x" + good[9:]):
        with pytest.raises(InputError):
            registry_pol.decode(bad)


# -- rules delivered by Group Policy, read back ---------------------------------------

BLOCK = "v2.30|Action=Block|Active=TRUE|Dir=In|Protocol=6|LPort2_10=9900-9910|Name=No CE|"


def _planned() -> list[Rule]:
    return list(make_plan(load_example("core-host")).rules)


def _check_findings(findings: list) -> None:
    codes = [f.code for f in findings]
    blocked = [f for f in findings if f.code == "gpo-block-rule"]
    # 9900-9910 covers LicenseServer 9900 ... TelephonyConnectorServer.TSAPI 9910
    assert {f.component for f in blocked} >= {"LicenseServer", "DialerServer", "SDServer"}
    assert all(f.severity == "high" for f in blocked)
    # 8080 is not in the range; the program-bound rule for dynamic ports is (any port).
    assert not any("which CE-WebService-TCP allows" in f.message for f in blocked)
    assert any("9900-9910 inbound, which CE-WebService-TCP-dynamic" in f.message
               for f in blocked)
    assert codes.count("gpo-local-rules-ignored") == 1  # domain profile only
    assert any("TCP 9905 inbound" in f.message for f in blocked)


def test_audit_reads_group_policy_rules_from_a_reg_export(tmp_path: Path) -> None:
    path = tmp_path / "gp.reg"
    path.write_text(reg_text({
        r"SOFTWARE\Policies\Microsoft\WindowsFirewall\FirewallRules": {
            "Block-CE": ("sz", BLOCK),
            "Other": ("sz", "v2.30|Action=Block|Active=TRUE|Dir=In|Protocol=17|LPort=53|"),
            "Inactive": ("sz", BLOCK.replace("Active=TRUE", "Active=FALSE")),
            "Outbound": ("sz", BLOCK.replace("Dir=In", "Dir=Out"))},
        r"SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile": {
            "AllowLocalPolicyMerge": ("dword", 0)},
        r"SOFTWARE\Policies\Microsoft\WindowsFirewall\PublicProfile": {
            "AllowLocalPolicyMerge": ("dword", 0)}}), encoding="utf-8")
    findings = gpfas.delivered_findings(Offline([load_reg(path)]), _planned())
    _check_findings(findings)
    assert all("Block-CE" in f.message for f in findings if f.code == "gpo-block-rule")


def test_audit_reads_group_policy_rules_from_a_hive(tmp_path: Path) -> None:
    path = tmp_path / "SOFTWARE"
    path.write_bytes(build_hive({
        r"Policies\Microsoft\WindowsFirewall\FirewallRules": {"Block-CE": sz(BLOCK)},
        r"Policies\Microsoft\WindowsFirewall\DomainProfile": {
            "AllowLocalPolicyMerge": dword(0)}}))
    _check_findings(gpfas.delivered_findings(Offline([load_hive(path)]), _planned()))


def test_audit_reads_a_file_samba_wrote(tmp_path: Path) -> None:
    """An independent writer: Samba builds the Registry.pol, cefw reads it."""
    path = tmp_path / "gpo.pol"
    samba(SAMBA_WRITE, str(path), KEY, BLOCK)
    entries = registry_pol.decode(path.read_bytes())
    assert [(e.value, e.type) for e in entries] == [("Block-CE", 1),
                                                    ("AllowLocalPolicyMerge", 4)]
    policy = gpfas.parse_rule("Block-CE", registry_pol.sz(entries[0]))
    assert policy.action == "Block" and policy.local_ports == ((9900, 9910),)


def test_block_rule_scope_is_respected() -> None:
    planned = rule(remote_addresses=("198.18.0.10",))
    other_app = gpfas.parse_rule("a", BLOCK.replace("Name=", r"App=C:\Other.exe|Name="))
    assert gpfas.blocks(other_app, rule(local_ports=((9905, 9905),))) is None
    elsewhere = gpfas.parse_rule("b", BLOCK.replace("Name=", "RA4=203.0.113.0/24|Name="))
    assert gpfas.blocks(elsewhere, planned._replace(local_ports=((9905, 9905),))) is None
    keyword = gpfas.parse_rule("c", BLOCK.replace("Name=", "RA4=LocalSubnet|Name="))
    assert gpfas.blocks(keyword, planned._replace(local_ports=((9905, 9905),))) == (
        (9905, 9905),)
    public_only = gpfas.parse_rule("d", BLOCK.replace("Name=", "Profile=Public|Name="))
    assert gpfas.blocks(public_only, planned._replace(local_ports=((9905, 9905),))) is None


def test_cli_audit_reports_group_policy_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Through the command line, with the Windows Firewall model as the backend."""
    from cefw.platforms.windows import com as wincom
    from winfw_model import FwPolicy

    policy = FwPolicy()
    monkeypatch.setattr(wincom, "open_policy", lambda: policy)
    monkeypatch.setattr(wincom, "new_rule", policy.new_rule)
    monkeypatch.setattr(wincom, "is_elevated", lambda: True)
    path = tmp_path / "gp.reg"
    path.write_text(reg_text({KEY.replace("Software", "SOFTWARE"): {"Block-CE": ("sz", BLOCK)}}),
                    encoding="utf-8")
    out = io.StringIO()
    status = main(["audit", "--example", "core-host", "--registry", str(path), "--backend",
                   "windows", "--json"], out)
    report = json.loads(out.getvalue())
    assert status == 1
    assert "gpo-block-rule" in {f["code"] for f in report["findings"]}
