#!/usr/bin/python
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
"""Apply a planned rule set with cefw's nftables backend (run by the firewall action
plugin, not by playbooks)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: linux_apply
short_description: Apply cefw's planned rules with its nftables backend (used by the firewall action)
version_added: "0.1.0"
description:
  - Makes the table C(inet contact_expert) hold exactly the rules given, as C(cefw add) does
    (lock, snapshot, one transaction, all or nothing), with cefw's nftables backend on the
    target.
  - Refuses, changing nothing, when the change set it finds differs from the one the
    controller planned (the firewall changed since it was gathered), and when cefw add's
    guard rails would (mass removal, widening).
  - Called by M(cefw.contact_expert.firewall); playbooks use that.
options:
  rules:
    description: The planned rules, as cefw's Rule JSON (empty to remove every rule).
    type: list
    elements: dict
    required: true
  expected:
    description: The change set the controller planned, as C([action, rule name]) pairs.
    type: list
    elements: list
    required: true
  guard:
    description:
      - The guard rails of C(cefw add) (C(found), C(components), C(allow_removals),
        C(allow_widening)); null for a removal (C(state=absent)).
    type: dict
  state_dir:
    description: Where cefw keeps its lock, snapshots and the last applied rules.
    type: str
author:
  - cefw maintainers (@cefw)
requirements:
  - cefw (pip install cefw) on the target
  - nftables, root
"""

EXAMPLES = r"""
# Not called by playbooks: cefw.contact_expert.firewall runs it with the planned rules.
- name: Remove every rule of the table inet contact_expert
  cefw.contact_expert.linux_apply:
    rules: []
    expected: []
"""

RETURN = r"""
applied:
  description: Whether anything was written.
  returned: success
  type: bool
snapshot:
  description: The snapshot of the rules before the change (cefw restore --snapshot).
  returned: changed
  type: str
outcome:
  description: cefw's outcome JSON (schema cefw.outcome/1).
  returned: success
  type: dict
findings:
  description: What the host's ruleset does to the rules (other tables dropping CE traffic).
  returned: success
  type: list
  elements: dict
"""

import traceback
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import cefw  # noqa: F401 pylint: disable=unused-import
except ImportError:
    CEFW_IMPORT_ERROR = traceback.format_exc()
else:
    CEFW_IMPORT_ERROR = None


def main():
    module = AnsibleModule(
        argument_spec={
            "rules": {"type": "list", "elements": "dict", "required": True},
            "expected": {"type": "list", "elements": "list", "required": True},
            "guard": {"type": "dict"},
            "state_dir": {"type": "str"},
        },
        supports_check_mode=False,
    )
    if CEFW_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("cefw (pip install cefw)"),
                         exception=CEFW_IMPORT_ERROR)
    from cefw.apply.operations import Guard, converge
    from cefw.apply.reconcile import changes_for
    from cefw.apply.state import StateDir
    from cefw.apply.store import split
    from cefw.errors import CefwError
    from cefw.model import Rule
    from cefw.platforms.nftables.backend import NftablesBackend

    params = module.params
    try:
        rules = [Rule.from_json(r) for r in params["rules"]]
    except (KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg=f"rules: not cefw's Rule JSON ({exc})")
    backend = NftablesBackend()
    state = StateDir(Path(params["state_dir"]) if params["state_dir"] else None)
    guard = None
    if params["guard"] is not None:
        g = params["guard"]
        guard = Guard(str(g["found"]), int(g["components"]), bool(g["allow_removals"]),
                      bool(g["allow_widening"]))
    try:
        backend.check_ready(write=True)
        found = [[c.action, c.name] for c in
                 changes_for(backend, split(rules, backend)[0]).changes]
        if found != [list(e) for e in params["expected"]]:
            module.fail_json(msg=(
                "nothing was changed: the nftables table changed since it was gathered "
                f"(planned {params['expected']}, now {found}); run the play again"))
        outcome = converge(backend, rules, state, dry_run=False, guard=guard,
                           command="add" if guard is not None else "remove")
        findings = [f.to_json() for f in backend.store_findings(split(rules, backend)[0])]
    except CefwError as exc:
        module.fail_json(msg=exc.render() if hasattr(exc, "render") else str(exc))
    module.exit_json(changed=outcome.applied, applied=outcome.applied,
                     snapshot=str(outcome.snapshot) if outcome.snapshot else None,
                     outcome=outcome.to_json(), findings=findings)


if __name__ == "__main__":
    main()
