# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
"""cefw.contact_expert.facts: the host's plan, findings and drift as facts (reads only).
DOCUMENTATION: plugins/modules/facts.py."""

from __future__ import annotations

from ansible_collections.cefw.contact_expert.plugins.plugin_utils import planning
from ansible_collections.cefw.contact_expert.plugins.plugin_utils.gather import (
    INPUT_SPEC,
    GatherAction,
)


class ActionModule(GatherAction):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=INPUT_SPEC)[1]
        gathered = self.gather(args, task_vars)
        planned = self.plan(args, gathered, task_vars)
        store = self.store(gathered)
        decision = planning.decide(planned.plan, store)
        findings = planning.findings_of(planned, decision)
        result.update(changed=False, ansible_facts={
            "cefw_plan": planned.plan.to_json(),
            "cefw_findings": findings,
            "cefw_drift": planning.changes_json(decision),
            "cefw_bundle": {k: planned.manifest[k]
                            for k in ("format", "collected", "created_by", "host")},
        })
        return result
