#!/usr/bin/python
# Copyright: cefw maintainers
# MIT License (see LICENSE in the cefw repository)
# The work is done by the action plugin of the same name (plugins/action/firewall.py) and
# the modules it runs on the target: this file is its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall
short_description: Least-privilege firewall rules for a Contact Expert host, planned by cefw
version_added: "0.1.0"
description:
  - Gathers the host in one round trip (Windows, a PowerShell module writing the bundle of
    C(cefw collect) and reading the group C(Contact Expert) through the Windows Firewall
    COM API; Linux, cefw's collector and nftables backend on the target), plans on the
    controller with cefw's library, and changes only what differs from the plan.
  - In check mode it returns the change set and, with C(--diff), the rule set before and
    after, and writes nothing.
  - The guard rails of C(cefw add) hold, checked before anything is written. A change that
    deletes rules while the plan finds no CE component, or deletes more than half of the
    group, is refused unless I(allow_removals); an update that lets more hosts connect is
    refused unless I(allow_widening).
  - High findings (a port cefw cannot scope, a zone nobody named, the firewall off...)
    fail the task before anything is written unless I(allow_high_findings).
  - Windows, creates and updates before deletes; a rule is renamed to a unique temporary
    name before it is removed (names are not unique); each rule is re-read before it is
    touched and the task stops, changing nothing more, if it differs from what was
    gathered; a failure undoes every earlier write of the task.
  - Linux, C(cefw add) on the target with the planned rules (lock, snapshot, one nftables
    transaction).
options:
  state:
    description:
      - C(present), the group holds exactly the plan's rules. C(absent), every rule of
        cefw's group is removed (C(cefw remove), no guard rail).
    type: str
    choices: [present, absent]
    default: present
  allow_removals:
    description: Let a change delete rules where cefw add would refuse (C(--allow-removals)).
    type: bool
    default: false
  allow_widening:
    description: Let an update open a rule to more hosts (C(--allow-widening)).
    type: bool
    default: false
  allow_high_findings:
    description: Apply even when the plan has high findings (they are still returned).
    type: bool
    default: false
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
    description: Check mode gathers and plans, returns the change set and writes nothing.
    support: full
  diff_mode:
    description: The rule set before and after, one rule a line.
    support: full
  platform:
    description: Windows (PowerShell 5.1) and Linux (nftables) targets.
    support: full
    platforms: [windows, posix]
author:
  - cefw maintainers (@cefw)
requirements:
  - cefw (pip install cefw) on the controller
  - Linux targets, cefw importable by the target's Python, nftables, root
  - Windows targets, Windows PowerShell 5.1 (nothing installed)
notes:
  - The Windows modules are parsed and checked in cefw's tests (every NetSecurity cmdlet and
    COM call stops on error); they have not been run on Windows by cefw's CI.
seealso:
  - module: cefw.contact_expert.facts
"""

EXAMPLES = r"""
- name: CE servers hold exactly the rules cefw plans
  cefw.contact_expert.firewall:
    state: present

- name: Zones from a site file on the controller instead of the inventory
  cefw.contact_expert.firewall:
    site: files/site.toml

- name: A Linux host holding a copy of the CE install folder
  cefw.contact_expert.firewall:
    install_dir: /srv/ce-copy
    registry: [/srv/ce-copy.reg]
    clients: [198.18.2.0/24]

- name: Remove every rule of cefw's group
  cefw.contact_expert.firewall:
    state: absent
"""

RETURN = r"""
changed:
  description: Whether a rule was written (never in check mode).
  returned: always
  type: bool
rules:
  description: The names of the rules the group holds when the plan is applied.
  returned: always
  type: list
  elements: str
changes:
  description: The change set (cefw's change JSON, C(changes), C(unchanged), C(counts)).
  returned: always
  type: dict
findings:
  description: The plan's findings and the host firewall's, each C(code), C(severity), C(component), C(message).
  returned: always
  type: list
  elements: dict
host:
  description: What the plan found (roles, install folder, program folder, components).
  returned: always
  type: dict
bundle:
  description: The gathered bundle's format, collection time and writer.
  returned: always
  type: dict
applied:
  description: The apply module's result (Linux, cefw's outcome and snapshot; Windows, the writes).
  returned: changed
  type: dict
"""
