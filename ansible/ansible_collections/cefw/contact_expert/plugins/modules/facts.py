#!/usr/bin/python
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
# The work is done by the action plugin of the same name (plugins/action/facts.py).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: facts
short_description: The Contact Expert host's cefw plan and findings as facts
version_added: "0.1.0"
description:
  - Gathers the host as M(cefw.contact_expert.firewall) does, plans on the controller, and
    sets the plan, its findings and the drift of the firewall from it as facts. Changes
    nothing.
options:
  site:
    description:
      - A cefw site file on the controller (C([zones]), C([rules]), C([host])). When given,
        the zones come from it alone; I(servers), I(clients) and the inventory are not used.
    type: path
  servers:
    description:
      - The servers zone (addresses or networks). Default the address of each host in the
        group I(servers_group) (its C(cefw_address), else C(ansible_host), else its name).
    type: list
    elements: str
  clients:
    description:
      - The clients zone (agent, operator and administrator PCs). Default the
        C(cefw_clients) variable; when neither is set the zone is not known (rules open to
        any address, with a finding).
    type: list
    elements: str
  servers_group:
    description: The inventory group whose hosts are the CE servers.
    type: str
    default: cefw_servers
  profiles:
    description: The Windows profiles the rules apply in (default cefw's, domain and private).
    type: list
    elements: str
    choices: [domain, private, public]
  program_dir:
    description: The Windows folder CE is installed in, for the rules' programs.
    type: str
  install_dir:
    description:
      - The CE install folder on the target. Windows default as cefw finds it (the service
        running ServerAgent.exe, else the vendor's folder). Linux targets hold a copy.
    type: str
  registry:
    description: Linux targets only, C(.reg) exports of the CE host's registry, on the target.
    type: list
    elements: str
    default: []
  hive:
    description: Linux targets only, an offline SOFTWARE hive file, on the target.
    type: str
  channels:
    description: The recording channels exported from CE Web Admin, a file on the target.
    type: str
  example:
    description: Linux targets only, a bundled example host of cefw (C(core-host), ...).
    type: str
  state_dir:
    description: Linux targets only, where cefw keeps its lock, snapshots and last applied rules.
    type: str
attributes:
  check_mode:
    description: The module only reads; it runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  facts:
    description: Sets cefw_plan, cefw_findings, cefw_drift and cefw_bundle.
    support: full
  platform:
    description: Windows (PowerShell 5.1) and Linux (nftables) targets.
    support: full
    platforms: [windows, posix]
author:
  - cefw maintainers (@cefw)
requirements:
  - cefw (pip install cefw) on the controller
seealso:
  - module: cefw.contact_expert.firewall
"""

EXAMPLES = r"""
- name: Plan each CE host
  cefw.contact_expert.facts:

- name: Show the high findings
  ansible.builtin.debug:
    msg: "{{ cefw_findings | selectattr('severity', 'equalto', 'high') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts set.
  returned: always
  type: complex
  contains:
    cefw_plan:
      description: The plan (schema cefw.plan/1, docs/plan-json.md of cefw).
      returned: always
      type: dict
    cefw_findings:
      description: The plan's findings, each C(code), C(severity), C(component), C(message).
      returned: always
      type: list
      elements: dict
    cefw_drift:
      description: What the firewall's group lacks or holds beyond the plan (cefw's change JSON).
      returned: always
      type: dict
    cefw_bundle:
      description: The gathered bundle's format, time, writer and host.
      returned: always
      type: dict
"""
