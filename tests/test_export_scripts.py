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
    assert table_values(script, "Profile") == ["Domain,Private"] * 2 + ["Any"] + [
        "Domain,Private"] * 3


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


# -- every NetSecurity call stops on error (issue 8, Windows fidelity 1) ---------------------

# The NetSecurity cmdlets are CDXML functions in a script module, which do not see the
# calling script's $ErrorActionPreference (PowerShell/PowerShell#4568, #24389): each call
# must say -ErrorAction itself.
NETSECURITY = re.compile(r"(?i)^[a-z]+-(NetFirewall\w*|NetIPsec\w*|NetGPO)$")


def _commands(node, source: bytes):  # type: ignore[no-untyped-def]
    """(name, [(parameter, following argument text)]) of every command in the tree."""
    if node.type == "command":
        name_node = next((c for c in node.children if c.type == "command_name"), None)
        elements = next((c for c in node.children if c.type == "command_elements"), None)
        params: list[tuple[str, str]] = []
        if elements is not None:
            items = [c for c in elements.children if c.type != "command_argument_sep"]
            for i, item in enumerate(items):
                if item.type == "command_parameter":
                    following = items[i + 1] if i + 1 < len(items) else None
                    value = (source[following.start_byte:following.end_byte].decode()
                             if following is not None and following.type != "command_parameter"
                             else "")
                    params.append((source[item.start_byte:item.end_byte].decode().lower(),
                                   value))
        if name_node is not None:
            yield source[name_node.start_byte:name_node.end_byte].decode(), params
    for child in node.children:
        yield from _commands(child, source)


def _stops_on_error(params: list[tuple[str, str]]) -> bool:
    """-ErrorAction Stop; or SilentlyContinue with -ErrorVariable (a lookup whose only
    tolerated error is "not found", checked by Assert-OnlyNotFound right after)."""
    action = dict(params).get("-erroraction", "").strip("'\"").lower()
    return action == "stop" or (action == "silentlycontinue"
                                and "-errorvariable" in dict(params))


def netsecurity_calls(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    parser = _parser()
    source = text.encode("utf-8")
    tree = parser.parse(source)
    assert not tree.root_node.has_error
    return [(n, p) for n, p in _commands(tree.root_node, source) if NETSECURITY.match(n)]


@pytest.mark.parametrize("store", [None, "CORP\\CE"])
def test_every_netsecurity_call_in_the_export_stops_on_error(store: str | None) -> None:
    script = powershell.script(rules(), policy_store=store, restart_note=True)
    calls = netsecurity_calls(script)
    names = {n for n, _ in calls}
    assert {"Get-NetFirewallRule", "New-NetFirewallRule", "Set-NetFirewallRule",
            "Remove-NetFirewallRule"} <= names
    if store:
        assert {"Open-NetGPO", "Save-NetGPO"} <= names
    for name, params in calls:
        assert _stops_on_error(params), (name, params)
    # Each tolerant lookup is followed by the check that lets only "not found" through.
    assert script.count("-ErrorVariable failures") == script.count(
        "Assert-OnlyNotFound $failures") == 2
    assert "throw $failure" in script
    # A failed Open-NetGPO stops before anything else: it is the first NetSecurity call
    # and runs before the rule table and the logic.
    if store:
        assert calls[0][0] == "Open-NetGPO"
        assert script.index("Open-NetGPO") < script.index("$rules = @(")
    assert "$PSDefaultParameterValues['*-NetFirewall*:ErrorAction'] = 'Stop'" in script


def test_the_module_stops_on_error_and_calls_netsecurity_safely() -> None:
    psm1 = (MODULE / "CEFirewall.psm1").read_text(encoding="utf-8")
    for name, params in netsecurity_calls(psm1):  # none today: it runs cefw
        assert _stops_on_error(params), (name, params)
    assert "$ErrorActionPreference = 'Stop'" in psm1
    # ...except around cefw itself, whose warnings on stderr must not end the call under
    # 5.1's redirected hosts: its exit status decides (checked right after).
    call = psm1.index("& $program @prefix $Verb @Arguments")
    assert psm1.rindex("$ErrorActionPreference = 'Continue'", 0, call) > psm1.rindex(
        "function Invoke-Cefw", 0, call)
    assert psm1.index("$status = $LASTEXITCODE") > call


def test_a_rule_with_some_profiles_names_them_without_blanks() -> None:
    """-Profile: "Separate multiple entries with a comma and do not include any spaces"."""
    script = powershell.script(rules(), restart_note=False)
    assert "'Domain,Private'" in script and "Domain, Private" not in script


# -- the module passes paths intact on Windows PowerShell 5.1 (issue 8, fidelity 3) -----------

def argv_from_command_line(line: str) -> list[str]:
    """How a C/C++ program (python.exe included) splits its command line: "Parsing C++
    command-line arguments" (learn.microsoft.com/cpp/cpp/main-function-command-line-args):
    2n backslashes before a double quote give n backslashes and the quote delimits; 2n+1
    give n backslashes and a literal quote; other backslashes are literal."""
    args: list[str] = []
    current, quoted, i, started = [], False, 0, False
    while i < len(line):
        char = line[i]
        if char == "\\":
            run = len(line[i:]) - len(line[i:].lstrip("\\"))
            if i + run < len(line) and line[i + run] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    i += run + 1
                else:
                    i += run
                started = True
                continue
            current.append("\\" * run)
            i += run
            started = True
            continue
        if char == '"':
            quoted, started = not quoted, True
        elif char in " \t" and not quoted:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
        i += 1
    if started:
        args.append("".join(current))
    return args


def ps51_command_line(args: list[str]) -> str:
    """Windows PowerShell 5.1 builds a native command line by wrapping an argument that
    holds a blank in double quotes, as it is (PowerShell/PowerShell#4358; fixed in 6.0 by
    pull request #4965)."""
    return " ".join(f'"{a}"' if (" " in a or "\t" in a) else a for a in args)


def module_native_argument(value: str, major: int) -> str:
    """ConvertTo-NativeArgument of CEFirewall.psm1, with the module's own regexes (.NET
    and Python read these two patterns alike)."""
    psm1 = (MODULE / "CEFirewall.psm1").read_text(encoding="utf-8")
    body = psm1[psm1.index("function ConvertTo-NativeArgument"):]
    body = body[: body.index("\n}\n")]
    condition = re.search(r"if \(\$Major -lt 6 -and \$Value -match '([^']+)' -and "
                          r"\$Value -match '([^']+)'\) \{\s*return \$Value \+ \$Matches\[1\]",
                          body)
    assert condition, "ConvertTo-NativeArgument changed shape: update this test"
    blank, trailing = (p.replace("\\t", "\t") if p == "[ \\t]" else p
                       for p in condition.groups())
    match = re.search(trailing, value)
    if major < 6 and re.search(blank, value) and match:
        return value + match.group(1)
    return value


@pytest.mark.parametrize("path", [
    "C:\\Program Files (x86)\\Geomant\\Contact Expert\\",
    "D:\\CE copy\\\\",
    "C:\\Program Files (x86)\\Geomant\\Contact Expert",
    "C:\\NoBlank\\",
    "E:\\",
])
def test_module_passes_a_path_with_a_trailing_backslash_intact(path: str) -> None:
    argument = "--install-dir=" + path
    broken = argv_from_command_line(ps51_command_line(["add", argument]))
    if " " in path and path.endswith("\\"):  # the bug the module works around
        assert broken[1] != argument
    fixed = module_native_argument(argument, major=5)
    assert argv_from_command_line(ps51_command_line(["add", fixed, "--dry-run"])) == [
        "add", argument, "--dry-run"]
    # PowerShell 6+ escapes by itself: the module leaves the argument alone there.
    assert module_native_argument(argument, major=7) == argument
    psm1 = (MODULE / "CEFirewall.psm1").read_text(encoding="utf-8")
    assert psm1.count("ConvertTo-NativeArgument (") == 2  # options and each --registry
