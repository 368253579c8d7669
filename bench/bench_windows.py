"""Store operations of `cefw add` on Windows Firewall, counted on the model of the COM API
(tests/winfw_model.py) holding 5,000 foreign rules, with a plan of 40 CE rules.

Run by hand:  .venv/bin/python bench/bench_windows.py

Printed next to it: a one-lookup-per-rule tool (what scripts built on
`Get-NetFirewallRule -DisplayName X` or a COM name search per rule do): one enumeration
of the whole store per planned rule. Target for cefw: one enumeration per run, writes
only for what changes, zero writes on an unchanged re-run. The figures are operation
counts, not times: the model answers in microseconds where Windows answers in RPCs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cefw.apply.operations import audit, converge
from cefw.apply.state import StateDir
from cefw.model import GROUP, Rule
from cefw.platforms.windows.backend import WindowsBackend
from cefw.platforms.windows.values import com_values
from winfw_model import FwPolicy, add_foreign

CE = r"C:\Program Files (x86)\Geomant\Contact Expert"
FOREIGN = 5000
PLANNED = 40


def plan(port_shift: int = 0) -> list[Rule]:
    rules = []
    for i in range(PLANNED):
        port = 9000 + i + (port_shift if i == 7 else 0)
        name = f"Component{i:02d}"
        rules.append(Rule(
            name=f"CE-{name}-TCP", display_name=f"{GROUP} - {name} (TCP {port})",
            protocol="TCP", local_ports=((port, port),),
            program=rf"{CE}\Servers\{name}\{name}.exe",
            remote_addresses=("10.0.1.10", "10.0.1.11", "10.20.0.0/16"),
            profiles=("domain", "private"), components=(name,)))
    return rules


def windows(policy: FwPolicy) -> WindowsBackend:
    return WindowsBackend(policy, policy.new_rule, is_elevated=lambda: True,
                          null_bstr=policy.null_bstr)


def cefw_add(policy: FwPolicy, rules: list[Rule], state: StateDir) -> dict[str, object]:
    """What `cefw add` does: the host report (what audit knows, rules outside the group
    included), then the change under the lock."""
    policy.reset_counters()
    started = time.perf_counter()
    windows(policy).store_findings(rules)
    outcome = converge(windows(policy), rules, state, dry_run=False)
    counts: dict[str, object] = dict(policy.counters())
    counts["changes"] = outcome.changes.summary()
    counts["model ms"] = round((time.perf_counter() - started) * 1000, 1)
    return counts


def per_rule_lookup(policy: FwPolicy, rules: list[Rule]) -> dict[str, object]:
    """One enumeration per planned rule to find it by name, then create or rewrite it."""
    policy.reset_counters()
    for rule in rules:
        found = None
        for obj in policy.Rules:  # a full pass: names are not unique, so no early stop
            if obj.Name == rule.name and obj.Grouping == GROUP:
                found = obj
        values = com_values(rule)
        if found is None:
            new = policy.new_rule()
            for prop, value in values.items():
                if value is not None and not (prop == "LocalPorts" and value == "*"):
                    setattr(new, prop, value)
            policy.Rules.Add(new)
        else:  # such tools set every property again, changed or not
            for prop, value in values.items():
                if value is not None:
                    setattr(found, prop, value)
    counts: dict[str, object] = dict(policy.counters())
    counts["changes"] = "-"
    counts["model ms"] = "-"
    return counts


def main() -> None:
    base = FwPolicy()
    add_foreign(base, FOREIGN)
    rows: list[tuple[str, dict[str, object]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        state = StateDir(Path(tmp))
        store = base.clone()
        rows.append(("cefw add, first run (group empty)", cefw_add(store, plan(), state)))
        rows.append(("cefw add, unchanged re-run", cefw_add(store, plan(), state)))
        rows.append(("cefw add, one port changed", cefw_add(store, plan(5), state)))
        store.reset_counters()
        audit(windows(store), plan(5), [])
        rows.append(("cefw audit, in sync", {**store.counters(), "changes": "-",
                                             "model ms": "-"}))
        store.reset_counters()
        converge(windows(store), [], state, dry_run=False)
        rows.append(("cefw remove, 40 rules", {**store.counters(), "changes": "40 deletes",
                                               "model ms": "-"}))
        older = base.clone()
        for rule in plan():  # 40 CE rules already there, written by another tool
            older.seed(**{**com_values(rule), "Description": "Contact Expert rule"})
        rows.append(("cefw add, 40 CE rules by another tool", cefw_add(older, plan(), state)))
        naive = base.clone()
        rows.append(("per-rule lookup, first run", per_rule_lookup(naive, plan())))
        rows.append(("per-rule lookup, re-run", per_rule_lookup(naive, plan())))

    print(f"Windows Firewall model: {FOREIGN} foreign rules, plan of {PLANNED} CE rules\n")
    keys = ["enumerations", "reads", "lookups", "writes", "model ms"]
    print(f"{'run':40} " + " ".join(f"{k:>12}" for k in keys) + "  changes")
    for label, counts in rows:
        print(f"{label:40} " + " ".join(f"{counts[k]!s:>12}" for k in keys)
              + f"  {counts['changes']}")
    print("\nreads: property gets on stored rules; lookups: Rules.Item(name); writes: "
          "Rules.Add, Rules.Remove and property sets on stored rules.")


if __name__ == "__main__":
    main()
