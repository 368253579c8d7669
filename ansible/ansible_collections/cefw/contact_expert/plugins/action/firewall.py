# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
"""cefw.contact_expert.firewall: gather, plan on the controller, show the diff, apply
only the change set. DOCUMENTATION: plugins/modules/firewall.py."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.cefw.contact_expert.plugins.plugin_utils import planning
from ansible_collections.cefw.contact_expert.plugins.plugin_utils.gather import (
    COLLECTION,
    INPUT_SPEC,
    GatherAction,
)

SPEC = {
    **INPUT_SPEC,
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "allow_removals": {"type": "bool", "default": False},
    "allow_widening": {"type": "bool", "default": False},
    "allow_high_findings": {"type": "bool", "default": False},
}


class ActionModule(GatherAction):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=SPEC)[1]
        host = task_vars.get("inventory_hostname", "host")
        present = args["state"] == "present"

        gathered = self.gather(args, task_vars)
        planned = self.plan(args, gathered, task_vars)
        store = self.store(gathered)
        decision = planning.decide(planned.plan, store, present=present,
                                   allow_removals=args["allow_removals"],
                                   allow_widening=args["allow_widening"])
        findings = planning.findings_of(planned, decision,
                                        self._store_findings(planned, decision, gathered))
        result.update({
            "changed": bool(decision.changes),
            "rules": [r.name for r in decision.desired],
            "changes": planning.changes_json(decision),
            "findings": findings,
            "host": planned.plan.host.to_json(),
            "bundle": {k: planned.manifest[k] for k in ("format", "collected", "created_by")},
        })
        if self._task.diff:
            result["diff"] = planning.diff_of(store, decision, host)
        if decision.refused:
            result.update(changed=False, failed=True,
                          msg=f"nothing was changed: {planning.refusal_message(decision.refused)}")
            return result
        severe = planning.high(findings) if present else []
        if severe and not args["allow_high_findings"]:
            codes = ", ".join(sorted({f["code"] for f in severe}))
            result.update(changed=False, failed=True, msg=(
                f"nothing was changed: {len(severe)} high finding(s) ({codes}); see "
                "`findings`. Fix them, or set allow_high_findings: true to apply anyway"))
            return result
        if self._task.check_mode or not decision.changes:
            return result
        applied = self._apply(args, planned, store, decision, task_vars)
        result["changed"] = bool(applied.get("changed"))
        result["applied"] = {k: v for k, v in applied.items()
                             if k not in ("invocation", "_ansible_no_log")}
        return result

    def _store_findings(self, planned, decision, gathered):
        """What the host's firewall does to the rules (firewall off, inbound blocked,
        Group Policy override), from the bundle's record on Windows. On Linux the apply
        module returns them (`applied.findings`: another table dropping CE traffic)."""
        del gathered
        if not self.is_windows() or planned.firewall is None:
            return []
        from cefw.platforms.windows.recorded import RecordedBackend

        recorded = RecordedBackend(planned.firewall, "firewall recorded in the bundle")
        return recorded.store_findings(decision.desired)

    def _apply(self, args, planned, store, decision, task_vars):
        host = task_vars.get("inventory_hostname", "host")
        if self.is_windows():
            module = f"{COLLECTION}.win_apply"
            module_args = {"steps": planning.windows_steps(store, decision)}
        else:
            module = f"{COLLECTION}.linux_apply"
            guard = planning.guard(planned.plan, args["allow_removals"], args["allow_widening"])
            module_args = {
                "rules": [r.to_json() for r in decision.desired],
                "expected": [[c.action, c.name] for c in decision.changes.changes],
                "guard": None if args["state"] == "absent" else {
                    "found": guard.found, "components": guard.components,
                    "allow_removals": guard.allow_removals,
                    "allow_widening": guard.allow_widening},
            }
            if args.get("state_dir"):
                module_args["state_dir"] = args["state_dir"]
        applied = self._execute_module(module_name=module, module_args=module_args,
                                       task_vars=task_vars)
        if applied.get("failed"):
            raise AnsibleActionFail(f"{host}: applying the change set failed: "
                                    f"{applied.get('msg', applied)}", result=applied)
        return applied
