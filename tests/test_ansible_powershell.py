"""The Windows modules of cefw.contact_expert (win_gather.ps1, win_apply.ps1 and their
module_utils), read with an independent parser (tree-sitter's PowerShell grammar): there
is no Windows here. They parse; every NetSecurity cmdlet and every COM object creation
carries -ErrorAction Stop, each file sets $ErrorActionPreference = 'Stop' before its
first statement that does work, so a failing COM method or property write is a
terminating error; no catch swallows an error (each rethrows or fails the task); the
apply module orders creates, updates, deletes and renames before it removes; the
properties it reads are cefw's; the bundle code is the CEFirewall module's, unchanged."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from cefw.platforms.windows.values import ALL_PROPS, STRING_PROPS

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "ansible" / "ansible_collections" / "cefw" / "contact_expert" / "plugins"
FILES = [PLUGINS / "modules" / "win_gather.ps1", PLUGINS / "modules" / "win_apply.ps1",
         PLUGINS / "module_utils" / "CEFirewallCom.psm1",
         PLUGINS / "module_utils" / "CEHostBundle.psm1"]
MUST_STOP = re.compile(r"^(Get|Set|New|Remove|Open|Save|Enable|Disable|Rename)-Net|"
                       r"^(Get-FileHash|Add-Type|Move-Item|Resolve-Path|Get-ChildItem|"
                       r"Remove-Item)$", re.I)
COM_CALL = re.compile(r"\.(Add|Remove|Item)\(|\.Rules\b|\.Name\s*=|\.\$Prop\s*=|"
                      r"-ComObject", re.I)


def parse(path: Path):  # type: ignore[no-untyped-def]
    ts = pytest.importorskip("tree_sitter")
    grammar = pytest.importorskip("tree_sitter_powershell")
    source = path.read_bytes()
    return source, ts.Parser(ts.Language(grammar.language())).parse(source)


def nodes(node, kind: str):  # type: ignore[no-untyped-def]
    if node.type == kind:
        yield node
    for child in node.children:
        yield from nodes(child, kind)


def text(source: bytes, node) -> str:  # type: ignore[no-untyped-def]
    return source[node.start_byte:node.end_byte].decode("utf-8")


def commands(source: bytes, tree):  # type: ignore[no-untyped-def]
    """(name, argument tokens, node) of every command invocation."""
    for command in nodes(tree.root_node, "command"):
        name = next((c for c in command.children if c.type == "command_name"), None)
        if name is None:
            continue
        elements = next((c for c in command.children if c.type == "command_elements"), None)
        tokens = [text(source, c) for c in elements.children
                  if c.type != "command_argument_sep"] if elements else []
        yield text(source, name), tokens, command


def in_catch_that_rethrows(source: bytes, node) -> bool:  # type: ignore[no-untyped-def]
    """Inside a catch block whose last statement is `throw`: a clean-up step, whose own
    failure must not hide the error being rethrown."""
    while node is not None and node.type != "catch_clause":
        node = node.parent
    return node is not None and text(source, node).rstrip().rstrip("}").rstrip() \
        .endswith("throw")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_file_parses(path: Path) -> None:
    _, tree = parse(path)
    assert not tree.root_node.has_error, path


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_netsecurity_cmdlet_and_com_object_stops_on_error(path: Path) -> None:
    source, tree = parse(path)
    checked = set()
    for name, tokens, command in commands(source, tree):
        if name == "New-Object" and any(t.lower() == "-comobject" for t in tokens):
            name = "New-Object -ComObject"  # a COM object: creating it must stop too
        elif not MUST_STOP.search(name):
            continue
        if name.lower() == "remove-item" and in_catch_that_rethrows(source, command):
            continue  # removing a half-written file before the error goes on up
        assert any(t.lower() == "-erroraction" and tokens[i + 1].lower() == "stop"
                   for i, t in enumerate(tokens[:-1])), \
            f"{path.name}: {text(source, command)!r} does not stop on error"
        checked.add(name)
    for name, tokens, command in commands(source, tree):
        lowered = [t.lower() for t in tokens]
        if name.lower() == "remove-item" and in_catch_that_rethrows(source, command):
            continue
        assert "silentlycontinue" not in lowered or name in ("Get-ItemProperty",), \
            f"{path.name}: {name} ignores its errors"
    expected = {"win_apply.ps1": {"New-Object -ComObject"},
                "CEFirewallCom.psm1": {"New-Object -ComObject"},
                "CEHostBundle.psm1": {"Get-NetFirewallRule", "Get-NetFirewallPortFilter",
                                      "Get-NetFirewallProfile", "Get-NetFirewallSetting",
                                      "Get-NetIPAddress", "Get-FileHash"},
                "win_gather.ps1": {"Remove-Item"}}[path.name]
    assert expected <= checked, (path.name, checked)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_errors_stop_before_any_com_call(path: Path) -> None:
    """$ErrorActionPreference = 'Stop' comes before the first COM call (then a failed COM
    method call or property write is terminating, caught by the caller's try)."""
    source = path.read_text(encoding="utf-8")
    stop = source.index("$ErrorActionPreference = 'Stop'")
    first_com = min((m.start() for m in COM_CALL.finditer(source)), default=len(source))
    assert stop < first_com, path.name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_catch_swallows_an_error(path: Path) -> None:
    source, tree = parse(path)
    for clause in nodes(tree.root_node, "catch_clause"):
        body = text(source, clause)
        allowed = ("throw" in body or "FailJson" in body
                   or "return $null" in body  # Get-CEJarEntry: no jar is no version
                   or "ObjectNotFound" in body)  # no rule in the group yet, then rethrow
        assert allowed, f"{path.name}: a catch that swallows the error: {body[:200]!r}"
    assert not list(nodes(tree.root_node, "trap_statement")), path.name


def test_the_apply_module_makes_before_it_breaks() -> None:
    source = (PLUGINS / "modules" / "win_apply.ps1").read_text(encoding="utf-8")
    assert "foreach ($action in @('create', 'update', 'delete'))" in source
    remove = source[source.index("function Remove-CERule"):]
    remove = remove[:remove.index("\n}\n")]
    # renamed to a unique temporary name, then removed by that name, then checked gone
    assert remove.index("$Rule.Name = $temp") < remove.index("$script:Rules.Remove($temp)")
    assert remove.index("$script:Rules.Remove($temp)") < remove.index("Test-CENamePresent $temp")
    add = source[source.index("function Add-CERule"):]
    add = add[:add.index("\n}\n")]
    assert add.index("$new.Name = $temp") < add.index("$script:Rules.Add($new)")
    assert add.index("$script:Rules.Add($new)") < add.index("$bound.Name =")
    # a protocol change: the new rule first
    assert re.search(r"Add-CERule \$step\.values\s+Remove-CERule \$rule", source)
    # each rule re-read against what was gathered before it is touched
    assert source.count("Find-CEGatheredRule $step") == 2
    assert "Test-CERuleIs $rule $Step.expected" in source
    # a failure undoes the journal, newest first
    assert "Undo-CEJournal" in source[source.index("} catch {"):]
    assert "for ($i = $script:Journal.Count - 1; $i -ge 0; $i--)" in source


def test_the_properties_are_cefws() -> None:
    source = (PLUGINS / "module_utils" / "CEFirewallCom.psm1").read_text(encoding="utf-8")

    def listed(variable: str) -> list[str]:
        block = source[source.index(f"$script:{variable} = @("):]
        return re.findall(r"'([A-Za-z]+)'", block[:block.index(")")])

    assert listed("CERuleProps") == list(ALL_PROPS)
    assert set(listed("CEStringProps")) == set(STRING_PROPS)
    assert "$script:CEGroup = 'Contact Expert'" in source


def test_the_bundle_code_is_the_ceFirewall_modules() -> None:
    spec = importlib.util.spec_from_file_location("sync", ROOT / "ansible" / "sync_powershell.py")
    assert spec and spec.loader
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    assert sync.TARGET.read_text(encoding="utf-8") == sync.generated(), (
        "run `python ansible/sync_powershell.py`: the module_util is stale")
    assert "function Export-CEHostBundle" in sync.generated()
