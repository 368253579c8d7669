"""The action plugins of cefw.contact_expert (ansible/ansible_collections/cefw/...), run
with a faked `_execute_module`: the gather modules answer with bundles made by cefw's
own collector (Windows: a live collection of the COM model's firewall, as
Export-CEHostBundle records it), the apply modules record what they were sent.

What is checked: check mode writes nothing and returns Ansible's diff; the change set
sent to the Windows module is make-before-break with what each rule held when gathered;
once cefw's COM backend has applied the same plan, a second run changes nothing; the
guard rails and high findings stop the task before any write; zones come from the
inventory; bad bundles are refused with cefw's message."""

from __future__ import annotations

import base64
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ansible")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ansible"))

from ansible.errors import AnsibleActionFail  # noqa: E402
from ansible.playbook.task import Task  # noqa: E402
from ansible_collections.cefw.contact_expert.plugins.action.facts import (  # noqa: E402
    ActionModule as FactsAction,
)
from ansible_collections.cefw.contact_expert.plugins.action.firewall import (  # noqa: E402
    ActionModule as FirewallAction,
)

from cefw.apply.operations import converge  # noqa: E402
from cefw.apply.state import StateDir  # noqa: E402
from cefw.bundle.collect import HostFacts, collect  # noqa: E402
from cefw.examples import load_example  # noqa: E402
from cefw.plan.make import make_plan  # noqa: E402
from cefw.platforms.windows.backend import READ_PROPS, WindowsBackend  # noqa: E402
from cefw.platforms.windows.recorded import record  # noqa: E402
from cefw.platforms.windows.values import com_values  # noqa: E402
from winfw_model import FwPolicy  # noqa: E402

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SERVERS = {"ce-core-01": "198.18.1.10", "ce-core-02": "198.18.1.11"}
CLIENTS = ["198.18.2.0/24"]
GROUP = "Contact Expert"


class Shell:
    def __init__(self, family: str) -> None:
        self.SHELL_FAMILY = family
        self.tmpdir = None


class Connection:
    def __init__(self, family: str) -> None:
        self._shell = Shell(family)


class WindowsHost:
    """A CE server: the core-host example's files, Windows Firewall as the COM model."""

    def __init__(self) -> None:
        self.policy = FwPolicy()
        self.inputs = load_example("core-host")._replace(site=None)
        self.sent: list[dict[str, Any]] = []

    def backend(self) -> WindowsBackend:
        return WindowsBackend(self.policy, self.policy.new_rule, is_elevated=lambda: True)

    def bundle(self) -> bytes:
        """What Export-CEHostBundle writes on this host (the same format, cefw's code)."""
        backend = self.backend()
        return collect(self.inputs, HostFacts("ce-core-01", ("198.18.1.10",)), live=True,
                       firewall=lambda registry: record(backend, registry), now=NOW).data

    def com_rules(self) -> list[dict[str, Any]]:
        """What win_gather's Get-CEGroupRuleValue reads: every property of each rule of
        the group."""
        return [{p: getattr(r, p) for p in (*READ_PROPS, "IcmpTypesAndCodes")}
                for r in self.policy.Rules if r.Grouping == GROUP]

    def execute(self, module_name: str, module_args: dict, task_vars: dict) -> dict:
        self.sent.append({"module": module_name, "args": module_args})
        if module_name == "cefw.contact_expert.win_gather":
            return {"bundle": base64.b64encode(self.bundle()).decode(),
                    "rules": self.com_rules(), "changed": False}
        if module_name == "cefw.contact_expert.win_apply":
            return {"changed": True, "writes": [s["name"] for s in module_args["steps"]]}
        raise AssertionError(f"unexpected module {module_name}")

    def converge(self, tmp_path: Path, site: Path | None = None) -> None:
        """cefw add on this host, with cefw's own COM backend (what win_apply mirrors)."""
        plan = make_plan(self.inputs._replace(site=site))
        converge(self.backend(), plan.rules, StateDir(tmp_path / "state"), dry_run=False)

    def modules(self) -> list[str]:
        return [s["module"].rsplit(".", 1)[1] for s in self.sent]


def task_vars(**extra: Any) -> dict[str, Any]:
    hostvars = {name: {"ansible_host": address} for name, address in SERVERS.items()}
    return {"inventory_hostname": "ce-core-01", "groups": {"cefw_servers": list(SERVERS)},
            "hostvars": hostvars, "cefw_clients": CLIENTS, **extra}


def action(cls: type, host: Any, args: dict | None = None, *, check: bool = False,
           diff: bool = False, family: str = "powershell") -> Any:
    task = Task()
    task.args = dict(args or {})
    task.check_mode = check
    task.diff = diff
    plugin = cls(task, Connection(family), None, None, None, None)
    plugin._execute_module = lambda module_name=None, module_args=None, task_vars=None, \
        **_: host.execute(module_name, module_args, task_vars)
    return plugin


def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text('[zones]\nservers = ["198.18.1.10", "198.18.1.11"]\n'
                    'clients = ["198.18.2.0/24"]\n', encoding="utf-8")
    return path


@pytest.fixture
def host() -> WindowsHost:
    return WindowsHost()


def test_check_mode_returns_the_diff_and_writes_nothing(host: WindowsHost) -> None:
    result = action(FirewallAction, host, check=True, diff=True).run(task_vars=task_vars())
    assert result["changed"] is True and not result.get("failed")
    assert host.modules() == ["win_gather"]  # one round trip, no apply module
    assert result["diff"]["before"] == ""
    after = result["diff"]["after"].splitlines()
    assert len(after) == len(result["rules"]) == result["changes"]["counts"]["create"] == 27
    dialer = next(line for line in after if line.startswith("CE-DialerServer-TCP:"))
    # zones from the inventory: the servers group's ansible_host, cefw_clients
    assert "local_ports=9905" in dialer and "198.18.1.10,198.18.1.11" in dialer
    naming = next(line for line in after if line.startswith("CE-NamingService-TCP:"))
    assert "198.18.2.0/24" in naming
    assert result["bundle"]["format"] == "cefw.bundle/1"


def test_apply_sends_the_change_set_then_a_second_run_changes_nothing(
        host: WindowsHost, tmp_path: Path) -> None:
    result = action(FirewallAction, host).run(task_vars=task_vars())
    assert result["changed"] is True and host.modules() == ["win_gather", "win_apply"]
    steps = host.sent[1]["args"]["steps"]
    assert {s["action"] for s in steps} == {"create"} and len(steps) == 27
    dialer = next(s for s in steps if s["name"] == "CE-DialerServer-TCP")
    assert dialer["values"]["LocalPorts"] == "9905" and dialer["values"]["Protocol"] == 6
    assert dialer["values"]["RemoteAddresses"].startswith("198.18.1.10")
    assert dialer["values"]["Grouping"] == GROUP and "expected" not in dialer

    # cefw's COM backend applies the same plan (the zones of the inventory) ...
    host.converge(tmp_path, site_file(tmp_path))
    host.sent.clear()
    again = action(FirewallAction, host, diff=True).run(task_vars=task_vars())
    # ... and the plugin, reading the result back through the COM values, agrees.
    assert again["changed"] is False, again["changes"]
    assert host.modules() == ["win_gather"]
    assert again["diff"]["before"] == again["diff"]["after"]
    assert again["changes"]["counts"]["unchanged"] == 27


def test_a_moved_port_updates_in_place_creates_before_deletes(host: WindowsHost,
                                                             tmp_path: Path) -> None:
    host.converge(tmp_path, site_file(tmp_path))
    dialer = next(r for r in host.policy.Rules if r.Name == "CE-DialerServer-TCP")
    dialer.LocalPorts = "9915"  # the rule as the firewall holds it: another port
    host.policy.seed(Name="CE-Stale-TCP", Grouping=GROUP, Enabled=True, Protocol=6,
                     LocalPorts="1234", Profiles=3)
    ldap = next(r for r in host.policy.Rules if r.Name == "CE-ServerManager-TCP")
    host.policy.Rules.Remove(ldap.Name)

    result = action(FirewallAction, host, check=True, diff=True).run(task_vars=task_vars())
    assert result["changed"] is True and host.modules() == ["win_gather"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert "CE-DialerServer-TCP: protocol=TCP local_ports=9915" in before
    assert "CE-DialerServer-TCP: protocol=TCP local_ports=9905" in after
    assert "CE-Stale-TCP" in before and "CE-Stale-TCP" not in after

    host.sent.clear()
    action(FirewallAction, host).run(task_vars=task_vars())
    steps = host.sent[1]["args"]["steps"]
    assert [(s["action"], s["name"]) for s in steps] == [
        ("create", "CE-ServerManager-TCP"), ("update", "CE-DialerServer-TCP"),
        ("delete", "CE-Stale-TCP")]
    update = steps[1]
    assert update["props"] == ["LocalPorts"] and update["replace"] is False
    assert update["expected"]["LocalPorts"] == "9915"  # re-read on the host before writing
    assert update["values"]["LocalPorts"] == "9905"
    assert steps[2]["expected"]["Name"] == "CE-Stale-TCP"


def test_widening_is_refused_before_any_write_unless_allowed(host: WindowsHost,
                                                            tmp_path: Path) -> None:
    host.converge(tmp_path, site_file(tmp_path))
    # a play that names no zone would open every scoped rule to any address
    bare = task_vars(cefw_clients=None, groups={})
    result = action(FirewallAction, host).run(task_vars=bare)
    assert result["failed"] is True and result["changed"] is False
    assert "lets more hosts connect" in result["msg"]
    assert "allow_widening: true" in result["msg"]
    assert host.modules() == ["win_gather"]

    host.sent.clear()
    opened = action(FirewallAction, host, {"allow_widening": True,
                                           "allow_high_findings": True}).run(task_vars=bare)
    assert opened["changed"] is True and host.modules() == ["win_gather", "win_apply"]
    assert {s["action"] for s in host.sent[1]["args"]["steps"]} == {"update"}


def test_mass_removal_is_refused_and_absent_removes_everything(host: WindowsHost,
                                                              tmp_path: Path) -> None:
    host.converge(tmp_path, site_file(tmp_path))
    services = host.inputs.install_dir / "Services"  # the wrong folder: nothing found
    host.inputs = host.inputs._replace(install_dir=services)
    result = action(FirewallAction, host).run(task_vars=task_vars())
    assert result["failed"] is True and result["changed"] is False
    assert f"the plan finds no CE component in {services}" in result["msg"]
    assert "delete 27 of the 27 rule(s)" in result["msg"]
    assert "allow_removals: true" in result["msg"]
    assert host.modules() == ["win_gather"]

    host.inputs = load_example("core-host")._replace(site=None)
    host.sent.clear()
    gone = action(FirewallAction, host, {"state": "absent"}).run(task_vars=task_vars())
    steps = host.sent[1]["args"]["steps"]
    assert gone["changed"] is True and len(steps) == 27
    assert {s["action"] for s in steps} == {"delete"} and gone["rules"] == []


def test_high_findings_fail_the_task_unless_allowed(host: WindowsHost) -> None:
    host.policy.firewall_enabled[1] = False  # the domain profile is off
    result = action(FirewallAction, host).run(task_vars=task_vars())
    assert result["failed"] is True and "firewall-off" in result["msg"]
    assert "allow_high_findings: true" in result["msg"]
    assert any(f["code"] == "firewall-off" for f in result["findings"])
    assert host.modules() == ["win_gather"]

    host.sent.clear()
    allowed = action(FirewallAction, host, {"allow_high_findings": True}).run(
        task_vars=task_vars())
    assert allowed["changed"] is True and host.modules() == ["win_gather", "win_apply"]


def test_a_site_file_replaces_the_inventory_zones(host: WindowsHost, tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[zones]\nservers = ["198.18.7.1"]\nclients = []\n', encoding="utf-8")
    result = action(FirewallAction, host, {"site": str(site)}, check=True,
                    diff=True).run(task_vars=task_vars())
    assert "198.18.7.1" in result["diff"]["after"]
    assert "198.18.1.10" not in result["diff"]["after"]
    with pytest.raises(AnsibleActionFail, match="not both"):
        action(FirewallAction, host, {"site": str(site), "clients": ["198.18.2.0/24"]},
               check=True).run(task_vars=task_vars())


def test_an_inventory_host_without_an_address_is_named(host: WindowsHost) -> None:
    bad = task_vars(hostvars={"ce-core-01": {}, "ce-core-02": {}})
    with pytest.raises(AnsibleActionFail, match=r"ce-core-01.*not an IP address"):
        action(FirewallAction, host, check=True).run(task_vars=bad)


def test_a_hostile_bundle_is_refused_with_cefws_message(host: WindowsHost) -> None:
    host.bundle = lambda: b"PK\x03\x04 not really a zip"  # type: ignore[method-assign]
    with pytest.raises(AnsibleActionFail, match=r"cefw: .*zip"):
        action(FirewallAction, host, check=True).run(task_vars=task_vars())


def test_facts_hold_the_plan_findings_and_drift(host: WindowsHost) -> None:
    result = action(FactsAction, host).run(task_vars=task_vars())
    facts = result["ansible_facts"]
    assert result["changed"] is False and host.modules() == ["win_gather"]
    assert facts["cefw_plan"]["schema"] == "cefw.plan/1"
    assert len(facts["cefw_plan"]["rules"]) == 27
    assert facts["cefw_drift"]["counts"]["create"] == 27
    assert {f["code"] for f in facts["cefw_findings"]} >= {"dynamic-port"}
    assert facts["cefw_bundle"]["host"]["name"] == "ce-core-01"


class LinuxHost:
    """A Linux target: linux_gather answers with the bundle of `cefw collect`."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.rules: list[dict] = []
        self.applied: list[dict] = []

    def execute(self, module_name: str, module_args: dict, task_vars: dict) -> dict:
        self.sent.append({"module": module_name, "args": module_args})
        if module_name == "cefw.contact_expert.linux_gather":
            inputs = load_example(module_args["example"])._replace(site=None)
            data = collect(inputs, HostFacts(module_args["host_name"], ()), now=NOW).data
            return {"bundle": base64.b64encode(data).decode(), "rules": self.rules,
                    "applied": self.applied}
        if module_name == "cefw.contact_expert.linux_apply":
            return {"changed": True, "applied": True}
        raise AssertionError(module_name)


def test_linux_targets_send_the_planned_rules_to_cefws_nftables_backend() -> None:
    host = LinuxHost()
    args = {"example": "core-host", "state_dir": "/var/lib/cefw-test"}
    result = action(FirewallAction, host, args, family="sh").run(task_vars=task_vars())
    assert result["changed"] is True
    gather, apply = host.sent
    assert gather["args"]["example"] == "core-host" and "site" not in gather["args"]
    sent = apply["args"]
    names = [r["name"] for r in sent["rules"]]
    assert "CE-DialerServer-TCP" in names
    assert "CE-AgentFactory-TCP-dynamic" not in names  # nftables cannot bind a program
    assert sent["expected"] == [["create", n] for n in names]
    assert sent["guard"]["components"] > 0 and sent["state_dir"] == "/var/lib/cefw-test"
    skipped = [f for f in result["findings"] if f["code"] == "backend-cannot-enforce"]
    assert len(skipped) == 27 - len(names)


def test_the_windows_values_sent_are_cefws_com_values(host: WindowsHost) -> None:
    action(FirewallAction, host).run(task_vars=task_vars())
    plan = make_plan(host.inputs)
    steps = {s["name"]: s for s in host.sent[1]["args"]["steps"]}
    rule = next(r for r in plan.rules if r.name == "CE-WebService-TCP")
    values = com_values(rule)
    sent = steps["CE-WebService-TCP"]["values"]
    assert {k: v for k, v in sent.items() if k != "RemoteAddresses"} == \
        {k: v for k, v in values.items() if k != "RemoteAddresses"}


def test_linux_putting_back_what_cefw_wrote_is_not_refused_as_widening() -> None:
    host = LinuxHost()
    args = {"example": "core-host"}
    action(FirewallAction, host, args, family="sh").run(task_vars=task_vars())
    from cefw.model import Rule
    from cefw.platforms.nftables.backend import NftablesBackend

    # what the table holds once cefw's nftables backend wrote them, as it reads them back
    written = [NftablesBackend().normalise(Rule.from_json(r)).to_json()
               for r in host.sent[1]["args"]["rules"]]
    narrowed = [dict(r, remote_addresses=["198.18.1.10"])
                if r["name"] == "CE-DialerServer-TCP" else r for r in written]
    host.rules, host.sent = narrowed, []  # someone narrowed a rule by hand
    refused = action(FirewallAction, host, args, family="sh").run(task_vars=task_vars())
    assert refused["failed"] is True and "CE-DialerServer-TCP" in refused["msg"]
    assert [s["module"] for s in host.sent] == ["cefw.contact_expert.linux_gather"]

    host.applied, host.sent = written, []  # ... but cefw's last add wrote the wider rule
    again = action(FirewallAction, host, args, family="sh").run(task_vars=task_vars())
    assert again["changed"] is True and not again.get("failed")
    assert host.sent[1]["args"]["expected"] == [["update", "CE-DialerServer-TCP"]]


def test_the_readme_inventory_and_playbook_use_documented_options() -> None:
    import re

    import yaml

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Ansible (`cefw.contact_expert`)"):]
    section = section[:section.index("\n## ", 1)]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    inventory, playbook = blocks
    assert "cefw_servers" in inventory["all"]["children"]
    assert inventory["all"]["vars"]["cefw_clients"]
    modules = ROOT / "ansible" / "ansible_collections" / "cefw" / "contact_expert" / \
        "plugins" / "modules"
    used = 0
    for task in playbook[0]["tasks"]:
        name = next(k for k in task if k.startswith("cefw.contact_expert."))
        doc = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""',
                                       (modules / f"{name.rsplit('.', 1)[1]}.py").read_text(),
                                       re.S).group(1))
        assert set(task[name] or {}) <= set(doc["options"]), name
        used += 1
    assert used == 2
