"""Export-CEHostBundle (powershell/CEFirewall) writes the format `cefw collect` writes.

There is no Windows PowerShell here, so the module is read with an independent parser
(tree-sitter's PowerShell grammar): it parses; every NetSecurity / NetTCPIP cmdlet (and
every other cmdlet the collector relies on) stops at the first error; it uses no COM;
and the member names, manifest keys, registry keys, firewall record keys and limits it
writes are the Python collector's (string literals and hash keys taken from the parse
tree, compared with cefw.bundle.layout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cefw.bundle import layout as L
from cefw.model import GROUP
from cefw.platforms.windows.values import MANAGED_PROPS

MODULE = Path(__file__).resolve().parents[1] / "powershell" / "CEFirewall"
PSM1 = (MODULE / "CEFirewall.psm1").read_bytes()
PSD1 = (MODULE / "CEFirewall.psd1").read_text(encoding="utf-8")
# Cmdlets whose failure must stop the collector (besides $ErrorActionPreference = 'Stop').
MUST_STOP = re.compile(r"^(Get|Set|New|Remove|Open|Save)-Net|^(Get-FileHash|Add-Type|"
                       r"Move-Item|Resolve-Path|Get-ChildItem)$", re.I)


@pytest.fixture(scope="module")
def tree():  # type: ignore[no-untyped-def]
    ts = pytest.importorskip("tree_sitter")
    grammar = pytest.importorskip("tree_sitter_powershell")
    return ts.Parser(ts.Language(grammar.language())).parse(PSM1)


def text(node) -> str:  # type: ignore[no-untyped-def]
    return PSM1[node.start_byte:node.end_byte].decode("utf-8")


def nodes(node, kind: str):  # type: ignore[no-untyped-def]
    if node.type == kind:
        yield node
    for child in node.children:
        yield from nodes(child, kind)


def in_part(tree, kind: str) -> list:  # type: ignore[no-untyped-def]
    """The nodes of `kind` from the Export-CEHostBundle section on."""
    start = PSM1.index(b"# -- Export-CEHostBundle")
    return [n for n in nodes(tree.root_node, kind) if n.start_byte >= start]


def literals(tree) -> set[str]:  # type: ignore[no-untyped-def]
    found = set()
    for node in in_part(tree, "verbatim_string_characters"):
        found.add(text(node)[1:-1].replace("''", "'"))
    return found


def hash_keys(node) -> list[str]:  # type: ignore[no-untyped-def]
    """The keys of one hash literal, in order (not those of hash literals inside it)."""
    body = next((c for c in node.children if c.type == "hash_literal_body"), None)
    if body is None:
        return []
    return [text(key) for entry in body.children if entry.type == "hash_entry"
            for key in entry.children if key.type == "key_expression"]


def test_the_module_parses_and_exports_the_collector(tree) -> None:  # type: ignore[no-untyped-def]
    assert not tree.root_node.has_error
    assert b"function Export-CEHostBundle" in PSM1
    assert "'Export-CEHostBundle'" in PSD1
    assert b"'Export-CEHostBundle'\n" in PSM1  # Export-ModuleMember
    version = re.search(r"ModuleVersion\s*=\s*'([^']+)'", PSD1)
    assert version and f"$script:BundleScriptVersion = '{version.group(1)}'".encode() in PSM1


def test_every_netsecurity_call_stops_on_error(tree) -> None:  # type: ignore[no-untyped-def]
    checked = set()
    for command in in_part(tree, "command"):
        name_node = next((c for c in command.children if c.type == "command_name"), None)
        if name_node is None or not MUST_STOP.search(text(name_node)):
            continue
        elements = next((c for c in command.children if c.type == "command_elements"), None)
        tokens = [text(c) for c in elements.children if c.type != "command_argument_sep"] \
            if elements else []
        assert any(t.lower() == "-erroraction" and tokens[i + 1].lower() == "stop"
                   for i, t in enumerate(tokens[:-1])), f"{text(command)!r} does not stop"
        checked.add(text(name_node))
    assert {"Get-NetFirewallRule", "Get-NetFirewallPortFilter", "Get-NetFirewallAddressFilter",
            "Get-NetFirewallApplicationFilter", "Get-NetFirewallProfile",
            "Get-NetFirewallSetting", "Get-NetIPAddress", "Get-FileHash"} <= checked
    body = PSM1[PSM1.index(b"function Export-CEHostBundle"):]
    assert b"$ErrorActionPreference = 'Stop'" in body
    assert b"-ComObject" not in PSM1[PSM1.index(b"# -- Export-CEHostBundle"):]


def test_member_names_and_registry_keys_are_the_python_collectors(tree) -> None:  # type: ignore[no-untyped-def]
    found = literals(tree)
    both, policy = L.registry_keys()
    expected = {L.FORMAT, L.MANIFEST, L.PROGRAMS, L.REGISTRY, L.FIREWALL, L.INSTALL, L.JAR,
                L.CHANNELS, L.JAR_FILE, L.JAR_ENTRY, L.WEBAPPS, L.PROGRAM_SUFFIX,
                L.ORIGIN_COMMENT, GROUP, *L.CONFIG_FILES, *L.HEAD_ONLY, *both, *policy}
    assert expected - found == set()
    # the ordered list of configuration files, as the Python collector reads them
    listed = re.search(rb"\$script:BundleConfigFiles = @\((.*?)\n\)", PSM1, re.S)
    assert listed and re.findall(r"'([^']+)'", listed.group(1).decode()) == list(L.CONFIG_FILES)


def test_limits_are_the_python_collectors() -> None:
    def number(variable: str) -> int:
        found = re.search(rf"\$script:{variable} = (\d+)".encode(), PSM1)
        assert found, variable
        return int(found.group(1))

    assert number("BundleMaxMember") == L.MAX_MEMBER_SIZE
    assert number("BundleMaxJarEntry") == L.MAX_JAR_ENTRY
    head = re.search(rb"\$script:BundleHeadOnly = @\{ '([^']+)' = (\d+) \}", PSM1)
    assert head and {head.group(1).decode(): int(head.group(2))} == L.HEAD_ONLY


def test_manifest_and_record_keys_are_the_python_collectors(tree) -> None:  # type: ignore[no-untyped-def]
    hashes = [hash_keys(n) for n in in_part(tree, "hash_literal_expression")]
    assert list(L.MANIFEST_KEYS) in hashes  # the manifest, in the same order
    for keys in (L.CREATED_BY_KEYS, L.HOST_KEYS, L.COLLECTED_FROM_KEYS, L.FIREWALL_KEYS,
                 L.MEMBER_KEYS, L.FIREWALL_DOC_KEYS, L.PROFILE_STATE_KEYS, L.ORIGIN_KEYS):
        assert list(keys) in hashes, keys
    rules = [k for k in hashes if "ApplicationName" in k]
    assert len(rules) == 1 and set(rules[0]) == set(MANAGED_PROPS)
    known = {*L.MANIFEST_KEYS, *L.CREATED_BY_KEYS, *L.HOST_KEYS, *L.COLLECTED_FROM_KEYS,
             *L.FIREWALL_KEYS, *L.MEMBER_KEYS, *L.FIREWALL_DOC_KEYS, *L.PROFILE_STATE_KEYS,
             *L.ORIGIN_KEYS, *MANAGED_PROPS, *(f"'{k}'" for k in L.HEAD_ONLY)}
    assert {k for keys in hashes for k in keys} - known == set()


def test_the_registry_text_matches_the_python_writer() -> None:
    """The header, comment prefix and value syntax Export-CEHostBundle writes are those
    of registry/regwrite.py and bundle/collect.py."""
    from cefw.registry.regwrite import HEADER

    source = PSM1.decode("utf-8")
    assert f"$lines.Add('{HEADER}')" in source
    assert "'[HKEY_LOCAL_MACHINE\\' + $RawKey + ']'" in source
    for syntax in ("'dword:{0:x8}'", "'hex(2):'", "'hex(7):'", "'hex(b):'", "'hex:'",
                   "'hex(1):'", "'@='"):
        assert syntax in source, syntax
    assert "'live registry, {0}-bit view ({1})'" in source  # = registry.live's origins
    assert "@(0xFF, 0xFE)" in source and "[Text.Encoding]::Unicode" in source  # UTF-16LE
