"""`cefw export --format powershell|netsh`: golden files, and proof that no fragment of a
hostile value from a config file ever lands outside a quoted literal.

Set CEFW_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change (then
review the diff)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cefw.model import ANY, Rule
from cefw.platforms.windows import netsh, powershell
from cefw.platforms.windows.values import description_text

GOLDEN = Path(__file__).parent / "golden"
MODULE = Path(__file__).parent.parent / "powershell" / "CEFirewall"
CE = r"C:\Program Files (x86)\Geomant\Contact Expert"

# Every trick at once: quotes of both kinds, the Unicode quote PowerShell also ends a
# string with, a statement separator, subexpression, backticks, a cmd variable, a newline.
HOSTILE = ("C:\\CE\\O'Brien \"x\"; calc & $(calc) `whoami` %PATH% \u2019quote\n"
           "line2 #> <#\\Dialer.exe")
HOSTILE_FRAGMENTS = ["O'Brien", '"x"', "; calc", "$(calc)", "`whoami`", "%PATH%",
                     "\u2019quote", "line2", "#> <#", "whoami", "calc"]
# Quotable for cmd (no ", no control character, ASCII) but full of metacharacters.
NASTY = r"C:\Apps & Tools\100% sure;$(calc)\`tick`\it's (x86)!\agent.exe"
NASTY_FRAGMENTS = ["& Tools", "100%", ";$(calc)", "`tick`", "it's", "(x86)!"]
# What netsh must leave out entirely: the values it cannot quote.
NETSH_ABSENT = ["O'Brien", '"x"', "; calc &", "`whoami`", "%PATH%", "\u2019quote", "line2",
                "#> <#", 'Bad"Name', "start calc"]


def rules() -> list[Rule]:
    def rule(name: str, component: str, program: str, ports=((9905, 9905),),
             remote: tuple[str, ...] = ("10.0.1.10", "10.20.0.0/16"),
             profiles: tuple[str, ...] = ("domain", "private"), display: str = "") -> Rule:
        return Rule(name=name, display_name=display or f"Contact Expert - {component}",
                    protocol="TCP", local_ports=ports, program=program,
                    remote_addresses=remote, profiles=profiles, components=(component,))

    return [
        rule("CE-DialerServer-TCP", "DialerServer",
             rf"{CE}\Servers\DialerServer\DialerServer.exe"),
        rule("CE-Hostile-TCP", "Hostile", HOSTILE, ports=((9000, 9000), (9100, 9199)),
             display="Contact Expert - Hostile ('quoted')"),
        rule("CE-Nasty-TCP", "Nasty", NASTY, remote=(ANY,),
             profiles=("domain", "private", "public")),
        rule("CE-EmailServer-TCP-dynamic", "EmailServer",
             rf"{CE}\Servers\EmailServer\EmailServer.exe", ports=()),
        rule("CE-Evil'; Remove-Item C:\\ -Recurse; '", "Evil", rf"{CE}\Evil.exe"),
        rule('CE-Bad"Name & start calc', "Bad", rf"{CE}\Bad.exe"),
    ]


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CEFW_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="ascii", newline="\n")
    assert text == path.read_text(encoding="ascii"), f"{name} differs from the golden file"


# -- a small PowerShell lexer: what is code, what is data -----------------------------------

PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def split_ps(text: str) -> tuple[str, list[str]]:
    """(everything that is not the inside of a single-quoted literal, with each literal
    replaced by ''; the literals' values). Comments count as outside: no configuration
    value may appear in a comment either. Double-quoted strings count as code, since
    PowerShell expands them."""
    outside: list[str] = []
    literals: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in PS_QUOTES:
            value, i = _read_literal(text, i + 1)
            literals.append(value)
            outside.append("''")
            continue
        if text.startswith("<#", i):  # block comment: kept as outside text
            end = text.index("#>", i) + 2
            outside.append(text[i:end])
            i = end
            continue
        if char == "#":  # line comment
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            outside.append(text[i:end])
            i = end
            continue
        outside.append(char)
        i += 1
    return "".join(outside), literals


def _read_literal(text: str, i: int) -> tuple[str, int]:
    value: list[str] = []
    while True:
        char = text[i]
        if char in PS_QUOTES:
            if i + 1 < len(text) and text[i + 1] in PS_QUOTES:  # '' is one quote
                value.append(char)
                i += 2
                continue
            return "".join(value), i + 1
        value.append(char)
        i += 1


def ps_value(expression: str) -> str:
    """The value of what powershell.quote() writes: 'a' + [char]0x000A + 'b'."""
    expression = expression.strip()
    if expression.startswith("(") and expression.endswith(")"):
        expression = expression[1:-1]
    out, i = [], 0
    while i < len(expression):
        if expression[i] in PS_QUOTES:
            value, i = _read_literal(expression, i + 1)
            out.append(value)
        elif expression.startswith("[char]0x", i):
            match = re.match(r"\[char\]0x([0-9A-F]{4})", expression[i:])
            assert match
            out.append(chr(int(match.group(1), 16)))
            i += match.end()
        elif expression.startswith("[char]::ConvertFromUtf32(0x", i):
            match = re.match(r"\[char\]::ConvertFromUtf32\(0x([0-9A-F]+)\)", expression[i:])
            assert match
            out.append(chr(int(match.group(1), 16)))
            i += match.end()
        elif expression.startswith(" + ", i):
            i += 3
        else:
            raise AssertionError(f"not a quoted value: {expression[i:]!r}")
    return "".join(out)


def table_raw(script: str, key: str) -> list[str]:
    """The expressions of `key` in the $rules table (the data part of the script)."""
    start = script.index("$rules = @(\n")
    table = script[start: script.index("\n)\n", start)]
    return re.findall(rf"^        {key} +=\s(.+)$", table, re.MULTILINE)


def table_values(script: str, key: str) -> list[str]:
    return [ps_value(raw) for raw in table_raw(script, key)]


# -- PowerShell ------------------------------------------------------------------------------

@pytest.mark.parametrize("store, name", [(None, "export-hostile.ps1"),
                                         ("CORP\\CE 'Servers' $(calc)", "export-hostile-gpo.ps1")])
def test_powershell_golden(store: str | None, name: str) -> None:
    golden(name, powershell.script(rules(), policy_store=store, restart_note=True))


@pytest.mark.parametrize("store", [None, "CORP\\CE 'Servers' $(calc)"])
def test_powershell_hostile_values_stay_inside_literals(store: str | None) -> None:
    script = powershell.script(rules(), policy_store=store, restart_note=True)
    assert script.isascii()  # means the same in any encoding
    outside, literals = split_ps(script)
    for fragment in [*HOSTILE_FRAGMENTS, *NASTY_FRAGMENTS, "Remove-Item", 'Bad"Name']:
        assert fragment not in outside, f"{fragment!r} outside a single-quoted literal"
    assert "Remove-Item C:\\ -Recurse" in "".join(literals)  # the name, as data
    programs = table_values(script, "Program")
    assert programs[1] == HOSTILE and programs[2] == NASTY  # data survives exactly


def test_powershell_writes_what_cefw_compares() -> None:
    """A rule created by the script reads back through COM as cefw's own: same Name and
    DisplayName, the same Description text, the group."""
    script = powershell.script(rules(), restart_note=False)
    assert table_values(script, "Name") == [r.name for r in rules()]
    assert table_values(script, "Description") == [description_text(r) for r in rules()]
    assert "-Name $rule.Name -DisplayName $rule.Name" not in script  # splatted instead
    assert "@{ Name = $rule.Name; DisplayName = $rule.Name; Group = $group }" in script
    assert "$group = 'Contact Expert'" in script
    assert table_raw(script, "LocalPort")[:4] == ["@('9905')", "@('9000', '9100-9199')",
                                                  "@('9905')", "'Any'"]  # dynamic: any port
    assert table_raw(script, "RemoteAddress")[1:3] == ["@('10.0.1.10', '10.20.0.0/16')",
                                                       "'Any'"]
    assert table_values(script, "Profile") == ["Domain, Private"] * 2 + ["Any"] + [
        "Domain, Private"] * 3


def test_powershell_converges_by_group_make_before_break() -> None:
    script = powershell.script(rules(), restart_note=False)
    refuse = script.index("exists outside the group")
    create = script.index("New-NetFirewallRule @identity")
    remove = script.index("Remove-NetFirewallRule")
    assert refuse < create < remove
    assert "Where-Object { $_.Group -ceq $group -and $planned -notcontains $_.Name }" in script
    assert "$ErrorActionPreference = 'Stop'" in script
    assert script.startswith("#Requires -Version 5.1\n#Requires -RunAsAdministrator")
    assert "Write-Warning" not in script  # no restart note asked for


def test_powershell_policy_store_is_one_session_for_every_cmdlet() -> None:
    script = powershell.script(rules(), policy_store="CORP\\CE", restart_note=False)
    assert script.count("Open-NetGPO") == 1 and script.count("Save-NetGPO") == 1
    assert script.index("Open-NetGPO") < script.index("$rules = @(") < script.index(
        "Save-NetGPO")
    assert "$store = @{ GPOSession = $session }" in script
    calls = re.findall(r"^\s*(?:\$\w+ = )?@?\(?((?:Get|Set|New|Remove)-NetFirewallRule.*)$",
                       script, re.MULTILINE)
    assert len(calls) == 5 and all("@store" in call for call in calls)
    local = powershell.script(rules(), restart_note=False)
    assert "Open-NetGPO" not in local and "$store = @{}" in local


def test_powershell_quote() -> None:
    assert powershell.quote("plain") == "'plain'"
    assert powershell.quote("it's") == "'it''s'"
    assert powershell.quote("") == "''"
    assert powershell.quote("\u2019") == "('' + [char]0x2019)"
    assert powershell.quote("a\nb") == "('a' + [char]0x000A + 'b')"
    assert powershell.quote("\U0001F600") == "('' + [char]::ConvertFromUtf32(0x1F600))"
    for text in (HOSTILE, NASTY, "\u2018\u2019\u201a\u201b'", "x\x00y\x7f", "é€ü"):
        assert ps_value(powershell.quote(text)) == text


def test_powershell_empty_plan_removes_the_group() -> None:
    script = powershell.script([], restart_note=False)
    assert "$rules = @(\n)" in script and "Remove-NetFirewallRule" in script


def _parser():  # type: ignore[no-untyped-def]
    ts = pytest.importorskip("tree_sitter")
    grammar = pytest.importorskip("tree_sitter_powershell")
    return ts.Parser(ts.Language(grammar.language()))


def _string_spans(node) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    spans = []
    if node.type == "verbatim_string_characters":
        spans.append((node.start_byte, node.end_byte))
    for child in node.children:
        spans += _string_spans(child)
    return spans


@pytest.mark.parametrize("store", [None, "CORP\\CE"])
def test_powershell_parses_and_fragments_sit_in_verbatim_strings(store: str | None) -> None:
    """An independent parser (tree-sitter's PowerShell grammar) agrees: no syntax error,
    and every hostile fragment lies inside a verbatim (single-quoted) string."""
    parser = _parser()
    script = powershell.script(rules(), policy_store=store, restart_note=True)
    tree = parser.parse(script.encode("ascii"))
    assert not tree.root_node.has_error
    spans = _string_spans(tree.root_node)
    for fragment in ["; calc", "$(calc)", "`whoami`", "%PATH%", "line2", "Remove-Item",
                     'Bad"Name & start calc']:
        for match in re.finditer(re.escape(fragment), script):
            assert any(a <= match.start() and match.end() <= b for a, b in spans), fragment


def test_powershell_module_parses_and_maps_whatif() -> None:
    parser = _parser()
    psm1 = (MODULE / "CEFirewall.psm1").read_text(encoding="utf-8")
    psd1 = (MODULE / "CEFirewall.psd1").read_text(encoding="utf-8")
    for text in (psm1, psd1):
        assert not parser.parse(text.encode("utf-8")).root_node.has_error
    exported = re.search(r"FunctionsToExport\s*=\s*@\(([^)]*)\)", psd1)
    assert exported and re.findall(r"'([^']+)'", exported.group(1)) == [
        "Add-CEFirewallRules", "Remove-CEFirewallRules", "Export-CEHostBundle"]
    for function, verb in (("Add-CEFirewallRules", "add"), ("Remove-CEFirewallRules", "remove")):
        body = psm1[psm1.index(f"function {function}"):]
        body = body[: body.index("\n}\n")]
        assert "SupportsShouldProcess = $true" in body
        assert f"Invoke-Cefw -Verb '{verb}' -Arguments ($arguments + '--dry-run')" in body
        assert "if ($WhatIfPreference)" in body and "$PSCmdlet.ShouldProcess(" in body
    assert "$status = $LASTEXITCODE" in psm1 and "throw $record" in psm1


# -- netsh -----------------------------------------------------------------------------------

def test_netsh_golden() -> None:
    golden("export-hostile.cmd", netsh.script(rules(), restart_note=True))


def test_netsh_leaves_out_what_it_cannot_quote_without_a_trace_of_it() -> None:
    script = netsh.script(rules(), restart_note=True)
    assert script.isascii()
    for fragment in NETSH_ABSENT:
        assert fragment not in script, fragment
    assert "rem LEFT OUT: rule CE-Hostile-TCP: its program path holds a double quote" in script
    # A name that cannot be quoted is named by its position, never by its value.
    assert "rem LEFT OUT: rule number 6: its name holds a double quote" in script
    assert "cefw export --format powershell" in script


def test_netsh_quotes_what_it_writes() -> None:
    script = netsh.script(rules(), restart_note=True)
    assert script.startswith("@echo off\nsetlocal DisableDelayedExpansion\n")
    for line in script.splitlines():
        if line.lower().startswith("rem") or not line.strip():
            continue
        assert line.count('"') % 2 == 0, line
        outside = line.split('"')[::2]
        inside = line.split('"')[1::2]
        for fragment in [*NASTY_FRAGMENTS, "Remove-Item", "-Recurse"]:
            assert not any(fragment in part for part in outside), (fragment, line)
        for part in inside:  # cmd would expand a single %: every one is doubled
            assert re.fullmatch(r"(?:[^%]|%%)*", part), part
    assert 'program="' + NASTY.replace("%", "%%") + '"' in script
    adds = [line for line in script.splitlines() if " add rule " in line]
    assert len(adds) == 4 and all(line.endswith("|| goto :failed") for line in adds)
    deletes = [line for line in script.splitlines() if " delete rule " in line]
    assert [d.split('"')[1] for d in deletes] == [a.split('"')[1] for a in adds]
    assert all(d.split('"')[1].startswith("CE-") for d in deletes)  # never name=all


def test_netsh_says_it_relies_on_the_name_prefix() -> None:
    script = netsh.script([], restart_note=False)
    assert 'rule name prefix "CE-" alone' in script and "no rule groups" in script
    assert "restart" not in script


@pytest.mark.parametrize("value, why", [
    ("C:\\a\"b.exe", "double quote"), ("C:\\a\rb.exe", "control character"),
    ("C:\\a\tb.exe", "control character"), ("C:\\Közpönt\\a.exe", "outside ASCII"),
    ("C:\\dir\\", "backslash"),
])
def test_netsh_refuses_each_unquotable_value(value: str, why: str) -> None:
    rule = rules()[0]._replace(program=value)
    script = netsh.script([rule], restart_note=False)
    assert why in script and value not in script and " add rule " not in script
